"""One queue for every call's recognition work: the utterance that ended first is served first.

Each call's recogniser used to run its own Whisper decode in its own thread; with several
callers the decodes competed for the two cores and each took as long as all of them together.
Here ``workers`` threads (default one) share the model. Calls submit an utterance with the time
it ended and wait; a free worker takes the earliest, adds the other waiting utterances with the
same prompt (up to ``max_batch``) and decodes them as one batch (:mod:`speech.whisper_decode`).
With two workers (each with one CPU thread, the model loaded with two CTranslate2 workers) an
utterance that ends while another is being decoded starts at once instead of waiting for it:
one decode takes longer than with both cores, but no caller waits for another's
(BENCHMARKS.md, "Voice: phone lines at centre scale").

Beam width: ``beam_size`` while the queue is short; from ``greedy_from`` waiting utterances on,
greedy decoding (beam 1), which costs about a third as much (0 keeps the beam always).

The counters (queue length, busy seconds, audio seconds, the wait and decode times) are read by
the speech metrics (:mod:`speech.metrics`) and by the admission rule (:mod:`speech.capacity`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

log = logging.getLogger(__name__)

R = TypeVar("R")
DecodeFn = Callable[[Sequence[np.ndarray], str, int], list[R]]
RATE = 16000


@dataclass(order=True)
class _Job(Generic[R]):
    ended: float  # time.monotonic() when the utterance ended: the queue's order
    seq: int
    audio: np.ndarray = field(compare=False)
    prompt: str = field(compare=False)
    queued: float = field(compare=False)
    future: Future[R] = field(compare=False, default_factory=Future)


@dataclass
class QueueStats:
    decodes: int = 0  # utterances decoded
    batches: int = 0
    workers: int = 1  # worker threads
    # decodes that really run side by side: the workers, unless the cores are fewer (the RTFs
    # below share a decode's seconds among them)
    parallel: int = 1
    busy_seconds: float = 0.0  # time the workers spent decoding (summed over workers)
    audio_seconds: float = 0.0  # speech decoded
    greedy: int = 0  # utterances decoded with beam 1 because the queue was long
    # (wait, decode) seconds of recent utterances: the metrics and capacity read them
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=200))
    # (decode seconds, speech seconds) of the last batches: the cost under the current load
    recent_batches: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=50))

    @property
    def real_time_factor(self) -> float:
        """The queue's time per second of speech so far (decode seconds shared as above)."""
        return self.busy_seconds / self.parallel / self.audio_seconds if self.audio_seconds else 0.0

    @property
    def recent_real_time_factor(self) -> float | None:
        """The queue's time per second of speech over the last batches (a worker's decode
        seconds shared by the workers running at once); None before any."""
        batches = tuple(self.recent_batches)  # a copy: the workers append meanwhile
        speech = sum(a for _, a in batches)
        busy = sum(s for s, _ in batches)
        return busy / self.parallel / speech if speech else None


class DecodeQueue(Generic[R]):
    """Runs decodes in ``workers`` threads, earliest-ended utterance first, batched."""

    def __init__(
        self,
        decode: DecodeFn[R],
        beam_size: int = 5,
        greedy_from: int = 0,
        max_batch: int = 4,
        name: str = "asr-decode",
        observe: Callable[[list[float], float], None] | None = None,
        workers: int = 1,
        parallel: int | None = None,
    ) -> None:
        self._decode = decode
        self._observe = observe  # (each utterance's wait, the batch's seconds): the metrics
        self.beam_size = beam_size
        self.greedy_from = greedy_from
        self.max_batch = max(1, max_batch)
        workers = max(1, workers)
        parallel = min(workers, max(1, parallel or workers))
        self.stats = QueueStats(workers=workers, parallel=parallel)
        self._jobs: list[_Job[R]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        for n in range(self.stats.workers):
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True).start()

    @property
    def length(self) -> int:
        """Utterances waiting (not counting the batch being decoded)."""
        with self._cond:
            return len(self._jobs)

    def submit(self, audio: np.ndarray, prompt: str, ended: float | None = None) -> Future[R]:
        """Queue one utterance (float32, 16 kHz); ``ended`` orders it (default: now)."""
        now = time.monotonic()
        job: _Job[R] = _Job(now if ended is None else ended, next(self._seq), audio, prompt, now)
        with self._cond:
            if self._closed:
                raise RuntimeError("the decode queue is closed")
            heapq.heappush(self._jobs, job)
            self._cond.notify()
        return job.future

    def decode(self, audio: np.ndarray, prompt: str, ended: float | None = None) -> R:
        """Submit and wait for the result (called from a call's recogniser thread)."""
        return self.submit(audio, prompt, ended).result()

    def close(self) -> None:
        """Stop the worker; waiting utterances fail with RuntimeError."""
        with self._cond:
            self._closed = True
            jobs, self._jobs = self._jobs, []
            self._cond.notify_all()
        for job in jobs:
            job.future.set_exception(RuntimeError("the decode queue is closed"))

    def _take(self) -> tuple[list[_Job[R]], int] | None:
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            waiting = len(self._jobs)
            first = heapq.heappop(self._jobs)
            batch = [first]
            rest: list[_Job[R]] = []
            while self._jobs and len(batch) < self.max_batch:
                job = heapq.heappop(self._jobs)
                (batch if job.prompt == first.prompt else rest).append(job)
            for job in rest:
                heapq.heappush(self._jobs, job)
        greedy = self.greedy_from > 0 and waiting >= self.greedy_from
        return batch, 1 if greedy else self.beam_size

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            batch, beam = taken
            started = time.monotonic()
            try:
                results = self._decode([j.audio for j in batch], batch[0].prompt, beam)
            except Exception as exc:  # one bad batch must not stop every call's recognition
                log.exception("decoding %d utterance(s) failed", len(batch))
                for job in batch:
                    job.future.set_exception(exc)
                continue
            done = time.monotonic()
            speech = sum(len(j.audio) for j in batch) / RATE
            waits = [started - j.queued for j in batch]
            with self._cond:  # the other workers count too
                stats = self.stats
                stats.batches += 1
                stats.decodes += len(batch)
                stats.greedy += len(batch) if beam == 1 and self.beam_size > 1 else 0
                stats.busy_seconds += done - started
                stats.audio_seconds += speech
                stats.recent_batches.append((done - started, speech))
                stats.recent.extend((wait, done - started) for wait in waits)
            if self._observe is not None:
                self._observe(waits, done - started)
            for job, result in zip(batch, results, strict=True):
                job.future.set_result(result)
