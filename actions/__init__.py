"""Rasa custom actions, run by the app's action webhook (gateway/action_webhook.py).

Thin adapters over the triage layer: they read the tracker, ask triage/ what to do, render the
decision and return events. No classifiers or policies live here.
"""
