"""How many calls a speech process takes: from what it measures, not from a fixed number.

What limits a process is the recogniser: every caller's speech must be decoded before the
answer can start, and one queue does it for all calls (speech/decode_queue.py). A call costs
``speech_share`` (the part of a call the caller is talking: about a third, measured by
bench.voice_latency) times the real-time factor (decode seconds per second of speech, measured
by the queue on this machine, under its current load, and shared by the decodes that run side
by side). The queue stays short while its workers are busy at most ``utilization`` of the
time, so

    capacity = utilization / (speech_share × real-time factor), within [1, max_calls].

Before the first decode the real-time factor is unknown; `CallCenter.warm_up` decodes a
synthesised prompt once to measure it, and until then the configured ``max_calls`` stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Capacity:
    max_calls: int  # the ceiling (HOTLINE_MAX_CALLS): lines the PBX gives this process
    speech_share: float = 0.35
    utilization: float = 0.5

    def calls(self, real_time_factor: float | None) -> int:
        """The calls to admit when decoding costs ``real_time_factor`` (None: not measured)."""
        if not real_time_factor or real_time_factor <= 0:
            return self.max_calls
        fits = self.utilization / (self.speech_share * real_time_factor)
        return max(1, min(self.max_calls, math.floor(fits)))
