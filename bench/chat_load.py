"""Chat load: N concurrent citizen sessions against POST /api/v1/chat, one turn every 5 s each.

Each session has its own sender id and plays a realistic conversation, answering what the bot
asks: a greeting, then a policy question (citizen wording from bench/data/consult/tune), a
complaint that goes through the work-order form (bench/data/routing/tune), or small talk.
Per level it reports turns sent, p50/p95/p99 latency, errors (non-2xx, timeouts), the turns the
app served without Rasa (its /metrics "fallback" count: Rasa too slow), achieved turns/s, the
peak resident memory of the app and Rasa, the CPU time each of them spent per turn (what sets
the ceiling on a given number of cores, and less disturbed by other work on a shared machine
than the latencies), and the machine's load average (the machine may be shared: compare levels
run back to back). After the levels, a table per level splits the latencies by what the citizen
sent (a greeting, a question, a form answer, a button, the confirmation that stores an order)
and gives each kind's share of the turns slower than the level's p95: where the tail comes from.

  .venv/bin/python -m bench.chat_load --sessions 60            # one level, own isolated stack
  .venv/bin/python -m bench.chat_load --ramp 20,40,60,80,120   # up to the first p95 > --slo
  .venv/bin/python -m bench.chat_load --url http://127.0.0.1:8000 --pid app=123 --pid rasa=456

Without --url it starts an isolated stack (`hotline serve`, embedded SQLite, fresh state) and
finds its app and Rasa processes itself; with --url (a stack or the cluster's nginx) name the
processes to watch with --pid. `make load` runs the ramp.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.chat_latency import children, percentile, rss_mb
from bench.conversations.replies import Answers, asked, button, clarify_options, intent_buttons

DATA = Path(__file__).parent / "data"
GREETINGS = ["你好", "喂 你好", "在吗", "您好 请问是12345吗"]
SMALL_TALK = ["你们几点上班", "今天几号", "好的", "谢谢你", "再见", "你是机器人吗"]
# A made-up citizen for the work-order form; each session has its own made-up phone number.
FORM_ANSWERS = {
    "name": "王先生",
    "where": "幸福路12号某某小区",
    "when": "这几天每天晚上",
    "what": "一直没人管 希望尽快处理",
    "confirm": "对的",
    "yes_no": "好的",
    "satisfaction": "满意",
    "order_number": "不用了",
    "which_field": "不用改了",
}


def load_texts() -> tuple[list[str], list[str]]:
    """(policy questions, complaints) in citizens' words, from the tuning splits only."""
    questions: list[str] = []
    for part in sorted((DATA / "consult" / "tune").glob("*.yml")):
        questions += [item["q"] for item in yaml.safe_load(part.read_text()) if item.get("q")]
    routing = yaml.safe_load((DATA / "routing" / "tune.yml").read_text())
    complaints = [item["text"] for item in routing if item.get("text")]
    return questions, complaints


@dataclass
class Script:
    """What one session says next; answers the bot's question when it asks one."""

    rng: random.Random
    questions: list[str]
    complaints: list[str]
    queue: list[tuple[str, str]] = field(default_factory=list)  # (text, kind) still to say
    phone: str = "13800000000"
    answers: Answers = field(default_factory=lambda: Answers({}))
    form_turns: int = 0
    kind: str = ""  # of the text last returned by next(): where the latency tables split turns

    def next(self, last: list[dict[str, Any]]) -> str:
        reply = self._answer(last)
        if reply is not None and self.form_turns < 8:  # a form that never ends is left
            self.form_turns += 1
            return reply
        if not self.queue:
            self.form_turns = 0
            kind = self.rng.choices(["consult", "complaint", "chat"], weights=[5, 3, 2])[0]
            self.queue = [(self.rng.choice(GREETINGS), "greeting")]
            if kind == "consult":
                asked = self.rng.sample(self.questions, 2)
                self.queue += [(q, "question") for q in asked] + [("谢谢", "small talk")]
            elif kind == "complaint":
                self.queue += [(self.rng.choice(self.complaints), "complaint")]
            else:
                self.queue += [(t, "small talk") for t in self.rng.sample(SMALL_TALK, 3)]
        text, self.kind = self.queue.pop(0)
        return text

    def _answer(self, last: list[dict[str, Any]]) -> str | None:
        what = asked(last, self.answers)
        self.kind = f"answer: {what}"
        if what == "clarify":
            return clarify_options(last)[0][1]
        if what == "intents":
            pressed = button(last, "complaint") or intent_buttons(last)[0]["payload"]
            self.kind = f"button: {pressed}"
            return pressed
        if what == "confirm" and (payload := button(last, "affirm")):
            self.kind = "confirm: store the order"
            return payload
        return self.phone if what == "phone" else FORM_ANSWERS.get(what or "")


