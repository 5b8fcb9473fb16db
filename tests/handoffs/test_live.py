"""Live events: in one process, and between two replicas through the machine's Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import redis

from handoffs.live import Hub
from tests.conftest import unavailable

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def test_subscribers_of_a_topic_are_woken() -> None:
    async def scenario() -> None:
        hub = Hub()
        async with hub.subscribe("queue", "conversation:web:a") as events:
            hub.publish("conversation:web:a", {"id": 1})
            hub.publish("conversation:web:b", {"id": 2})  # not subscribed
            assert await asyncio.wait_for(events.get(), 1) == {"id": 1}
            assert events.empty()
        assert hub.subscribers("queue") == 0

    asyncio.run(scenario())


def test_a_slow_reader_keeps_the_latest_events() -> None:
    async def scenario() -> None:
        hub = Hub(max_backlog=2)
        async with hub.subscribe("queue") as events:
            for n in range(5):
                hub.publish("queue", {"n": n})
            await asyncio.sleep(0.05)
            assert [events.get_nowait()["n"] for _ in range(2)] == [3, 4]

    asyncio.run(scenario())


def test_replicas_share_events_through_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} ({exc})")
    channel = f"hotline:live:test:{uuid.uuid4().hex}"

    async def scenario() -> None:
        one, two = Hub(channel=channel), Hub(channel=channel)
        await one.connect(REDIS_URL)
        await two.connect(REDIS_URL)
        try:
            async with one.subscribe("queue") as mine, two.subscribe("queue") as theirs:
                one.publish("queue", {"id": 7})
                assert await asyncio.wait_for(theirs.get(), 3) == {"id": 7}
                assert await asyncio.wait_for(mine.get(), 1) == {"id": 7}
                await asyncio.sleep(0.2)
                assert mine.empty()  # its own event is not delivered twice
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def test_each_app_in_a_process_stops_its_own_listener() -> None:
    """The hub is the process's; two apps in one process (tests start replicas so) each connect
    it on their own event loop. Shutting one down must not leave the other's listener pending
    on a loop that then closes (asyncio: "Task was destroyed but it is pending")."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} ({exc})")
    hub = Hub(channel=f"hotline:live:test:{uuid.uuid4().hex}")
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first.run_until_complete(hub.connect(REDIS_URL))
        second.run_until_complete(hub.connect(REDIS_URL))
        second.run_until_complete(hub.close())  # the later app stops first
        assert hub.state() == {"status": "ok"}  # the first app still shares its events
        first.run_until_complete(hub.close())
        assert asyncio.all_tasks(first) == set() and asyncio.all_tasks(second) == set()
        assert hub.state() == {"status": "off"}
    finally:
        first.close()
        second.close()
