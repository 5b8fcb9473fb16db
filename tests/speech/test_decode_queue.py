"""The decode queue every call shares: first-ended first, batches, greedy when long, closing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from speech.decode_queue import DecodeQueue


class Recorder:
    """A decode function that holds the first batch until released and records every batch."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[str], int]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, audios: Sequence[np.ndarray], prompt: str, beam: int) -> list[str]:
        names = [f"{prompt}:{int(a[0])}" for a in audios]
        self.batches.append((names, beam))
        self.started.set()
        self.release.wait(10)
        return names


def utterance(n: int) -> np.ndarray:
    return np.full(1600, n, dtype=np.float32)  # 0.1 s; the first sample names it


def test_the_utterance_that_ended_first_is_served_first_in_batches() -> None:
    rec = Recorder()
    queue: DecodeQueue[str] = DecodeQueue(rec, beam_size=5, max_batch=2)
    try:
        busy = queue.submit(utterance(0), "p", ended=0.0)
        assert rec.started.wait(10)  # the worker is busy with utterance 0
        # Submitted in another order than they ended; one has another prompt.
        late = queue.submit(utterance(3), "p", ended=30.0)
        other = queue.submit(utterance(2), "q", ended=15.0)
        early = queue.submit(utterance(1), "p", ended=10.0)
        also = queue.submit(utterance(4), "p", ended=20.0)
        assert queue.length == 4
        rec.release.set()
        assert [f.result(10) for f in (busy, early, other, also, late)] == [
            "p:0",
            "p:1",
            "q:2",
            "p:4",
            "p:3",
        ]
    finally:
        queue.close()
    # The earliest (1) goes with the next one sharing its prompt (4); 2 has its own prompt.
    assert [names for names, _ in rec.batches] == [["p:0"], ["p:1", "p:4"], ["q:2"], ["p:3"]]
    assert queue.stats.decodes == 5 and queue.stats.batches == 4
    assert queue.stats.audio_seconds == pytest.approx(0.5)


def test_a_long_queue_switches_to_greedy_decoding() -> None:
    rec = Recorder()
    queue: DecodeQueue[str] = DecodeQueue(rec, beam_size=5, greedy_from=3, max_batch=1)
    try:
        first = queue.submit(utterance(0), "p")
        assert rec.started.wait(10)
        waiting = [queue.submit(utterance(n), "p") for n in (1, 2, 3)]
        rec.release.set()
        for f in (first, *waiting):
            f.result(10)
    finally:
        queue.close()
    # 1 is taken with 3 waiting (greedy), 2 with 2 waiting and 3 alone: the beam again.
    assert [beam for _, beam in rec.batches] == [5, 1, 5, 5]
    assert queue.stats.greedy == 1


def test_a_failed_batch_fails_its_callers_and_the_queue_goes_on() -> None:
    def decode(audios: Sequence[np.ndarray], prompt: str, beam: int) -> list[str]:
        if prompt == "bad":
            raise ValueError("model error")
        return [prompt for _ in audios]

    queue: DecodeQueue[str] = DecodeQueue(decode)
    try:
        with pytest.raises(ValueError, match="model error"):
            queue.decode(utterance(0), "bad")
        assert queue.decode(utterance(1), "good") == "good"
    finally:
        queue.close()


def test_closing_fails_waiting_callers_instead_of_leaving_them_blocked() -> None:
    rec = Recorder()
    queue: DecodeQueue[str] = DecodeQueue(rec)
    queue.submit(utterance(0), "p")
    assert rec.started.wait(10)
    waiting = queue.submit(utterance(1), "p")
    queue.close()
    rec.release.set()
    with pytest.raises(RuntimeError, match="closed"):
        waiting.result(10)
    with pytest.raises(RuntimeError, match="closed"):
        queue.submit(utterance(2), "p")


def test_with_two_workers_an_utterance_does_not_wait_for_anothers_decode() -> None:
    """Both decodes must be running at once to pass the barrier; one worker never gets there."""

    def decodes_at_once(workers: int) -> bool:
        barrier = threading.Barrier(2, timeout=2)

        def decode(audios: Sequence[np.ndarray], prompt: str, beam: int) -> list[bool]:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return [False for _ in audios]
            return [True for _ in audios]

        queue: DecodeQueue[bool] = DecodeQueue(decode, max_batch=1, workers=workers)
        try:
            first = queue.submit(utterance(0), "p")
            second = queue.submit(utterance(1), "p")
            return first.result(10) and second.result(10)
        finally:
            queue.close()

    assert decodes_at_once(2)
    assert not decodes_at_once(1)


def test_the_real_time_factor_is_the_queues_time_shared_by_its_workers() -> None:
    def decode(audios: Sequence[np.ndarray], prompt: str, beam: int) -> list[str]:
        return ["" for _ in audios]

    def rtfs(workers: int, cores_allow: int | None) -> tuple[float | None, float]:
        queue: DecodeQueue[str] = DecodeQueue(decode, workers=workers, parallel=cores_allow)
        queue.close()
        queue.stats.recent_batches.extend([(0.4, 1.0), (0.4, 1.0)])  # 0.4 s per s on each
        queue.stats.busy_seconds, queue.stats.audio_seconds = 0.8, 2.0
        return queue.stats.recent_real_time_factor, queue.stats.real_time_factor

    assert rtfs(2, None) == pytest.approx((0.2, 0.2))  # two decodes side by side
    # two workers on one core only take turns: admitting twice the calls would overload it
    assert rtfs(2, 1) == pytest.approx((0.4, 0.4))
    assert rtfs(1, 4) == pytest.approx((0.4, 0.4))  # spare cores do not make one worker two