@dataclass
class Level:
    sessions: int
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # Script.kind -> latencies
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    started: float = 0.0
    ended: float = 0.0
    rss: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds during the level
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    outcomes: dict[str, float] = field(default_factory=dict)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else float("nan")


async def session(
    http: httpx.AsyncClient,
    url: str,
    sender: str,
    script: Script,
    level: Level,
    interval: float,
    offset: float,
    until: float,
) -> None:
    """One citizen: a turn every `interval` s (or as soon as the last reply came, if late)."""
    await asyncio.sleep(offset)
    last: list[dict[str, Any]] = []
    due = time.monotonic()
    while due < until:
        text = script.next(last)
        start = time.monotonic()
        level.sent += 1
        try:
            resp = await http.post(url, json={"sender": sender, "text": text, "channel": "api"})
            elapsed = time.monotonic() - start
            if resp.status_code // 100 != 2:
                level.errors[f"HTTP {resp.status_code}"] += 1
                last = []
            else:
                level.latencies.append(elapsed)
                level.by_kind.setdefault(script.kind, []).append(elapsed)
                last = resp.json().get("messages") or []
        except httpx.TimeoutException:
            level.errors["timeout"] += 1
            last = []
        except httpx.HTTPError as exc:
            level.errors[type(exc).__name__] += 1
            last = []
        due += interval
        await asyncio.sleep(max(0.0, due - time.monotonic()))


