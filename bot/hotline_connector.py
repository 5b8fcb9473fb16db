"""Rasa input channel used by the app: Rasa's REST channel plus what the app must log.

It runs inside the Rasa server (Python 3.10 environment), loaded through bot/credentials.yml.
Request: {"sender": str, "message": str, "channel": "web|wechat|voice|api", "metadata": {}}.
Response: {"messages": [...], "intent": {"name", "confidence"} | null, "paused": bool} — the
bot's messages as the REST channel returns them, the intent Rasa understood (for the conversation
log) and whether a human has taken the conversation over (ConversationPaused).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


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
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
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
