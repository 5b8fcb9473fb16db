"""Relay one citizen turn to the Rasa server (the hotline connector in bot/hotline_connector.py)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(Exception):
    """Rasa could not answer in time (down, slow or broken); the message says which."""


class ActionUnanswered(RasaUnavailable):
    """Rasa is up, but no app replica answered one of its custom action calls this turn (the
    one running it was killed; the connector's 503 "action_unanswered"). This turn goes to the
    fallback like any Rasa failure; the breaker stays closed, since the next turn's actions
    reach a live replica."""


class MessageIdReused(Exception):
    """A message id the conversation already used for another text: a client's bug, not a
    retry (a 409). Found in the app's log (gateway/chat_api.py) or, when the replica that
    relayed the first message died before logging it, in Rasa's tracker (the connector's 409)."""

    def __init__(self, message_id: str) -> None:
        super().__init__(
            f"message_id {message_id} was already used for another message of this "
            "conversation; send a new id with a new message"
        )


@dataclass
class BotTurn:
    messages: list[dict[str, Any]] = field(default_factory=list)
    intent: str | None = None
    confidence: float | None = None
    paused: bool = False
    # The triage decision the actions acted on (triage.Decision.public()), sent by the actions as
    # a custom message {"triage": {...}}; None for small talk and when Rasa is down.
    decision: dict[str, Any] | None = None
    # Rasa had already handled this message id (bot/hotline_connector.py): these are the
    # messages its first handling produced, taken from the tracker, and nothing ran again.
    repeated: bool = False
    # The work-order form Rasa is in after this turn ({"requested", "slots"}), None outside it:
    # kept with the turn so the fallback can finish the draft if Rasa goes away.
    form: dict[str, Any] | None = None


# Requests about one conversation carry a key of it, so a balancer can send them all to the same
# Rasa server (nginx in `hotline cluster` hashes it), whose memory of the conversation's tracker
# then spares reading it again (bot/hotline_connector.py); any server may still take any turn.
# A digest, not the id: conversation ids hold WeChat openids and callers' numbers.
CONVERSATION_HEADER = "X-Hotline-Conversation"


def conversation_key(sender_id: str) -> dict[str, str]:
    return {CONVERSATION_HEADER: hashlib.sha256(sender_id.encode()).hexdigest()[:16]}


class RasaClient:
    """`retry_seconds`: after a failed turn, turns go straight to the fallback (no waiting for
    a timeout on every message) for this long, or until /health finds Rasa up again."""

    def __init__(self, base_url: str, timeout: float, retry_seconds: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._why = ""

    async def close(self) -> None:
        await self._http.aclose()

    async def turn(
        self,
        sender_id: str,
        text: str,
        channel: str,
        metadata: dict[str, Any],
        message_id: str | None = None,
    ) -> BotTurn:
        """`message_id`: the client's id of the message; Rasa answers a repeated one from its
        tracker instead of handling it again (bot/hotline_connector.py), and raises
        MessageIdReused when the tracker holds it with another text."""
        if time.monotonic() < self._down_until:
            raise RasaUnavailable(self._why)
        try:
            body = await self._post_turn(sender_id, text, channel, metadata, message_id)
        except ActionUnanswered:
            raise
        except RasaUnavailable as exc:
            raise self._down(str(exc)) from exc
        self._down_until = 0.0
        intent = body.get("intent") or {}
        raw = body.get("messages") or []
        decisions = [
            m["custom"]["triage"]
            for m in raw
            if isinstance(m.get("custom"), dict) and isinstance(m["custom"].get("triage"), dict)
        ]
        return BotTurn(
            messages=[_message(m) for m in raw if not _is_decision(m)],
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
            paused=bool(body.get("paused")),
            decision=decisions[-1] if decisions else None,
            repeated=bool(body.get("repeated")),
            form=body["form"] if isinstance(body.get("form"), dict) else None,
        )

    async def _post_turn(
        self,
        sender_id: str,
        text: str,
        channel: str,
        metadata: dict[str, Any],
        message_id: str | None,
    ) -> dict[str, Any]:
        payload = {"sender": sender_id, "message": text, "channel": channel, "metadata": metadata}
        if message_id is not None:
            payload["message_id"] = message_id
        try:
            resp = await self._http.post(
                "/webhooks/hotline/webhook", json=payload, headers=conversation_key(sender_id)
            )
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"rasa timed out after {self._http.timeout.read}s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"rasa unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 409 and message_id is not None:  # Rasa is fine: no breaker
            raise MessageIdReused(message_id)
        if resp.status_code == 503 and _error_of(resp) == "action_unanswered":
            raise ActionUnanswered("rasa: no app replica answered a custom action")
        if resp.status_code != 200:
            raise RasaUnavailable(f"rasa answered HTTP {resp.status_code}")
        body: dict[str, Any] = resp.json()
        return body

    async def append_event(self, sender_id: str, event: str) -> None:
        """Append one event ("pause" when an operator takes the conversation over, "resume"
        when it is given back) to the conversation's tracker."""
        await self.append_events(sender_id, [{"event": event}])

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Append events to the conversation's tracker through Rasa's HTTP API
        (`POST /conversations/{id}/tracker/events`, served with --enable-api)."""
        if time.monotonic() < self._down_until:  # as for turns: no waiting on a known outage
            raise RasaUnavailable(self._why)
        path = f"/conversations/{quote(sender_id, safe=':')}/tracker/events"
        names = ",".join(str(e.get("event")) for e in events)
        try:
            resp = await self._http.post(path, json=events, headers=conversation_key(sender_id))
        except httpx.TimeoutException as exc:
            raise self._down(f"rasa timed out after {self._http.timeout.read}s") from exc
        except httpx.HTTPError as exc:
            raise self._down(f"rasa unreachable: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise RasaUnavailable(f"rasa answered HTTP {resp.status_code} to {names}")

    def _down(self, why: str) -> RasaUnavailable:
        """Rasa did not answer: later turns and events skip it for `retry_seconds`."""
        self._down_until = time.monotonic() + self.retry_seconds
        self._why = f"{why} (not retried for {self.retry_seconds:.0f}s)"
        return RasaUnavailable(why)

    async def status(self) -> dict[str, Any]:
        """Rasa's own /status (model id and file); raises RasaUnavailable when it is down."""
        try:
            resp = await self._http.get("/status", timeout=3.0)
            resp.raise_for_status()
            self._down_until = 0.0  # up again: the next turn goes to Rasa
            return resp.json()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"rasa unreachable: {type(exc).__name__}") from exc


def _is_decision(raw: dict[str, Any]) -> bool:
    """A custom message that only carries the triage decision (nothing for the citizen)."""
    custom = raw.get("custom")
    return isinstance(custom, dict) and "triage" in custom and not raw.get("text")


def _message(raw: dict[str, Any]) -> dict[str, Any]:
    """Rasa's message dict -> the API's {"text", "buttons"} shape."""
    buttons = [
        {"title": b.get("title", ""), "payload": b.get("payload", "")}
        for b in raw.get("buttons") or []
    ]
    return {"text": raw.get("text") or "", "buttons": buttons}


def _error_of(resp: httpx.Response) -> str | None:
    """The "error" of a JSON error body, else None."""
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None
