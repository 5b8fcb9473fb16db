"""Demand forecast per category: weekly order counts, three simple models, the one with the
smallest back-test error wins.

Models (each explained in the report):
- 上周值 (naive): next weeks = the last complete week.
- 四周均值 (moving average): next weeks = the mean of the last four weeks.
- Holt 线性趋势 (double exponential smoothing, α=0.5, β=0.2): level and trend updated each
  week, the trend carried forward.
Back-test: the last `holdout` weeks are hidden, each model forecasts them from the weeks before,
and the mean absolute error (MAE) over them decides; the report shows that MAE and the mean
absolute percentage error of the chosen model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Model = Callable[[Sequence[float], int], list[float]]


def naive(history: Sequence[float], horizon: int) -> list[float]:
    return [float(history[-1])] * horizon


def moving_average(history: Sequence[float], horizon: int, window: int = 4) -> list[float]:
    tail = history[-window:]
    return [sum(tail) / len(tail)] * horizon


def holt(
    history: Sequence[float], horizon: int, alpha: float = 0.5, beta: float = 0.2
) -> list[float]:
    level, trend = float(history[0]), float(history[1] - history[0]) if len(history) > 1 else 0.0
    for value in history[1:]:
        previous = level
        level = alpha * value + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
    return [max(level + trend * (h + 1), 0.0) for h in range(horizon)]


MODELS: dict[str, Model] = {"上周值": naive, "四周均值": moving_average, "Holt线性趋势": holt}


@dataclass
class Forecast:
    category: str
    history: list[int]  # complete weeks, oldest first
    model: str
    forecast: list[float]
    mae: float | None  # back-test mean absolute error (orders per week)
    mape: float | None  # back-test mean absolute percentage error (weeks with orders only)


def backtest(history: Sequence[float], model: Model, holdout: int) -> tuple[float, float | None]:
    train, test = history[:-holdout], history[-holdout:]
    predicted = model(train, holdout)
    errors = [abs(p - a) for p, a in zip(predicted, test, strict=True)]
    pct = [abs(p - a) / a for p, a in zip(predicted, test, strict=True) if a]
    return sum(errors) / len(errors), (sum(pct) / len(pct) if pct else None)


def forecast(category: str, history: Sequence[int], horizon: int = 4, holdout: int = 4) -> Forecast:
    """The best of MODELS by back-test MAE (ties: the simpler, listed first)."""
    values = [float(v) for v in history]
    if len(values) < holdout + 2:  # too short to test: the mean, untested
        fc = moving_average(values or [0.0], horizon)
        return Forecast(category, list(history), "四周均值", fc, None, None)
    scored = [(backtest(values, m, holdout), name) for name, m in MODELS.items()]
    (mae, mape), name = min(scored, key=lambda s: s[0][0])
    return Forecast(category, list(history), name, MODELS[name](values, horizon), mae, mape)
