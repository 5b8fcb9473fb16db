"""Accounts for programs that drive a stack they started themselves (benchmarks, the test
harness): a new account whose random password is never shown, and a bearer token for it."""

from __future__ import annotations

import secrets
from datetime import timedelta

from accounts import tokens, users
from hotline import db


def service_token(
    url: str, role: str = "operator", department: str | None = None, minutes: int = 240
) -> str:
    """A bearer token of a new `role` account in the database at `url`."""
    db.upgrade(url)
    name = f"svc-{role}-{secrets.token_hex(4)}"
    users.add_user(url, name, role, secrets.token_urlsafe(24), department)
    user = users.find(url, name)
    if user is None:  # just added and active
        raise RuntimeError(f"account {name} vanished")
    secret, _ = tokens.issue(url, user, "bearer", timedelta(minutes=minutes))
    return secret
