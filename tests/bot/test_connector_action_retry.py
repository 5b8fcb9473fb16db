"""Which custom action calls the hotline connector sends again (bot/hotline_connector.py): one
no replica answered (refused, a balancer's 502) is retried and, answered at last, runs as
usual; one that failed otherwise (an action's 500, the app's 503 when its database is away, a 400
rejection) or the rating is not; and
an action never answered marks the turn, which the connector answers with a 503. Against a
small action server in Rasa's environment that answers each call with the status it is told
(tests/faults/test_action_replica_kill.py kills real replicas)."""

from __future__ import annotations

from tests.bot.rasa_env import run_in_rasa

_SCRIPT = r"""
import asyncio, json, sys
from aiohttp import web
import hotline_connector as connector
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

connector.ACTION_RETRY_DELAYS = (0, 0, 0)  # read at each call: no pauses here
MARK = getattr(connector, "_unanswered_action", None)  # None: a connector that does not mark
ANSWER = {"events": [{"event": "slot", "name": "last_order", "value": "20260101-0001"}],
          "responses": []}

async def case(name, statuses, marked_before=None):
    left, calls = list(statuses), []
    async def handle(request):
        calls.append(1)
        status = left.pop(0) if left else 200
        if status == 200:
            return web.json_response(ANSWER)
        if status == 400:
            return web.json_response({"error": "no", "action_name": name}, status=400)
        return web.json_response({"error": "down"}, status=status)
    app = web.Application()
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    domain = Domain.empty()
    action = RemoteAction(name, EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
    tracker = DialogueStateTracker.from_events("s", [])
    if MARK:
        MARK.set(marked_before)
    try:
        events = await action.run(CollectingOutputChannel(),
                                  TemplatedNaturalLanguageGenerator({}), tracker, domain)
        outcome = [type(e).__name__ for e in events]
    except Exception as error:
        outcome = type(error).__name__
    await runner.cleanup()
    return {"calls": len(calls), "outcome": outcome, "marked": MARK and MARK.get()}

async def refused():
    action = RemoteAction("action_submit_work_order",
                          EndpointConfig("http://127.0.0.1:9/webhook"))  # nobody listens
    if MARK:
        MARK.set(None)
    try:
        await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}),
                         DialogueStateTracker.from_events("s", []), Domain.empty())
    except Exception as error:
        return {"outcome": type(error).__name__, "marked": MARK and MARK.get()}

async def saves():
    # how many of two saves reach the store: one in a plain turn, one in a marked turn
    stored = []
    class Processor:
        async def save_tracker(self, tracker):
            stored.append(tracker)
    processor = Processor()
    connector._remember_saved_trackers(processor)
    tracker = DialogueStateTracker.from_events("s", [])
    for mark in (None, "action_submit_work_order"):
        MARK.set(mark)
        await processor.save_tracker(tracker)
    return len(stored)

async def main():
    cases = json.loads(sys.stdin.read())
    out = {name: await case(*spec) for name, spec in cases.items()}
    out["refused"] = await refused()
    out["saves"] = await saves()
    print(json.dumps(out))

asyncio.run(main())
"""

SUBMIT = "action_submit_work_order"
CASES = {
    "502 then answered": (SUBMIT, [502]),
    "502 twice, then answered": (SUBMIT, [502, 502]),
    "never answered": (SUBMIT, [502, 502, 502, 502]),
    "an action's error": (SUBMIT, [500]),
    "database away": (SUBMIT, [503]),
    "rejected": ("validate_work_order_form", [400]),
    "the rating": ("action_store_rating", [502]),
    # the turn already lost an action: a later one (the form's next step) is not waited for
    "after an unanswered one": ("action_triage", [502, 502], SUBMIT),
}


def test_unanswered_action_calls_are_sent_again_and_others_are_not() -> None:
    out = run_in_rasa(_SCRIPT, CASES)
    assert out["502 then answered"] == {"calls": 2, "outcome": ["SlotSet"], "marked": None}
    assert out["502 twice, then answered"]["calls"] == 3
    assert out["502 twice, then answered"]["outcome"] == ["SlotSet"]
    assert out["never answered"] == {"calls": 4, "outcome": "RasaException", "marked": SUBMIT}
    assert out["an action's error"] == {"calls": 1, "outcome": "RasaException", "marked": None}
    assert out["database away"] == {"calls": 1, "outcome": "RasaException", "marked": None}
    assert out["rejected"] == {"calls": 1, "outcome": "ActionExecutionRejection", "marked": None}
    assert out["the rating"] == {"calls": 1, "outcome": "RasaException", "marked": None}
    assert out["refused"] == {"outcome": "RasaException", "marked": SUBMIT}
    assert out["after an unanswered one"]["calls"] == 1
    # a turn whose action was never answered is not stored: sent again, it is handled anew
    assert out["saves"] == 1
