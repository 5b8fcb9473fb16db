"""A ceiling on JSON and form bodies: they are read whole before validation, so a 100 MB post
must be refused (413) before it is read, not after. File uploads (multipart) and /wechat keep
their own, larger limits."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LIMITED_TYPES = ("application/json", "application/x-www-form-urlencoded")


def too_large(limit: int) -> JSONResponse:
    detail = f"请求内容过大（上限{limit}字节） / request body too large (limit {limit} bytes)"
    return JSONResponse({"detail": detail}, status_code=413)


class BodyLimit:
    """Refuse a JSON or form body over `limit` bytes: by its Content-Length at once, or while
    it streams in (chunked) before the endpoint sees any of it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in LIMITED_TYPES:
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await too_large(self.limit)(scope, receive, send)
            return
        # Chunked: read the body here (at most `limit` bytes), then replay it to the app.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await too_large(self.limit)(scope, receive, send)
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
