"""Prometheus metrics of the app (served as text at /metrics)."""

from prometheus_client import Counter, Histogram

CHAT_TURNS = Counter(
    "hotline_chat_turns_total",
    "Citizen turns handled, by channel and outcome",
    ["channel", "outcome"],
)
CHAT_TURN_SECONDS = Histogram(
    "hotline_chat_turn_seconds",
    "Time from receiving a turn to replying (Rasa included)",
    buckets=(0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8),
)
ACTION_CALLS = Counter(
    "hotline_action_calls_total",
    "Rasa custom action calls, by action and outcome",
    ["action", "outcome"],
)
