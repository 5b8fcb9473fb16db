"""`X-Hotline-Replica: <name>` on every HTTP response of a replica that has a name
(HOTLINE_REPLICA; `hotline cluster` names its apps app-1, app-2, ...), so an operator, a load
balancer's log or a test can tell which replica behind the proxy answered (docs/operations.md,
"Cluster"). Pure ASGI: streamed responses (the chat page's event stream) pass unbuffered."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-hotline-replica"


class ReplicaHeader:
    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.value = name.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, self.value)]
            await send(message)

        await self.app(scope, receive, named)
