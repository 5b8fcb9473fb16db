"""A speech process admits as many calls as its measured recogniser cost allows."""

from __future__ import annotations

import pytest

from speech.capacity import Capacity


@pytest.mark.parametrize(
    ("rtf", "calls"),
    [
        (None, 12),  # not measured yet: the configured ceiling
        (0.1, 12),  # cheap decodes: 0.5 / (0.35 × 0.1) = 14, capped at the lines the PBX gives
        (0.2, 7),  # 0.5 / 0.07 = 7.1
        (0.5, 2),  # the 30-s window's cost on a loaded machine
        (3.0, 1),  # slower than real time: one call, never none
    ],
)
def test_capacity_follows_the_measured_cost_of_recognition(rtf: float | None, calls: int) -> None:
    assert Capacity(max_calls=12).calls(rtf) == calls


def test_capacity_recomputes_when_the_recogniser_gets_slower() -> None:
    from collections.abc import Sequence

    import numpy as np

    from speech.decode_queue import DecodeQueue

    cost = {"seconds": 0.0}

    def decode(audios: Sequence[np.ndarray], prompt: str, beam: int) -> list[str]:
        import time

        time.sleep(cost["seconds"])
        return ["" for _ in audios]

    queue: DecodeQueue[str] = DecodeQueue(decode)
    try:
        capacity = Capacity(max_calls=12)
        second = np.zeros(16000, dtype=np.float32)
        cost["seconds"] = 0.02  # 0.02 s per second of speech
        queue.decode(second, "p")
        fast = capacity.calls(queue.stats.recent_real_time_factor)
        cost["seconds"] = 0.5  # the machine got busy: half a second per second of speech
        for _ in range(10):
            queue.decode(second, "p")
        slow = capacity.calls(queue.stats.recent_real_time_factor)
    finally:
        queue.close()
    assert fast == 12 and slow < 4
