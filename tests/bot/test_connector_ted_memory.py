"""TED's answers kept per dialogue state (bot/hotline_connector.py, _remember_ted_predictions):
with the trained bot loaded in Rasa's environment, conversations rolled forward from every
intent get exactly the prediction TED's network gives, while the network runs once per distinct
state; a caller changing a returned prediction (Rasa's ensemble zeroes a rejected action in
place) does not change the kept one."""

from __future__ import annotations

from hotline import bot
from hotline.settings import Settings
from tests.bot.rasa_env import run_in_rasa

_SCRIPT = r"""
import json, sys
import hotline_connector as connector
from rasa.core.agent import Agent
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

args = json.load(sys.stdin)
agent = Agent.load(args["model"])
domain = agent.domain
ted = next(node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
           if isinstance(node._component, TEDPolicy))
remembered = TEDPolicy.predict_action_probabilities
network = ted.model.run_inference
runs = []
def counted(*a, **k):
    runs.append(1)
    return network(*a, **k)
ted.model.run_inference = counted

trackers = []
for first in domain.intents[:10]:
    for second in ("thank", "consult", "affirm"):
        events = [ActionExecuted(ACTION_LISTEN_NAME)]
        for intent in (first, second):
            events.append(UserUttered("...", intent={"name": intent, "confidence": 1.0}))
            # roll forward two actions as TED itself would choose them
            for _ in range(2):
                tracker = DialogueStateTracker.from_events("s", list(events), domain.slots)
                trackers.append(tracker)
                prediction = remembered(ted, tracker, domain)
                best = max(range(len(prediction.probabilities)),
                           key=prediction.probabilities.__getitem__)
                action = domain.action_names_or_texts[best]
                events.append(ActionExecuted(action))
                if action == ACTION_LISTEN_NAME:
                    break

ted.__dict__.pop("_hotline_predictions", None)
runs.clear()
same, differ = 0, 0
for tracker in trackers:
    kept = remembered(ted, tracker, domain).probabilities
    again = remembered(ted, tracker, domain)
    again.probabilities[0] = 123.0  # as the ensemble does to a rejected action
    fresh = TEDPolicy._hotline_predict_unremembered(ted, tracker, domain).probabilities
    same += kept == fresh and remembered(ted, tracker, domain).probabilities == fresh
    differ += kept != fresh
network_runs_remembered = len(runs) - len(trackers)  # the fresh ones above ran it each time
keys = {connector._ted_states_key(ted, t, domain, None) for t in trackers}
print(json.dumps({"trackers": len(trackers), "same": same, "differ": differ,
                  "distinct": len(keys), "network_runs": network_runs_remembered}))
"""


def test_ted_runs_once_per_dialogue_state_and_predicts_as_without_memory() -> None:
    model = bot.train(Settings())
    out = run_in_rasa(_SCRIPT, {"model": str(model)})
    assert out["trackers"] >= 40
    assert out["differ"] == 0 and out["same"] == out["trackers"]
    # conversations share states (that is the point), and each distinct one ran the network once
    assert out["distinct"] < out["trackers"]
    assert out["network_runs"] == out["distinct"]
