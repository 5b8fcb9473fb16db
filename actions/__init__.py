"""Rasa custom actions, run by the app's action webhook (gateway/action_webhook.py).

Actions stay thin: they read the tracker, call knowledge/workorders/hotline and speak.
"""
