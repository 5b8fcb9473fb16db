"""Small statistics shared by the parts that calibrate thresholds on held-out data."""

from __future__ import annotations

from typing import overload

import numpy as np


@overload
def wilson_lower(successes: int, n: int, z: float) -> float: ...
@overload
def wilson_lower(successes: np.ndarray, n: np.ndarray, z: float) -> np.ndarray: ...


def wilson_lower(successes: int | np.ndarray, n: int | np.ndarray, z: float) -> float | np.ndarray:
    """Lower end of the Wilson score interval of a proportion, z standard errors down.

    A run of 20 lucky predictions is not 100% right: thresholds calibrated on this bound do not
    move with a lucky sample. z = 0 gives the plain rate; n = 0 gives 1.0 (nothing contradicts
    the target). Works elementwise on arrays (every prefix of a ranking at once).
    """
    s = np.asarray(successes, dtype=np.float64)
    size = np.asarray(n, dtype=np.float64)
    safe = np.where(size > 0, size, 1.0)
    p = s / safe
    centre = p + z * z / (2 * safe)
    spread = z * np.sqrt(np.maximum(p * (1 - p) / safe + z * z / (4 * safe * safe), 0.0))
    low = np.where(size > 0, (centre - spread) / (1 + z * z / safe), 1.0)
    return float(low) if low.ndim == 0 else low