async def watch_rss(pids: dict[str, int], level: Level, stop: asyncio.Event) -> None:
    """The peak resident memory of each watched process during the level."""
    while not stop.is_set():
        for name, pid in pids.items():
            with contextlib.suppress(OSError):  # the process is gone
                level.rss[name] = max(level.rss.get(name, 0.0), rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def chat_outcomes(http: httpx.AsyncClient, base: str) -> dict[str, float]:
    """The app's hotline_chat_turns_total by outcome (ok, error, fallback), summed over replicas
    only as far as one base URL reaches; empty when /metrics is not reachable."""
    try:
        resp = await http.get(f"{base}/metrics")
    except httpx.HTTPError:
        return {}
    if resp.status_code != 200:
        return {}
    counts: dict[str, float] = {}
    for m in re.finditer(r'^hotline_chat_turns_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)$',
                         resp.text, re.M):  # fmt: skip
        counts[m.group(1)] = counts.get(m.group(1), 0.0) + float(m.group(2))
    return counts


async def wait_until_loaded(base: str, limit: float = 900) -> None:
    """Wait until the app has loaded its router (HOTLINE_KNOWLEDGE_PRELOAD, on in `hotline
    serve`): on a fresh machine the first start trains it in the background (minutes of CPU),
    which would be measured as load otherwise."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                deps = (await http.get(f"{base}/health")).json().get("dependencies", {})
                if deps.get("router", {}).get("loaded"):
                    return
            await asyncio.sleep(2)
    raise SystemExit(f"the app at {base} did not load its router within {limit:.0f} s")


async def run_level(
    base: str, sessions: int, seconds: float, interval: float, pids: dict[str, int], seed: int
) -> Level:
    level = Level(sessions)
    questions, complaints = load_texts()
    limits = httpx.Limits(max_connections=sessions + 10, max_keepalive_connections=sessions + 10)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        before = await chat_outcomes(http, base)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_rss(pids, level, stop))
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        level.started = time.monotonic()
        until = level.started + seconds
        tag = f"load-{seed}-{sessions}-{int(time.time())}"
        tasks = [
            session(http, f"{base}/api/v1/chat", f"{tag}-{i}",
                    Script(random.Random(seed * 100_000 + i), questions, complaints,
                           phone=f"1380000{i % 10_000:04d}"),
                    level, interval, interval * i / sessions, until)
            for i in range(sessions)
        ]  # fmt: skip
        await asyncio.gather(*tasks)
        level.ended = time.monotonic()
        level.cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        level.load = os.getloadavg()
        stop.set()
        await watcher
        after = await chat_outcomes(http, base)
        level.outcomes = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return level


def row(level: Level) -> str:
    errors = sum(level.errors.values())
    rate = level.sent / (level.ended - level.started)
    rss = " ".join(f"{k} {v:.0f}" for k, v in sorted(level.rss.items())) or "-"
    fallback = level.outcomes.get("fallback", 0)
    load = "/".join(f"{x:.1f}" for x in level.load)
    per_turn = 1000 / max(1, level.sent)
    cpu = " ".join(f"{k} {v * per_turn:.0f}" for k, v in sorted(level.cpu.items())) or "-"
    return (
        f"| {level.sessions} | {level.sent} | {1000 * level.p(0.5):.0f} | "
        f"{1000 * level.p(0.95):.0f} | {1000 * level.p(0.99):.0f} | {errors} | {fallback:.0f} | "
        f"{rate:.1f} | {rss} | {cpu} | {load} |"
    )


def kinds_table(level: Level) -> str:
    """Latency per kind of turn, and each kind's share of the turns slower than the level's
    p95: which turns make the tail (a confirmation that stores an order, a button...)."""
    slow = level.p(0.95)
    tail = sum(x > slow for x in level.latencies) or 1
    lines = [
        "| turn | n | p50 ms | p95 ms | share of the tail |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, times in sorted(level.by_kind.items(), key=lambda kv: -len(kv[1])):
        lines.append(
            f"| {kind} | {len(times)} | {1000 * percentile(times, 0.5):.0f} | "
            f"{1000 * percentile(times, 0.95):.0f} | {sum(x > slow for x in times) / tail:.2f} |"
        )
    return "\n".join(lines)


HEADER = (
    "| sessions | turns | p50 ms | p95 ms | p99 ms | errors | fallback | turns/s | "
    "peak RSS MB | CPU ms per turn | load 1/5/15 |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
)


def parse_pids(values: list[str]) -> dict[str, int]:
    out = {}
    for value in values:
        name, _, pid = value.partition("=")
        out[name] = int(pid)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="base URL of a running app or the cluster's proxy")
    parser.add_argument("--pid", action="append", default=[], help="NAME=PID to watch (RSS)")
    parser.add_argument("--sessions", type=int, default=60, help="one level of this many")
    parser.add_argument("--ramp", help="comma-separated levels; stops after the first p95 > slo")
    parser.add_argument("--seconds", type=float, default=60, help="length of each level")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between turns")
    parser.add_argument("--slo", type=float, default=1.0, help="p95 seconds a level must hold")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    levels = [int(x) for x in args.ramp.split(",")] if args.ramp else [args.sessions]
    stack = None
    if args.url:
        base, pids = args.url.rstrip("/"), parse_pids(args.pid)
    else:
        from hotline.serve import start_isolated

        stack = start_isolated(Path(tempfile.mkdtemp(prefix="hotline-load-")))
        base, pids = stack.url, children(stack.proc.pid)
        print(f"isolated stack: app {stack.url}, rasa {stack.rasa_url}, pids {pids}")
    # The generator shares the machine: its own CPU per turn is part of what the cores carry.
    pids = {**pids, "load": os.getpid()}
    try:
        asyncio.run(wait_until_loaded(base))
        asyncio.run(run_level(base, 5, 10, args.interval, {}, args.seed + 999))  # warm-up
        print(f"{args.seconds:.0f} s per level, a turn every {args.interval:.0f} s per session; "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print(HEADER, flush=True)
        held, ran = 0, []
        for sessions in levels:
            level = asyncio.run(
                run_level(base, sessions, args.seconds, args.interval, pids, args.seed)
            )
            ran.append(level)
            print(row(level), flush=True)
            if level.errors:
                print(f"  errors: {dict(level.errors)}", flush=True)
            if level.p(0.95) > args.slo or not level.latencies:
                break
            held = sessions
        if args.ramp:
            print(f"most sessions with p95 <= {args.slo:.1f} s: {held or 'none of the levels'}")
        for level in ran:
            print(f"\n{level.sessions} sessions, by what the citizen sent:\n{kinds_table(level)}")
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    main()
