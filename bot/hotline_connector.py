"""Rasa input channel used by the app: Rasa's REST channel plus what the app must log.

It runs inside the Rasa server (Python 3.10 environment), loaded through bot/credentials.yml.
Request: {"sender": str, "message": str, "channel": "web|wechat|voice|api", "metadata": {}}.
Response: {"messages": [...], "intent": {"name", "confidence"} | null, "paused": bool} — the
bot's messages as the REST channel returns them, the intent Rasa understood (for the conversation
log) and whether a human has taken the conversation over (ConversationPaused).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

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
        await save(tracker)
        _saved_tracker.set(tracker)

    processor.save_tracker = save_and_remember
    processor._hotline_remembers = True


def _validate_action_results_with_one_validator() -> None:
    """Rasa checks every action server response with jsonschema.validate, which first checks
    the (constant, large) events schema against the meta-schema and builds a new validator:
    about 30% of the Rasa server's CPU under chat load (py-spy, BENCHMARKS.md "Chat load").
    Check the schema once and keep its validator; an invalid response still goes through
    Rasa's own method, so it raises the same error with the same message."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction, "_hotline_one_validator", False):
        return
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    rasa_validate = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        if validator.is_valid(result):
            return True
        return rasa_validate(self, result)

    RemoteAction._validate_action_result = validate
    RemoteAction._hotline_one_validator = True


_validate_action_results_with_one_validator()


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
            agent = request.app.ctx.agent
            _remember_saved_trackers(agent.processor)
            _saved_tracker.set(None)
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    sender,
                    input_channel=str(body.get("channel") or self.name()),
                    metadata=body.get("metadata") or {},
                )
            )
            tracker = _saved_tracker.get()
            if tracker is None or tracker.sender_id != sender:
                tracker = await agent.tracker_store.retrieve(sender)
            return response.json(
                {
                    "messages": collector.messages,
                    "intent": _intent(tracker.latest_message.intent if tracker else None),
                    "paused": bool(tracker and tracker.is_paused()),
                }
            )

        return webhook


def _intent(intent: Optional[Dict[Text, Any]]) -> Optional[Dict[Text, Any]]:
    if not intent or not intent.get("name"):
        return None
    return {"name": intent["name"], "confidence": float(intent.get("confidence") or 0.0)}
