"""Voice: reply latency and how many concurrent phone calls stay real-time.

One call centre with the real engines (`speech.asr.load_engine`, `speech.tts.load_tts`, as
configured by HOTLINE_* settings) and N simulated callers, over either transport
(`--transport`, each a small adapter: `Phones` dials a `Line`; the callers and the report are
the same):

- `audiosocket` (default): an in-process AudioSocket listener, dialled as Asterisk's
  AudioSocket() does (the call's UUID, then 0x10 audio frames);
- `ws`: the app itself (`gateway.app.create_app`, served by uvicorn in this process and event
  loop, its database in a temporary folder) with this call centre, dialled over WS /voice/ws as
  the browser call page or a SIP gateway does: a start message at 8 kHz, binary slin16 frames, no
  account and no caller id (the endpoint is open to citizens: docs/operations.md, docs/api.md).

Each caller streams 20 ms frames of 8 kHz slin16 in real time the whole call, as Asterisk does
(silence between utterances), and says `--turns` sentences, each 0.3–1.2 s (seeded) after the
hotline has finished speaking: by default the ASR benchmark's recorded questions and complaints
through a phone line (bench/data/asr_audio, 8 kHz µ-law, `--voice recorded`), or the project's TTS
speaking bench sentences (`--voice espeak`). Measured per turn:

- latency: from the caller's last speech frame (RMS above 300) to the first audio frame of the
  hotline's answer (end-of-speech detection + recognition + bot turn + TTS + the first frame);
- lateness: how far each frame of the answer arrives behind a real-time schedule anchored at its
  first frame (a phone's jitter buffer hides about 100 ms);

and per level the process's peak resident memory above the baseline with the engines loaded,
its CPU time per call (cores a call keeps busy), the calls refused or sent to the overflow
prompt, and the CER of what the (canned) bot was sent against what the callers said, next to
the CER of the same sentences recognised one at a time with nothing else running ("alone").
A level "stays real-time" when at most 1% of answer frames are over 100 ms late and its p95 is
at most 1.5 times the p95 of the first level (one call): beyond that, calls wait for each
other's recognition (the CPU is saturated) rather than for their own. The bot is a canned
in-process reply unless `--rasa-url` names a running Rasa (then each turn goes through
`run_turn` and a temporary SQLite log).

Run: `.venv/bin/python -m bench.voice_latency [--transport audiosocket|ws] [--calls 1,2,4,8]
[--turns 6] [--asr endpoint] [--port N]` (the engine comes from HOTLINE_ASR_ENGINE etc.;
`--asr endpoint` replaces recognition with an energy end-pointer to measure what the call
pipeline itself can carry; `--port`: the listener's or the app's port, default any free one).
Calls that could not be placed at all (the connection or the start refused) count as refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.asr_cer import (
    RECORDINGS,
    canonical_norm,
    load_utterances,
    phone_quality,
    read_recording,
    stream,
)
from hotline.settings import Settings
from speech.audiosocket import KIND_AUDIO, KIND_HANGUP, KIND_ID, AudioSocketServer, frame
from speech.calls import CallCenter
from speech.engine import Recognition
from speech.normalize import edit_distance
from speech.session import BotReply, CallOutcome, SessionConfig, TurnFn

SENTENCES = [
    "我想咨询一下公积金怎么提取",
    "我家楼下的饭店晚上太吵了",
    "社保卡丢了应该怎么补办",
    "小区门口的路灯坏了好几天了",
    "我想问一下居住证怎么办理",
    "公司拖欠工资三个月了怎么办",
    "这个月的医保报销什么时候到账",
    "附近工地半夜还在施工",
]
CANNED = "好的，您反映的情况已经记录，请问还有其他需要吗？"
FRAME = 320  # 20 ms at 8 kHz
SPEECH_RMS = 300.0  # a frame louder than this is speech: the caller's speech ends after the last
QUIET_AFTER = 0.5  # the hotline has finished speaking when no audio came for this long


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class EndpointRecognizer:
    """`--asr endpoint`: no recognition, only an energy end-pointer (0.6 s of silence after
    speech gives a final) — measures the call pipeline without the cost of an ASR model."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._voiced = False
        self._silent = 0.0

    def accept(self, pcm: bytes) -> list[Recognition]:
        step = self.sample_rate // 50
        out: list[Recognition] = []
        for i in range(0, len(pcm) // 2 - step + 1, step):
            loud = rms(pcm[2 * i : 2 * (i + step)]) > SPEECH_RMS
            if loud:
                if not self._voiced:
                    out.append(Recognition("…", False, 0.0, 0.0, 0.0))
                self._voiced, self._silent = True, 0.0
            elif self._voiced:
                self._silent += 0.02
                if self._silent >= 0.6:
                    self._voiced = False
                    out.append(Recognition("我想咨询一下", True, 0.9, 0.0, 0.0))
        return out

    def finish(self) -> list[Recognition]:
        return []

    def reset(self) -> None:
        self._voiced, self._silent = False, 0.0


class EndpointASR:
    name = "endpoint (no model)"

    def recognizer(self, sample_rate: int, phrases: Any = None) -> EndpointRecognizer:
        return EndpointRecognizer(sample_rate)


# The triage decision of an answered question (gateway TurnOutcome.decision).
ANSWERED = {"kind": "answer", "handoff": False}


class CannedHooks:
    """A canned bot; the outcomes keep what each caller was heard to say (for the CER)."""

    def __init__(self) -> None:
        self.outcomes: list[CallOutcome] = []

    def turn_for(self, call_id: str) -> TurnFn:
        async def turn(text: str, metadata: dict[str, Any]) -> BotReply:
            return BotReply([{"text": CANNED}], intent="consult", decision=ANSWERED)

        return turn

    async def caller_of(self, call_id: str) -> str | None:
        return None

    async def passes_on(self, call_id: str) -> bool:
        return False  # one speech process: a call past capacity is told and offered a choice

    async def request_callback(self, call_id: str, caller_number: str) -> str:
        return "00000000-0000"  # callers here have no number: never asked

    async def finished(self, outcome: CallOutcome) -> CallOutcome:
        self.outcomes.append(outcome)
        return outcome


@dataclass(frozen=True)
class Said:
    text: str  # what the caller says (the CER's reference)
    pcm: bytes  # slin16 at 8 kHz


def recorded_speech() -> list[Said]:
    """The ASR benchmark's recorded questions and complaints through a phone line (8 kHz)."""
    utts = [u for u in load_utterances(None) if u.kind in ("question", "complaint")]
    return [
        Said(u.text, phone_quality(read_recording(RECORDINGS / f"{u.id}.flac"), seed=n))
        for n, u in enumerate(utts)
    ]


async def outcomes_of(center: CallCenter, ids: list[str]) -> list[CallOutcome]:
    """The stored outcomes of these calls (stored just after each call ends)."""
    for _ in range(100):
        found = [o for o in getattr(center.hooks, "outcomes", []) if o.call_id in ids]
        if len(found) == len(ids):
            break
        await asyncio.sleep(0.1)
    return found


def idle_text(asr: Any, pcm: bytes, center: CallCenter) -> str:
    """One sentence through a fresh recogniser, alone, as the bot would get it."""
    text, _ = stream(asr, pcm, 8000)
    return center.lexicon.transcript_for_bot(text)


@dataclass
class CallStats:
    call_id: str | None = None  # None: the call could not be placed at all
    latencies: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    misses: int = 0
    ended_early: bool = False


class Line(Protocol):
    """One caller's connection to the hotline, whichever transport carries it."""

    call_id: str

    async def send(self, pcm: bytes) -> None:
        """20 ms of the caller's audio; ConnectionError once the connection is gone."""
        ...

    async def heard(self) -> bytes | None:
        """The next frame of the hotline's audio; None once the hotline has ended the call."""
        ...

    async def hang_up(self) -> None: ...

    async def close(self) -> None: ...


class Phones(Protocol):
    """A transport the callers dial through (the adapters below)."""

    name: str

    async def start(self) -> None: ...

    async def dial(self) -> Line: ...

    async def stop(self) -> None: ...


class AudioSocketLine:
    """Asterisk's side of AudioSocket(): the call's UUID first, then 0x10 audio frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.call_id = str(uuid.uuid4())
        self.reader, self.writer = reader, writer
        writer.write(frame(KIND_ID, uuid.UUID(self.call_id).bytes))

    async def send(self, pcm: bytes) -> None:
        self.writer.write(frame(KIND_AUDIO, pcm))

    async def heard(self) -> bytes | None:
        try:
            while True:
                header = await self.reader.readexactly(3)
                data = await self.reader.readexactly(int.from_bytes(header[1:], "big"))
                if header[0] == KIND_AUDIO:
                    return data
                if header[0] == KIND_HANGUP:
                    return None
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def hang_up(self) -> None:
        self.writer.write(frame(KIND_HANGUP))
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()


class AudioSocketPhones:
    """`--transport audiosocket`: an AudioSocket listener on the bench's call centre, dialled
    as Asterisk's AudioSocket() does."""

    name = "audiosocket"

    def __init__(self, center: CallCenter, port: int = 0) -> None:
        self.server = AudioSocketServer(center, "127.0.0.1", port)

    async def start(self) -> None:
        await self.server.start()

    async def dial(self) -> Line:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        return AudioSocketLine(reader, writer)

    async def stop(self) -> None:
        await self.server.stop()


class WebSocketLine:
    """A client of WS /voice/ws (gateway/voice_ws.py): a start message, then binary slin16."""

    def __init__(self, ws: ClientConnection, call_id: str) -> None:
        self.ws, self.call_id = ws, call_id

    @classmethod
    async def dial(cls, url: str) -> WebSocketLine:
        ws = await ws_connect(url, max_size=None)
        try:
            await ws.send(json.dumps({"type": "start", "sample_rate": 8000}))
            while True:  # the call id is the server's, in its "started" event
                message = await ws.recv()
                event = json.loads(message) if isinstance(message, str) else {}
                if event.get("type") == "started":
                    return cls(ws, event["call_id"])
                if event.get("type") == "error":
                    raise ConnectionError(f"/voice/ws refused the call: {event['message']}")
        except BaseException:
            await ws.close()
            raise

    async def send(self, pcm: bytes) -> None:
        try:
            await self.ws.send(pcm)
        except ConnectionClosed as exc:
            raise ConnectionError("the hotline closed the call") from exc

    async def heard(self) -> bytes | None:
        try:
            while True:
                message = await self.ws.recv()
                if isinstance(message, bytes):
                    return message
                if json.loads(message).get("type") == "end":  # else partial, final, bot, …
                    return None
        except ConnectionClosed:
            return None

    async def hang_up(self) -> None:
        try:
            await self.ws.send(json.dumps({"type": "hangup"}))
        except ConnectionClosed as exc:
            raise ConnectionError("the hotline closed the call") from exc

    async def close(self) -> None:
        await self.ws.close()


class WebSocketPhones:
    """`--transport ws`: the app (gateway.app.create_app) served by uvicorn in this process and
    event loop, as `hotline serve` serves it, with the bench's call centre as its `calls` (so
    both transports reach the same engines and bot, and the process's CPU and memory are read
    the same way); the callers dial WS /voice/ws as the browser call page or a SIP gateway
    does. The endpoint is open to citizens without an account (docs/operations.md, "Open
    without an account"), so the callers send no credentials, and no caller id either (only a
    trusted gateway may set one: HOTLINE_VOICE_WS_TRUST_CALLER_ID)."""

    name = "ws"

    def __init__(self, center: CallCenter, settings: Settings, port: int = 0) -> None:
        import uvicorn

        from gateway.app import create_app

        app = create_app(settings)
        app.state.calls = center  # the app's lifespan keeps a call centre it is given
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.url = ""
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._serving = asyncio.create_task(self.server.serve(), name="bench-app")
        while not self.server.started:
            if self._serving.done():  # the port was taken, or the app failed to start
                raise RuntimeError("the app did not start") from self._serving.exception()
            await asyncio.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/voice/ws"

    async def dial(self) -> Line:
        return await WebSocketLine.dial(self.url)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._serving is not None:
            await self._serving


async def one_call(
    phones: Phones, speech: list[bytes], stats: CallStats, pauses: list[float]
) -> None:
    loop = asyncio.get_running_loop()
    try:
        line = await phones.dial()
    except (OSError, InvalidHandshake, ConnectionClosed) as exc:  # never got through: refused
        print(f"  a call could not be placed: {exc!r}", flush=True)
        stats.ended_early = True
        return
    stats.call_id = line.call_id
    arrivals: list[float] = []
    outgoing: asyncio.Queue[bytes] = asyncio.Queue()
    last_speech_sent = [0.0]
    done = asyncio.Event()

    async def receive() -> None:
        while await line.heard() is not None:
            arrivals.append(loop.time())
        stats.ended_early = not done.is_set()  # the hotline ended the call (e.g. silence)
        done.set()

    async def send() -> None:
        """Real-time 20 ms frames for the whole call: speech when queued, else silence."""
        start, i = loop.time(), 0
        try:
            while not done.is_set():
                data = outgoing.get_nowait() if not outgoing.empty() else b"\0" * FRAME
                await line.send(data)
                if rms(data) > SPEECH_RMS:
                    last_speech_sent[0] = loop.time()
                i += 1
                await asyncio.sleep(max(0.0, start + i * 0.02 - loop.time()))
            if not stats.ended_early:
                await line.hang_up()
        except ConnectionError:
            pass

    async def quiet() -> None:
        """Until the hotline has spoken and then stopped for QUIET_AFTER."""
        while (not arrivals or loop.time() - arrivals[-1] < QUIET_AFTER) and not done.is_set():
            await asyncio.sleep(0.05)

    receiver, sender = asyncio.create_task(receive()), asyncio.create_task(send())
    try:
        await quiet()  # the greeting
        for pcm, pause in zip(speech, pauses, strict=True):
            if done.is_set():
                stats.misses += 1
                continue
            await asyncio.sleep(pause)  # a person takes a moment before answering
            seen = len(arrivals)
            for offset in range(0, len(pcm), FRAME):
                outgoing.put_nowait(pcm[offset : offset + FRAME].ljust(FRAME, b"\0"))
            while not outgoing.empty():
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.04)
            ended = last_speech_sent[0]
            while (len(arrivals) <= seen or arrivals[-1] < ended) and loop.time() < ended + 30:
                if done.is_set():
                    break
                await asyncio.sleep(0.01)
            if len(arrivals) <= seen or arrivals[-1] < ended:
                stats.misses += 1  # no answer within 30 s (an empty result, or overload)
                continue
            first = next(t for t in arrivals[seen:] if t >= ended)
            stats.latencies.append(first - ended)
            await quiet()
            answer = [t for t in arrivals[seen:] if t >= first]
            stats.lateness.extend(t - (first + k * 0.02) for k, t in enumerate(answer))
    finally:
        done.set()
        await sender
        receiver.cancel()
        await line.close()


