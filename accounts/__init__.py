"""Accounts: users and roles, password hashing, tokens and sessions, sign-in throttling, audit."""
