"""Rasa input channel used by the app: Rasa's REST channel plus what the app must log.

It runs inside the Rasa server (Python 3.10 environment), loaded through bot/credentials.yml.
Request: {"sender": str, "message": str, "channel": "web|wechat|voice|api", "metadata": {},
"message_id": str (optional)}.
Response: {"messages": [...], "intent": {"name", "confidence"} | null, "paused": bool,
"repeated": bool} — the bot's messages as the REST channel returns them, the intent Rasa
understood (for the conversation log), whether a human has taken the conversation over
(ConversationPaused), and whether the message id had been handled before (below).

A message with the id of one the conversation's tracker already holds (the client's retry after
the app replica that relayed it died before answering) is not handled again: the reply is what
the bot said after it, from the tracker. The check is made when Rasa reads the tracker under the
conversation's lock, so a retry that arrives while the first handling is still running waits
for it and then gets its answer; the tracker and the lock are shared by every Rasa server.
A message id the tracker holds with another text is not a retry but a client's bug: 409
{"error": "message_id_reused", "message_id": str}, nothing handled or added to the tracker; the
app answers it with the 409 of an id found in its own log (MessageIdReused, gateway/rasa_client.py).

A custom action call that no app replica answered (the one running it was killed) is sent again,
and if none answers it the turn is a 503 {"error": "action_unanswered", "action": str}, which
the app answers with its triage fallback (below, _retry_unanswered_action_calls).

Two memories spare the server's CPU under load (BENCHMARKS.md "Chat load", session 11): the
tracker a turn saved is kept for the conversation's next turn while the store holds nothing
newer (_keep_saved_trackers), and TED's prediction is kept per dialogue state
(_remember_ted_predictions).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, SessionStarted, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# The tracker Rasa saved at the end of the turn being handled. handle_message runs in the
# request's own task, so a value set while saving is visible here after it returns; this spares
# a second read of the whole conversation from the tracker store on every turn.
_saved_tracker: ContextVar[Any] = ContextVar("hotline_saved_tracker", default=None)


def _remember_saved_trackers(processor: Any) -> None:
    """Wrap the processor's save_tracker once (a new model brings a new processor)."""
    if processor is None or getattr(processor, "_hotline_remembers", False):
        return
    save = processor.save_tracker

    async def save_and_remember(tracker: Any) -> None:
        if _unanswered_action.get():
            # The turn is answered 503 (below) and handled again when sent again: a tracker
            # saved with the message and the action "run" without its events would make that
            # retry look handled, and answer it with a reply missing the order number.
            return
        await save(tracker)
        _saved_tracker.set(tracker)

    processor.save_tracker = save_and_remember
    processor._hotline_remembers = True


# (conversation, message id) of the message this request relays, checked once against the
# tracker Rasa reads for it (inside the conversation's lock); None: no id, or already checked.
_repeat_check: ContextVar[Optional[Tuple[Text, Text]]] = ContextVar(
    "hotline_repeat_check", default=None
)


# The tracker saved at the end of a conversation's turn is kept in memory for its next turn,
# instead of reading and replaying all of the conversation's events from the tracker store
# (a sixth of the Rasa server's CPU under chat load). Each tracker handed out for a turn notes
# how many events it holds and the id of the newest event stored for the conversation then.
# Events are only ever appended, so when its turn saves it and the store's newest event is
# still that one, nothing else wrote to the conversation meanwhile: the tracker is the whole
# conversation, its new events are inserted without counting the stored ones first (Rasa's
# own save counts them), and it is kept. Kept again only after its save succeeded, and handed
# out only while the store's newest event is still the one its save wrote and it holds the
# events it was saved with; anything else (another Rasa server or an overlapping retry wrote,
# the save fell back, the turn was not saved, a second session began) reads the store as before.
# The checks are one indexed query built once, about 0.2 ms of CPU each; the ORM counts they
# replace were about 1.3 ms each (BENCHMARKS.md "Chat load", session 12).
TRACKERS_KEPT = 2000
TRACKER_KEPT_SECONDS = 600.0
# On a tracker: (its number of events, the newest stored event id) when handed out or saved.
_HANDED_OUT = "_hotline_handed_out"
_UNSHARED = "_hotline_unshared"  # on a tracker being saved: nothing else wrote since


