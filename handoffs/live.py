"""Live notifications: the console's queue and conversation views and the citizen's chat page
subscribe to topics; changes publish to them. Publishing is thread-safe (actions and database
work run in worker threads).

One process: subscribers are woken directly. Several app replicas (HOTLINE_REDIS_URL set):
every publication is also sent on one Redis pub/sub channel, and each replica's listener wakes
its own subscribers with what the others published. The events only wake readers, which read
what changed from the database, so a lost event delays a screen, never loses a message.

Redis down: each replica goes on waking its own subscribers (per-process behaviour). One
warning says so when it starts and one line when Redis is back; meanwhile publications skip
Redis for REDIS_RETRY_SECONDS at a time (no request waits on a dead socket) and the listener
retries with a growing pause (at most LISTEN_BACKOFF_MAX seconds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

QUEUE = "queue"  # any handoff created, taken, released or closed; presence changes
CHANNEL = "hotline:live"  # the Redis pub/sub channel shared by the replicas
REDIS_RETRY_SECONDS = 5.0
LISTEN_BACKOFF_MAX = 30.0
Subscriber = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[Any]"]


def conversation_topic(conversation: str) -> str:
    """New messages of one conversation (the citizen's, the operator's, notices)."""
    return f"conversation:{conversation}"


class Hub:
    def __init__(self, max_backlog: int = 100, channel: str = CHANNEL) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._max_backlog = max_backlog
        self._channel = channel
        self._origin = uuid.uuid4().hex  # this replica: its own publications come back
        self._redis: redis.Redis | None = None
        # One listener per event loop that connected (an app's lifespan; tests run several
        # apps in one process): each app stops its own on shutdown, before its loop closes.
        self._listeners: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._skip_until = 0.0  # publications skip Redis until then (it failed)
        self._down = False  # told once per outage
        self._listening = False

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self._deliver(topic, event)
        if self._redis is None or time.monotonic() < self._skip_until:
            return
        message = json.dumps({"origin": self._origin, "topic": topic, "event": event})
        try:
            self._redis.publish(self._channel, message)
        except redis.RedisError as exc:  # other replicas' screens catch up on their refresh
            self._skip_until = time.monotonic() + REDIS_RETRY_SECONDS
            self._outage(exc)
            return
        self._recovered()

    def _outage(self, exc: BaseException) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning("Redis unavailable (%s): live events stay within this replica until "
                        "it is back", exc)  # fmt: skip

    def _recovered(self) -> None:
        with self._lock:
            was, self._down = self._down, False
        if was:
            log.info("Redis is back: live events reach the other replicas again")

    def state(self) -> dict[str, Any]:
        """For /health: "ok" while events reach the other replicas through Redis."""
        if self._redis is None:
            return {"status": "off"}
        if self._down or not self._listening:
            return {"status": "down", "fallback": "this replica only"}
        return {"status": "ok"}

    def _deliver(self, topic: str, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(topic, ()))
        for loop, queue in targets:
            with suppress(RuntimeError):  # a closed loop: its subscriber is going away
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

    async def connect(self, url: str) -> None:
        """Share events with the other replicas through Redis at `url` (HOTLINE_REDIS_URL)."""
        loop, ready = asyncio.get_running_loop(), asyncio.Event()
        with self._lock:
            if self._redis is None:
                self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            if loop in self._listeners:
                return
            self._listeners[loop] = asyncio.create_task(self._listen(url, ready))
        with suppress(TimeoutError):  # Redis down at start: the listener keeps trying
            await asyncio.wait_for(ready.wait(), 5)

    async def _listen(self, url: str, ready: asyncio.Event) -> None:
        pause = 1.0
        while True:
            client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    ready.set()
                    self._listening, pause = True, 1.0
                    self._skip_until = 0.0
                    self._recovered()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._listening = False
                self._outage(exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LISTEN_BACKOFF_MAX)
            finally:
                await client.aclose()

    def _receive(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            if message["origin"] != self._origin:
                self._deliver(str(message["topic"]), dict(message["event"]))
        except (ValueError, KeyError, TypeError):
            log.warning("a malformed live event on %s was ignored", self._channel)

    async def close(self) -> None:
        """Stop the listener this event loop started; the last one also closes the publisher."""
        with self._lock:
            listener = self._listeners.pop(asyncio.get_running_loop(), None)
            publisher = None if self._listeners else self._redis
            if publisher is not None:
                self._redis = None
        if listener is not None:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener
        if publisher is not None:
            publisher.close()


def _offer(queue: asyncio.Queue[Any], event: dict[str, Any]) -> None:
    """A slow reader loses its oldest events rather than blocking everyone (it refetches)."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


_hub = Hub()


def hub() -> Hub:
    """The process's hub (the actions, run by the app's webhook, and the routes share it)."""
    return _hub
