"""Prometheus metrics of the phone lines, per process (issue 20).

Served at the app's /metrics with the rest, and by `hotline voice audiosocket --metrics-port`
for a standalone speech process. What an operator of the lines watches:

* calls in progress and calls refused at capacity (with the capacity the process measured);
* the recogniser's queue: utterances waiting, how long they wait and decode, and the real-time
  factor (decode seconds per second of speech: above about 0.3 callers start to wait);
* what callers notice: from the end of their speech to the first audio of the answer.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

ACTIVE_CALLS = Gauge("hotline_voice_active_calls", "Calls in progress in this process")
CAPACITY = Gauge(
    "hotline_voice_capacity_calls", "Calls this process admits now (speech/capacity.py)"
)
REFUSED = Counter(
    "hotline_voice_refused_total", "Calls past capacity, by what the caller chose", ["choice"]
)
REPLY_SECONDS = Histogram(
    "hotline_voice_reply_seconds",
    "From the end of the caller's speech to the first audio of the answer",
    buckets=(0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 8.0),
)
QUEUE_LENGTH = Gauge("hotline_asr_queue_length", "Utterances waiting for the recogniser")
QUEUE_WAIT = Histogram(
    "hotline_asr_queue_wait_seconds",
    "Time an utterance waited for the recogniser",
    buckets=(0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2),
)
DECODE_SECONDS = Histogram(
    "hotline_asr_decode_seconds",
    "Time the recogniser took for a batch of utterances",
    buckets=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2),
)
REAL_TIME_FACTOR = Gauge(
    "hotline_asr_real_time_factor", "Recogniser seconds per second of speech decoded, so far"
)


def watch_engine(engine: Any) -> None:
    """Read the queue length and real-time factor from the engine's decode queue, if it has one
    (Vosk decodes in each call's thread and has none)."""
    queue = getattr(engine, "queue", None)
    if queue is None:
        return
    QUEUE_LENGTH.set_function(lambda: queue.length)
    REAL_TIME_FACTOR.set_function(lambda: queue.stats.real_time_factor)


def observe_decode(waits: list[float], seconds: float) -> None:
    """One batch: each utterance's wait in the queue, and the batch's decode time."""
    for wait in waits:
        QUEUE_WAIT.observe(wait)
    DECODE_SECONDS.observe(seconds)