def _pool_sqlite_connections(sql: Any) -> None:
    """Rasa's SQLite tracker store, as SQLAlchemy 1.4 makes it, opens a new connection for each
    query and commits in rollback-journal mode with a full sync: about 2 ms of every turn, spent
    with the server's one event loop blocked (py-spy under chat load: the commit alone was a
    fifth of the turn; BENCHMARKS.md "Chat load", session 13). Connections are kept in a pool
    instead, and the database is written ahead-logged (WAL) with synchronous=NORMAL: a commit
    survives the Rasa process dying; only a crash of the machine itself may lose the last turns,
    which is the conversation state, never a work order (the app's own database keeps its full
    sync). PostgreSQL stores are left as Rasa makes them (pooled already)."""
    from sqlalchemy.orm import sessionmaker
    from sqlalchemy.pool import QueuePool

    engine = sql.engine
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return
    pooled = sa.create_engine(
        engine.url,
        poolclass=QueuePool,
        pool_size=2,  # the server's event loop uses one at a time
        connect_args={"check_same_thread": False},  # a pooled connection may change threads
    )

    @sa.event.listens_for(pooled, "connect")
    def write_ahead(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()
    sql.engine = pooled
    sql.sessionmaker = sessionmaker(bind=pooled)


def _keep_saved_trackers(store: Any) -> None:
    """Wrap the tracker store's retrieve and save once (Rasa keeps one store for the server)."""
    from rasa.core.tracker_store import SQLTrackerStore

    if store is None or getattr(store, "_hotline_keeps_trackers", False):
        return
    store._hotline_keeps_trackers = True
    sql = getattr(store, "_tracker_store", store)  # inside Rasa's FailSafeTrackerStore
    if not isinstance(sql, SQLTrackerStore):
        return  # in memory already
    _pool_sqlite_connections(sql)
    kept: "OrderedDict[Text, Tuple[float, Any, Any]]" = OrderedDict()  # (when, domain, tracker)
    events = sql.SQLEvent.__table__
    newest_query = sa.select(sa.func.max(events.c.id)).where(
        events.c.sender_id == sa.bindparam("sender")
    )
    retrieve, save, count_stored = store.retrieve, sql.save, sql._additional_events

    def newest_event(sender_id: Text) -> Optional[int]:
        try:
            with sql.engine.connect() as connection:
                return connection.execute(newest_query, {"sender": sender_id}).scalar()
        except Exception:  # the store's own read or save reports it
            return None

    def note(tracker: Any, newest: Optional[int]) -> None:
        setattr(tracker, _HANDED_OUT, None if newest is None else (len(tracker.events), newest))

    async def retrieve_kept(sender_id: Text) -> Any:
        entry = kept.pop(sender_id, None)
        if entry is not None:
            when, domain, tracker = entry
            fresh = time.monotonic() - when < TRACKER_KEPT_SECONDS and domain is sql.domain
            handed = getattr(tracker, _HANDED_OUT, None)
            if fresh and handed and handed == (len(tracker.events), newest_event(sender_id)):
                return tracker
        tracker = await retrieve(sender_id)
        if tracker is not None:
            note(tracker, newest_event(sender_id))
        return tracker

    def additional_events(session: Any, tracker: Any) -> Any:
        handed = getattr(tracker, _HANDED_OUT, None)
        if handed is not None and handed[0] <= len(tracker.events):
            newest = session.execute(newest_query, {"sender": tracker.sender_id}).scalar()
            if newest == handed[1]:
                setattr(tracker, _UNSHARED, True)
                return itertools.islice(tracker.events, handed[0], len(tracker.events))
        return count_stored(session, tracker)

    async def save_and_keep(tracker: Any) -> None:
        kept.pop(tracker.sender_id, None)  # whatever was kept is older than this save
        setattr(tracker, _UNSHARED, False)
        await save(tracker)  # raises if it failed: Rasa's fail-safe store falls back
        if not getattr(tracker, _UNSHARED):
            return  # saved Rasa's way; a later save of it checks the store again
        newest = newest_event(tracker.sender_id)
        note(tracker, newest)
        sessions = sum(isinstance(e, SessionStarted) for e in tracker.events)
        if newest is None or sessions > 1:
            return
        kept[tracker.sender_id] = (time.monotonic(), sql.domain, tracker)
        while len(kept) > TRACKERS_KEPT:
            kept.popitem(last=False)

    store.retrieve = retrieve_kept
    sql.save, sql._additional_events = save_and_keep, additional_events


class AlreadyHandled(Exception):
    """The message id is in the tracker: raised out of handle_message (releasing the lock)
    before anything is added to the conversation."""

    def __init__(self, tracker: Any, replies: List[BotUttered], user: UserUttered) -> None:
        super().__init__(user.message_id)
        self.tracker, self.replies, self.user = tracker, replies, user


def _answer_of(tracker: Any, message_id: Text) -> Optional[Tuple[List[BotUttered], UserUttered]]:
    """The bot's messages after the user message `message_id` (until the next user message)
    and that message; None if the tracker does not hold it."""
    events = list(tracker.events)
    for i, event in enumerate(events):
        if isinstance(event, UserUttered) and event.message_id == message_id:
            replies = []
            for later in events[i + 1 :]:
                if isinstance(later, UserUttered):
                    break
                if isinstance(later, BotUttered):
                    replies.append(later)
            return replies, event
    return None


def _check_repeats(processor: Any) -> None:
    """Wrap the processor's get_tracker once: handle_message reads the tracker there, under the
    conversation's lock, before it logs the new message."""
    if processor is None or getattr(processor, "_hotline_checks_repeats", False):
        return
    get_tracker = processor.get_tracker

    async def get_tracker_checked(conversation_id: Text) -> Any:
        tracker = await get_tracker(conversation_id)
        wanted = _repeat_check.get()
        if wanted is not None and wanted[0] == tracker.sender_id:
            _repeat_check.set(None)  # once: later reads of this turn hold its own message
            answer = _answer_of(tracker, wanted[1])
            if answer is not None:
                raise AlreadyHandled(tracker, *answer)
        return tracker

    processor.get_tracker = get_tracker_checked
    processor._hotline_checks_repeats = True


def _event_validators(schema: Dict[Text, Any], validator_class: Any) -> Optional[Dict[Text, Any]]:
    """A validator per event type, or None if the schema's event alternatives are not told
    apart by a distinct `event` constant each. An event is valid against the schema's oneOf
    exactly when it is valid against the alternative of its own type (the others fail on the
    constant), so checking that one alone gives the same answer."""
    items = schema.get("properties", {}).get("events", {}).get("items", {})
    shared = {key: value for key, value in items.items() if key != "oneOf"}
    validators: Dict[Text, Any] = {}
    for alternative in items.get("oneOf", []):
        kind = alternative.get("properties", {}).get("event", {}).get("const")
        if not isinstance(kind, str) or kind in validators:
            return None
        validators[kind] = validator_class({**shared, "allOf": [alternative]})
    return validators or None


def _validate_action_results_with_one_validator() -> None:
    """Rasa checks every action server response with jsonschema.validate, which first checks
    the (constant, large) events schema against the meta-schema and builds a new validator:
    about 30% of the Rasa server's CPU under chat load (py-spy, BENCHMARKS.md "Chat load").
    Check the schema once and keep its validators; each event is checked against the schema of
    its own type instead of trying all of them (the oneOf: still 1.2 ms per response, a
    twentieth of the turn). An invalid response still goes through Rasa's own method, so it
    raises the same error with the same message."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction, "_hotline_one_validator", False):
        return
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    whole = validator_class(schema)
    per_event = _event_validators(schema, validator_class)
    others = {key: value for key, value in schema["properties"].items() if key != "events"}
    without_events = validator_class({**schema, "properties": others})
    rasa_validate = RemoteAction._validate_action_result

    def valid(result: Any) -> bool:
        events = result.get("events") if isinstance(result, dict) else None
        if per_event is None or not isinstance(events, list):
            return bool(whole.is_valid(result))
        if not without_events.is_valid(result):
            return False
        for event in events:
            check = per_event.get(event.get("event")) if isinstance(event, dict) else None
            if check is None or not check.is_valid(event):
                return False
        return True

    def validate(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        if valid(result):
            return True
        return rasa_validate(self, result)

    RemoteAction._validate_action_result = validate
    RemoteAction._hotline_one_validator = True


_validate_action_results_with_one_validator()


# A custom action call that got no answer (the app replica running it was killed: connection
# refused or cut, or the balancer's 502) is sent again after these pauses, and the balancer
# (nginx's internal door in `hotline cluster`, the Service elsewhere) gives it to a live
# replica. Rasa alone would log the action as run with none of its events and go on: after 确认
# the citizen was told nothing, the order stored but never told, or never stored, and the draft
# left behind (tests/faults/test_action_replica_kill.py). Sending again is safe: the orders the
# actions store are keyed (the submit: one per conversation and draft, triage/form_steps.submit;
# a callback or an emergency likewise), a handoff is queued once per conversation, the other
# actions only read; the handoff log skips a request still open (record_handoff). Not the
# rating, which would count twice. A timeout is not retried (the action may still be running).
# About 2.5 s in all, well within the app's HOTLINE_RASA_TIMEOUT.
ACTION_RETRY_DELAYS = (0.25, 0.75, 1.5)
NOT_RETRIED = frozenset({"action_store_rating"})
# the balancer's "the replica died"; not the app's own 503 (its database is away)
UNANSWERED_STATUS = (502,)

# The retried action that still got no answer in the turn being handled (set in the request's
# task, read after handle_message, as _saved_tracker): the turn is answered 503 (below).
_unanswered_action: ContextVar[Optional[Text]] = ContextVar(
    "hotline_unanswered_action", default=None
)


def _unanswered(error: BaseException) -> bool:
    """Whether Rasa's error for an action call means no replica answered it."""
    import aiohttp

    cause = error.__cause__ or error.__context__
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return False
    if isinstance(cause, aiohttp.ClientConnectionError):
        return True
    return getattr(cause, "status", None) in UNANSWERED_STATUS


def _retry_unanswered_action_calls() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.exceptions import RasaException

    if getattr(RemoteAction, "_hotline_retries", False):
        return
    run_once = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        # once an action of this turn got no answer, the turn is lost anyway: no more waiting
        delays = () if _unanswered_action.get() else ACTION_RETRY_DELAYS
        for delay in (*delays, None):
            try:
                return await run_once(self, *args, **kwargs)
            except RasaException as error:
                if self.name() in NOT_RETRIED or not _unanswered(error):
                    raise
                if delay is None:
                    _unanswered_action.set(self.name())
                    raise
                logger.warning("action %s got no answer (%s): sent again", self.name(), error)
            await asyncio.sleep(delay)

    RemoteAction.run = run
    RemoteAction._hotline_retries = True


_retry_unanswered_action_calls()


# TED's prediction is a function of the conversation's last few dialogue states (intents, slots,
# the active form, the previous action; max_history in config.yml), not of the citizen's words
# unless TED was trained on texts (then the text is part of the states below). Those states
# repeat across citizens: every consultation passes through the same few. Running TED's network
# for each was about a quarter of the Rasa server's CPU under chat load (BENCHMARKS.md "Chat
# load"), so its answer for states it has seen is kept. Bounded, per loaded model (a new model
# brings new policy objects), and exact: the network's inference is deterministic.
TED_REMEMBERED = 4096


def _ted_states_key(policy: Any, tracker: Any, domain: Any, rule_only_data: Any) -> Text:
    """The states TED featurizes for this prediction (TEDPolicy._featurize_tracker): the
    intent-based ones, and the text-based ones when it also predicts from the last user text."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.nlu.constants import TEXT

    states = [policy._prediction_states(tracker, domain, policy.only_e2e, rule_only_data)]
    if (
        tracker.latest_action_name == ACTION_LISTEN_NAME
        and TEXT in policy.fake_features
        and not policy.only_e2e
    ):
        states.append(policy._prediction_states(tracker, domain, True, rule_only_data))
    return json.dumps(states, sort_keys=True, default=repr)


def _remember_ted_predictions() -> None:
    from rasa.core.policies.ted_policy import TEDPolicy

    if getattr(TEDPolicy, "_hotline_predict_unremembered", None):
        return
    predict = TEDPolicy.predict_action_probabilities

    def predict_remembered(
        self: TEDPolicy, tracker: Any, domain: Any, rule_only_data: Any = None, **kwargs: Any
    ) -> Any:
        if self.model is None:
            return predict(self, tracker, domain, rule_only_data, **kwargs)
        seen = self.__dict__.setdefault("_hotline_predictions", OrderedDict())
        key = _ted_states_key(self, tracker, domain, rule_only_data)
        if key in seen:
            seen.move_to_end(key)
            probabilities, e2e, diagnostic = seen[key]
            # a fresh list: the ensemble zeroes a rejected action's probability in place
            return self._prediction(
                list(probabilities), is_end_to_end_prediction=e2e, diagnostic_data=diagnostic
            )
        prediction = predict(self, tracker, domain, rule_only_data, **kwargs)
        if not prediction.optional_events:  # entities of one text: not a function of states
            seen[key] = (
                list(prediction.probabilities),
                prediction.is_end_to_end_prediction,
                prediction.diagnostic_data,
            )
            if len(seen) > TED_REMEMBERED:
                seen.popitem(last=False)
        return prediction

    TEDPolicy.predict_action_probabilities = predict_remembered
    TEDPolicy._hotline_predict_unremembered = predict


_remember_ted_predictions()


class HotlineInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "hotline"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("hotline_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body: Dict[Text, Any] = request.json or {}
            sender = body.get("sender")
            text = body.get("message")
            if not isinstance(sender, str) or not isinstance(text, str):
                return response.json({"error": "sender and message are required"}, status=400)
            message_id = body.get("message_id")
            if message_id is not None and not (isinstance(message_id, str) and message_id):
                return response.json({"error": "message_id must be a non-empty string"}, 400)
            agent = request.app.ctx.agent
            _remember_saved_trackers(agent.processor)
            _keep_saved_trackers(agent.tracker_store)
            _check_repeats(agent.processor)
            _saved_tracker.set(None)
            _unanswered_action.set(None)
            _repeat_check.set((sender, message_id) if message_id else None)
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=str(body.get("channel") or self.name()),
                message_id=message_id,  # None: Rasa makes one up
                metadata=body.get("metadata") or {},
            )
            try:
                await on_new_message(message)
            except AlreadyHandled as done:
                # UserMessage strips the text, as Rasa stored the first one's
                if done.user.text != message.text:
                    return response.json(
                        {"error": "message_id_reused", "message_id": message_id}, status=409
                    )
                for reply in done.replies:  # as the processor sent them the first time
                    await collector.send_response(sender, reply.message())
                return response.json(
                    {
                        "messages": collector.messages,
                        "intent": _intent(done.user.intent),
                        "paused": bool(done.tracker.is_paused()),
                        "repeated": True,
                        "form": _open_form(done.tracker),
                    }
                )
            if _unanswered_action.get():
                # No replica ran the action: the turn's reply is missing what it would have
                # said, the order number after 确认. The app answers the turn with its triage
                # fallback instead, from the draft it stored with the read-back (the same order:
                # same conversation and draft), and closes Rasa's form afterwards.
                action = _unanswered_action.get()
                return response.json({"error": "action_unanswered", "action": action}, 503)
            tracker = _saved_tracker.get()
            if tracker is None or tracker.sender_id != sender:
                tracker = await agent.tracker_store.retrieve(sender)
            return response.json(
                {
                    "messages": collector.messages,
                    "intent": _intent(tracker.latest_message.intent if tracker else None),
                    "paused": bool(tracker and tracker.is_paused()),
                    "repeated": False,
                    "form": _open_form(tracker),
                }
            )

        return webhook


def _open_form(tracker: Any) -> Optional[Dict[Text, Any]]:
    """The work-order form in progress after this turn: the slot it asks next and the draft's
    slots (wo_*). The app keeps it with the turn, so that if Rasa goes away mid-form the
    triage fallback finishes the same draft instead of asking everything again."""
    if tracker is None or tracker.active_loop_name != "work_order_form":
        return None
    slots = {
        name: value
        for name, value in tracker.current_slot_values().items()
        if name.startswith("wo_") and value is not None
    }
    return {"requested": tracker.get_slot("requested_slot"), "slots": slots}


def _intent(intent: Optional[Dict[Text, Any]]) -> Optional[Dict[Text, Any]]:
    if not intent or not intent.get("name"):
        return None
    return {"name": intent["name"], "confidence": float(intent.get("confidence") or 0.0)}
