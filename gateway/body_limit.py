"""A ceiling on JSON and form bodies: they are read whole before validation, so a 100 MB post
must be refused (413) before it is read, not after. File uploads (multipart) and /wechat keep
their own, larger limits.

Rasa's action calls carry the conversation's whole tracker, which grows by a few KB a turn: a
work-order form with a few corrections passed 64 KB after 14 turns, every later action call
was refused, and the citizen got no reply at all, to 确认 or to 救命 (found by an exploratory
test). Rasa itself (gateway.auth.rasa_only) may therefore send up to `action_limit` bytes to
/webhook, as much as nginx lets through to it; anyone else keeps the small limit there too."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LIMITED_TYPES = ("application/json", "application/x-www-form-urlencoded")
ACTION_PATH = "/webhook"


def too_large(limit: int) -> JSONResponse:
    detail = f"请求内容过大（上限{limit}字节） / request body too large (limit {limit} bytes)"
    return JSONResponse({"detail": detail}, status_code=413)


class BodyLimit:
    """Refuse a JSON or form body over `limit` bytes: by its Content-Length at once, or while
    it streams in (chunked) before the endpoint sees any of it."""

    def __init__(self, app: ASGIApp, limit: int, action_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.action_limit = max(limit, action_limit or limit)  # never below everyone's

    async def limit_for(self, scope: Scope) -> int:
        """The action limit for Rasa's calls to the webhook, else the general one."""
        if scope.get("path") != ACTION_PATH or self.action_limit == self.limit:
            return self.limit
        from gateway.auth import rasa_only

        try:
            await rasa_only(Request(scope))
        except HTTPException:
            return self.limit  # the route answers 403 to a small body
        return self.action_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in LIMITED_TYPES:
            await self.app(scope, receive, send)
            return
        limit = await self.limit_for(scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await too_large(limit)(scope, receive, send)
            return
        # Chunked: read the body here (at most `limit` bytes), then replay it to the app.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await too_large(limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
