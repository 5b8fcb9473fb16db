"""Operator message → citizen screen latency, with one app process serving many operators and
waiting or active conversations.

Starts the app alone (`hotline serve --only app`, fresh SQLite, no Rasa: the pause/resume calls
fail fast and are logged, which the handoff tolerates by design), makes `--operators` operator
accounts and `--conversations` queued web-chat conversations, has each operator accept
`--active` of them (the rest keep waiting), then opens the citizen's event stream
(GET /api/v1/chat/{sender}/events) of every conversation and one console stream
(GET /api/v1/handoffs/events) per operator. Each operator then sends `--messages` messages to
each of its conversations, one every `--interval` seconds, all operators at once (50 operators
at 1 s: 50 messages a second, about ten times what 50 people typing write); the latency is from
just before POST /api/v1/handoffs/{id}/messages to the message's arrival on the citizen's
stream. The client runs on the same machine and shares its cores with the app.

    .venv/bin/python -m bench.handoff_latency [--operators 50] [--conversations 500]
        [--active 4] [--messages 5] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from accounts import tokens, users
from bench.chat_latency import percentile, rss_mb
from handoffs import queue
from hotline import db
from hotline.serve import free_port, spawn

PASSWORD = "bench-Passw0rd-only"


async def citizen_stream(http: httpx.AsyncClient, sender: str, arrived: dict[str, float],
                         ready: asyncio.Event) -> None:  # fmt: skip
    """Record when each message text arrives on this citizen's event stream."""
    async with http.stream("GET", f"/api/v1/chat/{sender}/events?max_seconds=3600") as resp:
        ready.set()
        event = ""
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "message":
                arrived[json.loads(line[6:])["text"]] = time.perf_counter()


async def console_stream(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    async with http.stream("GET", "/api/v1/handoffs/events?max_seconds=3600",
                           headers=headers) as resp:  # fmt: skip
        async for _ in resp.aiter_lines():
            pass


async def run(args: argparse.Namespace, base: str, url: str) -> None:
    heads = []
    for n in range(args.operators):
        users.add_user(url, f"op{n:03d}", "operator", PASSWORD)
        user = users.find(url, f"op{n:03d}")
        assert user is not None
        secret, _ = tokens.issue(url, user, "bearer", timedelta(hours=2))
        heads.append({"Authorization": f"Bearer {secret}"})
    items = [queue.enqueue(url, f"web:citizen-{n}", "web", "asked", {"wants": f"诉求{n}"})[0]
             for n in range(args.conversations)]  # fmt: skip
    limits = httpx.Limits(max_connections=args.conversations + args.operators + 200)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        mine: dict[int, list[int]] = {}
        started = time.perf_counter()
        for n, head in enumerate(heads):
            for item in items[n * args.active : (n + 1) * args.active]:
                resp = await http.post(f"/api/v1/handoffs/{item.id}/accept", headers=head)
                assert resp.status_code == 200, resp.text
                mine.setdefault(n, []).append(item.id)
        accept_s = time.perf_counter() - started
        arrived: dict[str, float] = {}
        readies = [asyncio.Event() for _ in items]
        tasks = [asyncio.create_task(citizen_stream(http, f"citizen-{n}", arrived, readies[n]))
                 for n in range(args.conversations)]  # fmt: skip
        tasks += [asyncio.create_task(console_stream(http, head)) for head in heads]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        await asyncio.sleep(2)  # the streams' first fetches are done
        sent: dict[str, float] = {}
        post_s: list[float] = []

        async def operator(n: int) -> None:
            await asyncio.sleep(args.interval * n / args.operators)  # spread the starts
            for m in range(args.messages):
                for handoff in mine.get(n, []):
                    text = f"话务员{n}回复会话{handoff}第{m}条"
                    sent[text] = time.perf_counter()
                    resp = await http.post(f"/api/v1/handoffs/{handoff}/messages",
                                           json={"text": text}, headers=heads[n])  # fmt: skip
                    post_s.append(time.perf_counter() - sent[text])
                    assert resp.status_code == 201, resp.text
                    await asyncio.sleep(args.interval)

        await asyncio.gather(*(operator(n) for n in range(args.operators)))
        deadline = time.perf_counter() + 30
        while len(set(sent) & set(arrived)) < len(sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        latencies = [arrived[t] - sent[t] for t in sent if t in arrived]
        listing = time.perf_counter()
        resp = await http.get("/api/v1/handoffs?status=pending", headers=heads[0])
        list_ms = (time.perf_counter() - listing) * 1000
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    active = sum(len(v) for v in mine.values())
    print(f"operators {args.operators}, conversations {args.conversations} "
          f"({active} active, {args.conversations - active} waiting), "
          f"streams open {args.conversations + args.operators}")  # fmt: skip
    print(f"accepts: {active} in {accept_s:.1f} s ({accept_s / max(active, 1) * 1000:.0f} ms each)")
    print(f"messages: {len(sent)} sent, {len(latencies)} delivered")
    for name, values in (("operator → citizen screen", latencies), ("POST /messages", post_s)):
        ms = [v * 1000 for v in values]
        print(f"{name}: p50 {percentile(ms, 0.5):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
              f"max {max(ms):.0f} ms")  # fmt: skip
    print(f"GET /api/v1/handoffs?status=pending ({len(resp.json()['items'])} items): "
          f"{list_ms:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--active", type=int, default=4, help="conversations each operator takes")
    parser.add_argument("--messages", type=int, default=5, help="per active conversation")
    parser.add_argument("--database-url", default="", help="e.g. postgresql://…; default SQLite")
    parser.add_argument("--interval", type=float, default=1.0, help="s between an operator's")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="hotline-bench-handoff-"))
    port = free_port()
    url = args.database_url or f"sqlite:///{var / 'hotline.db'}"
    db.upgrade(url)
    env = {"HOTLINE_VAR_DIR": str(var), "HOTLINE_PORT": str(port), "HOTLINE_DATABASE_URL": url,
           "HOTLINE_RASA_URL": f"http://127.0.0.1:{free_port()}",
           "HOTLINE_KNOWLEDGE_PRELOAD": "false", "HOTLINE_SLA_SCAN_SECONDS": "0"}  # fmt: skip
    proc = spawn(env, var / "serve.log", part="app")
    try:
        asyncio.run(run(args, f"http://127.0.0.1:{port}", url))
        app = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text()
               .split()]  # fmt: skip
        for pid in app:
            print(f"app RSS: {rss_mb(pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
