"""The one place that decides what happens to a citizen's message, on every channel.

`Triage.decide(text, context)` returns one typed decision (triage/decisions.py). The rules
apply in this order, each for a reason a citizen would notice:

1. a clarification button or option picked: that entry's answer; the 登记工单 button: an order
   draft whose form asks what happened;
2. an emergency (what is happening, triage/emergency.py): the number to call comes first;
3. anger or abuse again (an earlier message of the conversation was angry or abusive), or
   once with a request for a person: a handoff (reason anger or abuse); insults with nothing
   else to act on, the first time: a calm request to say what happened;
4. a request for a person, or a lone 0 pressed on the phone: a handoff; "none of these"
   after entries were offered: an order draft about the question before it;
5. an order number, or words only about the citizen's own earlier request: a status query
   (unless it is a question the knowledge base answers for sure);
6. the hotline's own hours: the hours;
7. a grievance or a request for action (triage/wording.py): an order draft, with the routing
   preview and, when the knowledge base is sure of a relevant answer, that answer as guidance;
8. otherwise the knowledge base decides: answer, clarify (the top candidates), or abstain, with
   near entries as suggestions; the second misunderstanding in a row is a handoff.

The NLU's intent is not an input: the same words get the same decision on chat, REST and the
phone, and a confident knowledge-base hit is never overruled by an NLU out_of_scope or fallback.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hotline.numbers import canonical_order_number
from hotline.zh import normalise_text
from knowledge.regions import answers_for, city_named
from knowledge.schema import Entry
from knowledge.service import KnowledgeService, SearchOutcome
from triage import wording
from triage.decisions import (
    AboutBot,
    Abstain,
    AbstainReason,
    Answer,
    Calm,
    Clarify,
    Decision,
    Emergency,
    Handoff,
    HandoffReason,
    OrderDraft,
    ServiceHours,
    StatusQuery,
)
from triage.grievance import EXAMPLE_WEIGHT, GrievanceModel, load_examples
from workorders.citizen_view import kind_of
from workorders.config import default_config
from workorders.emergency import recognise as recognise_emergency
from workorders.routing import Routing

log = logging.getLogger(__name__)

CANDIDATES = 3  # entries offered in a clarification (buttons on chat, numbers on the phone)
MISSES_FOR_HANDOFF = 2  # the second misunderstanding in a row hands over to a person
MIN_WHAT_CHARS = 6  # a first message this long says what happened: the form does not ask it
_ORDER_NUMBER = re.compile(r"(?<!\d)(20\d{6})-?(\d{4})(?!\d)")
# A message that is a phone number and little else (我电话是15071234568).
_ONLY_A_PHONE = re.compile(r"^\D{0,6}(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)[。！!，,\s]*$")

Propose = Callable[[str, str | None], Routing | None]


def _said(entry: Entry) -> str:
    """All an entry says: the cities it speaks of answer for themselves (knowledge/regions.py)."""
    return " ".join([*entry.phrasings(), entry.answer])


@dataclass(frozen=True)
class Context:
    """What the channel knows about the conversation when the message arrives."""

    channel: str = "api"  # web | wechat | voice | api
    topic: str | None = None  # id of the entry last answered (short follow-ups lean on it)
    misses: int = 0  # misunderstandings in a row before this message
    chosen_entry: str | None = None  # a clarification button or a numbered option picked
    dtmf: str | None = None  # keys pressed on the phone, when the message is keys
    previous: str | None = None  # the citizen's message before this one (what "都不是" is about)
    upset: int = 0  # the citizen's recent earlier messages that were angry or abusive


class Triage:
    def __init__(self, knowledge: KnowledgeService, propose: Propose) -> None:
        self.knowledge = knowledge
        self.propose = propose
        self._grievance: GrievanceModel | None = None
        self._lock = threading.Lock()

    def decide(self, text: str, context: Context | None = None) -> Decision:
        ctx = context or Context()
        text = normalise_text(text)
        if ctx.chosen_entry and (entry := self.knowledge.get(ctx.chosen_entry)):
            return Answer(entry, 1.0, entry.question)
        if ctx.dtmf == "0" or (ctx.channel == "voice" and text in ("0", "零")):
            return Handoff("dtmf_0", "来电按0要求人工服务")
        if text == wording.REPORT_PAYLOAD:
            # Offered after a miss or beside suggestions: an order, whose form asks what
            # happened (the message before was not understood, so it is not taken as the what).
            return self.draft(normalise_text(ctx.previous or ""), says_what=False)
        if situation := recognise_emergency(text):
            return Emergency(situation.kind, situation.number, text)
        if mood := wording.upset(text):
            if ctx.upset > 0 or wording.asks_for_person(text):
                reason: HandoffReason = "abuse" if mood == "abuse" else "anger"
                return Handoff(reason, f"市民情绪激动，转人工：{text}")
            if mood == "abuse" and wording.only_abuse(text):
                return Calm()
        if wording.asks_if_bot(text):
            return AboutBot()  # 你是真人吗 asks, it does not ask for a person
        if wording.asks_for_person(text):
            return Handoff("asked", f"市民要求人工服务：{text}")
        if wording.rejects_offer(text):
            # None of the entries offered: the earlier question becomes an order (the bot offered
            # one), about what the citizen asked then, never about the words "都不是".
            earlier = normalise_text(ctx.previous or "")
            usable = earlier and not wording.rejects_offer(earlier) and not earlier.startswith("/")
            return self.draft(earlier) if usable else self.draft(text, says_what=False)
        found = _ORDER_NUMBER.search(text)
        if not found and _ONLY_A_PHONE.match(text) and ctx.previous:
            # 我电话150… right after a message naming an order: the phone the bot asked for
            found = _ORDER_NUMBER.search(normalise_text(ctx.previous))
        if found and (number := canonical_order_number(found.group())):
            return StatusQuery(number)
        if wording.about_service_hours(text):
            return ServiceHours()
        outcome = self.knowledge.search(text, k=CANDIDATES, topic=ctx.topic)
        if wording.about_own_order(text):
            # 上次反映的事有进展吗 asks for progress; 反映过的问题该找哪个部门 is a question
            if outcome.decision == "answer" and not wording.asks_progress(text):
                return self._answer(outcome)
            return StatusQuery()
        if self.is_grievance(text):
            return self.draft(text, outcome)
        if outcome.decision in ("answer", "clarify") and (city := city_named(text)):
            # Another city's rule is no answer for this city: said so, never given as its own.
            top = outcome.results[: 1 if outcome.decision == "answer" else CANDIDATES]
            fits = tuple(r.entry for r in top if answers_for(r.entry.region, text, _said(r.entry)))
            if not fits:
                return Abstain("other_city", (), ctx.misses + 1, city=city)
            if outcome.decision == "clarify":
                return Clarify(fits)
        if outcome.decision == "answer":
            return self._answer(outcome)
        if outcome.decision == "clarify":
            return Clarify(tuple(r.entry for r in outcome.results[:CANDIDATES]))
        misses = ctx.misses + 1
        if misses >= MISSES_FOR_HANDOFF:
            return Handoff("misunderstood", f"两次未能理解市民的问题，最近一次：{text}")
        floor = self.knowledge.thresholds.suggest
        near = tuple(r.entry for r in outcome.results[:CANDIDATES] if r.score >= floor)
        why: AbstainReason = "figure_missing" if outcome.figure_missing else "no_answer"
        return Abstain(why, near, misses)

    def is_grievance(self, text: str) -> bool:
        """A grievance or request for action (a work order), not a request for information."""
        said = wording.grievance_by_wording(text)
        if said is not None:
            return said
        model = self.grievance_model()
        return model.probability(text) >= model.threshold

    def grievance_model(self) -> GrievanceModel:
        """Trained on first use from the knowledge base's phrasings, the responsibility table's
        examples and the project's own examples (triage/grievance.py)."""
        with self._lock:
            if self._grievance is None:
                examples = load_examples()
                phrasings = [p for e in self.knowledge.entries() for p in e.phrasings()]
                table = [x for c in default_config().categories for x in c.examples]
                self._grievance = GrievanceModel(self.knowledge.encode).fit(
                    [*((t, 1.0) for t in table),
                     *((t, EXAMPLE_WEIGHT) for t in examples.grievances)],
                    [*((t, 1.0) for t in phrasings),
                     *((t, EXAMPLE_WEIGHT) for t in [*examples.consultations, *examples.other])],
                    embed=self.knowledge.embed_cached,
                )  # fmt: skip
            return self._grievance

    def draft(
        self, text: str, outcome: SearchOutcome | None = None, says_what: bool = True
    ) -> OrderDraft:
        """An order draft for `text`: its kind, the routing preview, and guidance when the
        knowledge base is sure of an answer on it. `says_what` False: the form asks what."""
        says_what = (
            says_what
            and len(text) >= MIN_WHAT_CHARS
            and not (text.startswith("/") or wording.announces_report_only(text))
        )  # not the 登记工单 button's payload, not 我要投诉
        routing = self.propose(text, None) if says_what else None
        guidance = outcome.results[0].entry if outcome and outcome.decision == "answer" else None
        return OrderDraft(
            request_text=text,
            what=text if says_what else None,
            order_kind=kind_of(text),
            category=routing.category if routing else None,
            department=routing.department if routing else None,
            routing_confidence=routing.confidence if routing else None,
            gate=routing.gate if routing else None,
            top3=routing.top3 if routing else (),
            guidance=guidance,
        )

    @staticmethod
    def _answer(outcome: SearchOutcome) -> Answer:
        best = outcome.results[0]
        return Answer(best.entry, best.score, outcome.query)
