import numpy as np
import pytest

from hotline.stats import wilson_lower


def test_wilson_lower_bound() -> None:
    assert wilson_lower(97, 100, 0.0) == pytest.approx(0.97)
    assert wilson_lower(97, 100, 1.645) == pytest.approx(0.9273, abs=1e-4)
    assert wilson_lower(970, 1000, 1.645) > wilson_lower(97, 100, 1.645)  # more evidence
    assert wilson_lower(0, 0, 1.0) == 1.0


def test_twenty_lucky_predictions_are_not_certain() -> None:
    assert wilson_lower(20, 20, 1.0) == pytest.approx(20 / 21)


def test_arrays_give_the_bound_of_every_prefix() -> None:
    hits, sizes = np.array([1, 2, 2, 3]), np.array([1, 2, 3, 4])
    bounds = wilson_lower(hits, sizes, 1.0)
    assert isinstance(bounds, np.ndarray)
    assert bounds.tolist() == pytest.approx(
        [wilson_lower(int(h), int(n), 1.0) for h, n in zip(hits, sizes, strict=True)]
    )
