"""The connector's one-validator check of action server responses (bot/hotline_connector.py)
accepts and refuses exactly what Rasa's own check does, with Rasa's error message: a broken
action server response must still stop the turn, not slip through faster."""

from __future__ import annotations

from tests.bot.rasa_env import run_in_rasa

# Runs inside Rasa's environment: import the connector as the server does, then check responses.
_SCRIPT = r"""
import json, sys
import jsonschema
import hotline_connector  # noqa: F401  (patches RemoteAction on import, as the server loads it)
from rasa.core.actions.action import RemoteAction

cases = json.loads(sys.stdin.read())
action = RemoteAction.__new__(RemoteAction)  # the check reads no instance state
out = {"patched": bool(getattr(RemoteAction, "_hotline_one_validator", False)), "results": []}
for case in cases:
    try:
        jsonschema.validate(case, RemoteAction.action_response_format_spec())
        rasa_ok = True
    except jsonschema.ValidationError:
        rasa_ok = False
    try:
        ours = action._validate_action_result(case)
        message = ""
    except jsonschema.ValidationError as e:
        ours, message = False, e.message
    out["results"].append({"rasa": rasa_ok, "ours": ours, "message": message})
print(json.dumps(out))
"""

CASES = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "category", "value": "噪音"}],
        "responses": [{"text": "好"}],
    },
    {"events": [{"event": "active_loop", "name": None}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [{"name": "category", "value": "x"}], "responses": []},  # an event without a type
    {"events": [], "responses": ["text, not an object"]},
    {"events": [{"event": "no_such_event"}]},
]

# Each event is checked against its own type's schema only: these must get Rasa's verdicts too.
BY_TYPE = [
    {
        "events": [
            {
                "event": "user",
                "text": "你好",
                "parse_data": {"intent": {"name": "greet", "confidence": 1.0}},
            },
            {
                "event": "bot",
                "text": "请选择",
                "data": {"buttons": [{"title": "是", "payload": "/affirm"}]},
            },
            {"event": "followup", "name": "action_listen", "timestamp": None},
            {"event": "slot", "name": "wo_phone", "value": {"nested": [1, 2]}},
        ],
        "responses": [{"text": "好的", "buttons": []}],
    },
    {"events": ["not an object"], "responses": []},
    {"events": [{"event": "slot", "name": 3, "value": "x"}], "responses": []},
    {"events": [{"event": "user", "parse_data": {"intent": {"confidence": "high"}}}]},
    {"events": [{"event": "slot", "name": "a", "value": 1}, {"event": "user", "text": 5}]},
]


def test_responses_are_accepted_and_refused_as_rasa_does_with_its_message() -> None:
    out = run_in_rasa(_SCRIPT, CASES)
    assert out["patched"]
    verdicts = [(r["rasa"], r["ours"]) for r in out["results"]]
    assert verdicts == [(r["rasa"], r["rasa"]) for r in out["results"]]
    assert [r["ours"] for r in out["results"]] == [True, True, True, False, False, False, False]
    for r in out["results"][3:]:
        assert "Failed to validate Action server response" in r["message"]


def test_events_checked_by_their_own_type_get_rasas_verdicts() -> None:
    out = run_in_rasa(_SCRIPT, BY_TYPE)
    verdicts = [(r["rasa"], r["ours"]) for r in out["results"]]
    assert verdicts == [(r["rasa"], r["rasa"]) for r in out["results"]]
    assert out["results"][0]["ours"] is True
    assert not any(r["ours"] for r in out["results"][1:])  # each has one bad event
