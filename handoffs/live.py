"""Live notifications inside one app process: the console's queue and conversation views and the
citizen's chat page subscribe to topics; changes publish to them. Publishing is thread-safe
(actions and database work run in worker threads). Across replicas this needs Redis pub/sub,
not built yet (docs/operations.md)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

QUEUE = "queue"  # any handoff created, taken, released or closed


def conversation_topic(conversation: str) -> str:
    """New messages of one conversation (the citizen's, the operator's, notices)."""
    return f"conversation:{conversation}"


class Hub:
    def __init__(self, max_backlog: int = 100) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]]] = {}
        self._max_backlog = max_backlog

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(topic, ()))
        for loop, queue in targets:
            loop.call_soon_threadsafe(_offer, queue, event)

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue(self._max_backlog)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            for topic in topics:
                self._subscribers.setdefault(topic, set()).add(entry)
        try:
            yield queue
        finally:
            with self._lock:
                for topic in topics:
                    subscribers = self._subscribers.get(topic, set())
                    subscribers.discard(entry)
                    if not subscribers:
                        self._subscribers.pop(topic, None)

    def subscribers(self, topic: str) -> int:
        with self._lock:
            return len(self._subscribers.get(topic, ()))


def _offer(queue: asyncio.Queue[Any], event: dict[str, Any]) -> None:
    """A slow reader loses its oldest events rather than blocking everyone (it refetches)."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


_hub = Hub()


def hub() -> Hub:
    """The process's hub (the actions, run by the app's webhook, and the routes share it)."""
    return _hub
