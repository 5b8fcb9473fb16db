"""Server-sent events: the wire format and the loop that waits for a hub topic.

The hub only wakes a stream; what is sent is read from the database (the source of truth), so a
missed wake-up costs a delay, never a message, and an EventSource that reconnects with
Last-Event-ID (or ?after=) gets what it missed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from handoffs import live

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000


def event(name: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


Fetch = Callable[[], Awaitable[list[str]]]


async def _frames(request: Request, topics: tuple[str, ...], fetch: Fetch,
                  max_seconds: float) -> AsyncIterator[str]:  # fmt: skip
    """Subscribe first (nothing published meanwhile is missed), send what `fetch` has now, then
    again after each wake-up, until the client leaves or `max_seconds` have passed (the
    EventSource then reconnects by itself)."""
    loop = asyncio.get_running_loop()
    async with live.hub().subscribe(*topics) as wakeups:
        yield f"retry: {RETRY_MS}\n\n"
        for frame in await fetch():
            yield frame
        deadline = loop.time() + max_seconds
        while (left := deadline - loop.time()) > 0:
            if await request.is_disconnected():
                return
            try:
                await asyncio.wait_for(wakeups.get(), min(KEEPALIVE_SECONDS, left))
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            while not wakeups.empty():  # one fetch for a burst of wake-ups
                wakeups.get_nowait()
            for frame in await fetch():
                yield frame


def response(request: Request, topics: tuple[str, ...], fetch: Fetch,
             max_seconds: float) -> StreamingResponse:  # fmt: skip
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(_frames(request, topics, fetch, max_seconds),
                             media_type="text/event-stream", headers=headers)  # fmt: skip


def last_event_id(request: Request, after: int) -> int:
    """Where a reconnecting EventSource left off (its Last-Event-ID header), else `after`."""
    sent = request.headers.get("Last-Event-ID", "")
    return max(after, int(sent)) if sent.isdigit() else after