async def level(
    center: CallCenter,
    phones: Phones,
    calls: int,
    speech: list[Said],
    turns: int,
    idle: dict[str, str],
    seed: int = 0,
) -> dict[str, Any]:
    peak = [rss_mb()]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_mb())
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    base = rss_mb()
    stats = [CallStats() for _ in range(calls)]
    # Each caller says different sentences, so calls do not finish speaking in lockstep, and
    # pauses 0.3–1.2 s before each (seeded: every run hears the same calls).
    rng = random.Random(seed)
    scripts = [[speech[(c * 3 + t) % len(speech)] for t in range(turns)] for c in range(calls)]
    pauses = [[rng.uniform(0.3, 1.2) for _ in range(turns)] for _ in range(calls)]
    queue = center.decode_queue
    queued_before = (queue.stats.decodes, queue.stats.batches) if queue else (0, 0)
    cpu, started = os.times(), time.monotonic()
    await asyncio.gather(
        *(one_call(phones, [s.pcm for s in scripts[c]], stats[c], pauses[c]) for c in range(calls))
    )
    wall = time.monotonic() - started
    used = os.times()
    cpu_s = (used.user - cpu.user) + (used.system - cpu.system)
    sampler.cancel()
    # The transport names a call (the WebSocket's id is the server's); None: never got through.
    ids = [s.call_id or "" for s in stats]
    outcomes = await outcomes_of(center, [i for i in ids if i])
    # Calls past capacity heard the overflow prompt instead of a conversation, and calls that
    # could not be placed heard nothing: counted as refused, not in the latencies or the CER.
    turned_away = {o.call_id for o in outcomes if o.outcome == "refused" or o.reason == "overflow"}
    served = [c for c in range(calls) if ids[c] and ids[c] not in turned_away]
    lat = [x for c in served for x in stats[c].latencies]
    late = [x for c in served for x in stats[c].lateness]
    # What the session heard each caller say (after the lexicon, as the bot gets it), including
    # what it read back for confirmation rather than sending at once.
    heard = {
        o.call_id: [e["text"] for e in o.transcript if e.get("input") == "speech"] for o in outcomes
    }
    errors = idle_errors = chars = 0
    for c in served:
        if ids[c] in heard:
            reference = canonical_norm("".join(s.text for s in scripts[c]))
            errors += edit_distance(reference, canonical_norm("".join(heard[ids[c]])))
            alone = "".join(idle.get(s.text, "") for s in scripts[c])
            idle_errors += edit_distance(reference, canonical_norm(alone))
            chars += len(reference)
    if queue is not None:  # where an answer's time goes: the recogniser's queue
        decodes = queue.stats.decodes - queued_before[0]
        recent = list(queue.stats.recent)[-decodes:] if decodes else []
        print(
            f"  decode queue: {decodes} utterances in {queue.stats.batches - queued_before[1]} "
            f"batches, decode p50 {percentile([d for _, d in recent], 0.5):.2f} s, "
            f"wait p50 {percentile([w for w, _ in recent], 0.5):.2f} s, "
            f"p95 {percentile([w for w, _ in recent], 0.95):.2f} s",
            flush=True,
        )
    refused = calls - len(served)
    ended = Counter(f"{o.outcome}/{o.reason}" for o in outcomes)
    print(f"  outcomes: {dict(ended)}, capacity {center.admits()}", flush=True)
    return {
        "calls": calls,
        "turns": len(lat),
        "misses": sum(stats[c].misses for c in served),
        "ended_early": sum(stats[c].ended_early for c in served),
        "p50": percentile(lat, 0.5),
        "p95": percentile(lat, 0.95),
        "max_late": max(late) if late else 0.0,
        "late_share": sum(x > 0.1 for x in late) / len(late) if late else 0.0,
        "mb_per_call": (peak[0] - base) / calls,
        "wall": wall,
        "cer": errors / chars if chars else float("nan"),
        "cer_idle": idle_errors / chars if chars else float("nan"),
        "refused": refused,
        "cpu_per_call": cpu_s / wall / calls,  # cores a call keeps busy
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as var:
        await bench(args, Path(var))


async def bench(args: argparse.Namespace, var: Path) -> None:
    from speech.asr import load_engine
    from speech.tts import load_tts

    # var: the database of the app (`--transport ws`) and of the bot's turns (`--rasa-url`).
    settings = Settings(
        var_dir=var,
        database_url="",
        rasa_url=args.rasa_url or "",
        redis_url=None,
        knowledge_preload=False,
        sla_scan_seconds=0,
        max_calls=max(args.calls),
    )
    before = rss_mb()
    t = time.monotonic()
    asr = EndpointASR() if args.asr == "endpoint" else load_engine(settings)
    tts = load_tts(settings)
    print(f"engines: ASR {asr.name}, TTS {tts.name}; loaded in {time.monotonic() - t:.1f} s")
    if args.voice == "recorded":
        speech = recorded_speech()
    else:
        speech = [Said(s, tts.synthesize(s, 8000)) for s in SENTENCES]
    print(f"{len(speech)} sentences ({args.voice}); ASR window {settings.asr_window}")
    if args.rasa_url:
        from gateway.calls_api import GatewayCallHooks
        from gateway.rasa_client import RasaClient
        from hotline import db

        class KeptHooks(GatewayCallHooks):
            """The app's hooks (outcomes stored in the database), keeping the outcomes for the
            report as CannedHooks does."""

            def __init__(self, *args: Any) -> None:
                super().__init__(*args)
                self.outcomes: list[CallOutcome] = []

            async def finished(self, outcome: CallOutcome) -> CallOutcome:
                stored = await super().finished(outcome)
                self.outcomes.append(stored)
                return stored

        db.upgrade(settings.database_url)
        rasa = RasaClient(args.rasa_url, settings.rasa_timeout)
        hooks: Any = KeptHooks(settings, lambda: rasa)
    else:
        hooks = CannedHooks()
    from gateway.voice_lexicon import hotline_lexicon

    config = SessionConfig.from_settings(settings)
    center = CallCenter(
        config, max(args.calls), lambda: asr, lambda: tts, hooks, lexicon=hotline_lexicon()
    )
    await center.warm_up(rates=(8000,))
    # One listener (or app) for every level (stopping it stops the call centre taking calls).
    phones: Phones = (
        WebSocketPhones(center, settings, args.port)
        if args.transport == "ws"
        else AudioSocketPhones(center, args.port)
    )
    await phones.start()
    print(f"transport: {phones.name}", flush=True)
    # A short call first: model caches and threads warm before anything is measured.
    await level(center, phones, 1, speech, 1, {})
    # The same sentences recognised one at a time, nothing else running: the idle CER each
    # level's is compared with (what the bot gets: after the lexicon, as in a call).
    idle = {s.text: idle_text(asr, s.pcm, center) for s in speech}
    print(f"resident memory with the engines loaded: {rss_mb():.0f} MB (+{rss_mb() - before:.0f})")
    rows: list[dict[str, Any]] = []
    for n in args.calls:
        row = await level(center, phones, n, speech, args.turns, idle)
        base = rows[0]["p95"] if rows else row["p95"]
        row["realtime"] = (
            row["turns"] > 0 and row["late_share"] <= 0.01 and row["p95"] <= 1.5 * base
        )
        rows.append(row)
        print(
            f"{n} calls: p50 {row['p50']:.2f} s, p95 {row['p95']:.2f} s, CER {row['cer']:.1%} "
            f"(alone {row['cer_idle']:.1%}), "
            f"{row['refused']} refused, worst frame {row['max_late'] * 1000:.0f} ms late, "
            f"{row['late_share']:.1%} >100 ms late, {row['mb_per_call']:.0f} MB/call, "
            f"{row['cpu_per_call']:.2f} cores/call, "
            f"{row['misses']} unanswered, {row['ended_early']} calls ended by the hotline, "
            f"{'real-time' if row['realtime'] else 'NOT real-time'} ({row['wall']:.0f} s, "
            f"load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    print()
    print("| concurrent calls | answered turns | unanswered | refused | latency p50 s | p95 s "
          "| CER | CER alone | worst frame late ms | frames >100 ms late | MB per call "
          "| cores per call | real-time |")  # fmt: skip
    print("|" + " ---: |" * 12 + " --- |")
    for r in rows:
        print(
            f"| {r['calls']} | {r['turns']} | {r['misses']} | {r['refused']} | {r['p50']:.2f} | "
            f"{r['p95']:.2f} | {r['cer']:.1%} | {r['cer_idle']:.1%} | {r['max_late'] * 1000:.0f} | "
            f"{r['late_share']:.1%} | {r['mb_per_call']:.0f} | {r['cpu_per_call']:.2f} | "
            f"{'yes' if r['realtime'] else 'no'} |"
        )
    latencies = statistics.mean(r["p50"] for r in rows)
    print(f"\nmean of the p50s: {latencies:.2f} s")
    await phones.stop()
    center.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 2, 4, 8],
        help="concurrency levels, comma-separated",
    )
    parser.add_argument("--turns", type=int, default=6, help="sentences per call")
    parser.add_argument(
        "--voice",
        choices=["recorded", "espeak"],
        default="recorded",
        help="recorded: the ASR benchmark's neural-voice recordings through a phone line; "
        "espeak: the project's TTS speaking bench sentences",
    )
    parser.add_argument("--rasa-url", help="a running Rasa (default: a canned in-process bot)")
    parser.add_argument(
        "--transport",
        choices=["audiosocket", "ws"],
        default="audiosocket",
        help="audiosocket: an AudioSocket listener dialled as Asterisk does; ws: the app's "
        "WS /voice/ws dialled as the browser call page or a SIP gateway does",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the listener's (audiosocket) or the app's (ws) port on 127.0.0.1; 0: any free one",
    )
    parser.add_argument(
        "--asr",
        choices=["configured", "endpoint"],
        default="configured",
        help="endpoint: no ASR model, an energy end-pointer (the pipeline's own cost)",
    )
    asyncio.run(main(parser.parse_args()))
