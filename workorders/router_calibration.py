"""How sure the router is: calibrated confidences, the three-way gate and the training report.

Training cross-fits the model on stratified folds first, so that every example is predicted once
by a model that never saw it. Those held-out predictions give the report (per-class P/R/F1,
macro-F1, accuracy), the softmax temperature that turns SVM margins into confidences, and the two
gate thresholds: `auto` (dispatched without a person: held-out precision >= 95%) and `confirm`
(an operator confirms the suggested department: >= 70% in that band); below is the manual queue.
Both precisions are one-standard-error lower bounds (hotline.stats.wilson_lower), so a lucky run
of held-out predictions does not lower a threshold. The thresholds live in the model's metadata,
never in code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from hotline.stats import wilson_lower

AUTO_PRECISION, CONFIRM_PRECISION = 0.95, 0.70
MIN_SUPPORT = 20  # a threshold needs this many held-out predictions above it to be trusted
WILSON_Z = 1.0  # one standard error: targets are met with ~84% one-sided confidence

Gate = Literal["auto", "confirm", "manual"]

# Predictions, thresholds, reports


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    top3: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Thresholds:
    """Confidence at or above `auto` is dispatched automatically, at or above `confirm` waits
    for an operator; None means the held-out fold supported no such band."""

    auto: float | None
    confirm: float | None
    auto_precision: float = AUTO_PRECISION
    confirm_precision: float = CONFIRM_PRECISION
    auto_coverage: float = 0.0  # share of held-out requests that would be dispatched unseen
    confirm_coverage: float = 0.0


def gate(prediction: Prediction, thresholds: Thresholds) -> Gate:
    c = prediction.confidence
    if thresholds.auto is not None and c >= thresholds.auto:
        return "auto"
    if thresholds.confirm is not None and c >= thresholds.confirm:
        return "confirm"
    return "manual"


def _best_prefix(correct: np.ndarray, conf: np.ndarray, target: float) -> int:
    """Length of the longest confidence-ordered prefix whose precision is >= target with
    some certainty (Wilson lower bound), 0 if none has MIN_SUPPORT predictions. Taking the
    longest prefix on the raw precision would pick whichever noise lifted it above target;
    prefixes end only where the confidence changes, so a threshold never splits ties."""
    hits = np.cumsum(correct)
    sizes = np.arange(1, len(correct) + 1)
    ends = np.r_[conf[1:] < conf[:-1], True]
    ok = (wilson_lower(hits, sizes, WILSON_Z) >= target) & ends & (sizes >= MIN_SUPPORT)
    return int(sizes[ok][-1]) if ok.any() else 0


def calibrate(
    confidences: np.ndarray,
    correct: np.ndarray,
    auto_precision: float = AUTO_PRECISION,
    confirm_precision: float = CONFIRM_PRECISION,
) -> Thresholds:
    """The lowest thresholds whose held-out precision meets the targets.

    `auto` maximises automatic coverage while the auto-dispatched requests stay >= 95% right;
    `confirm` extends the band below it as far as the suggestions inside the band stay >= 70%
    right (the band alone, so that the auto band cannot carry a weak one). Both precisions are
    lower bounds (one standard error), not the raw held-out rates.
    """
    order = np.argsort(-confidences, kind="stable")
    conf, ok = confidences[order], correct[order].astype(float)
    n = len(conf)
    n_auto = _best_prefix(ok, conf, auto_precision)
    n_band = _best_prefix(ok[n_auto:], conf[n_auto:], confirm_precision)
    auto = float(conf[n_auto - 1]) if n_auto else None
    confirm = float(conf[n_auto + n_band - 1]) if n_band else auto
    return Thresholds(
        auto=auto,
        confirm=confirm,
        auto_precision=auto_precision,
        confirm_precision=confirm_precision,
        auto_coverage=round(n_auto / n, 4) if n else 0.0,
        confirm_coverage=round(n_band / n, 4) if n else 0.0,
    )


@dataclass
class TrainReport:
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    macro_f1: float
    accuracy: float
    n_examples: int
    folds: int
    thresholds: Thresholds
    gate_precision: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        lines = [f"{'label':<12}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}"]
        for label, m in self.per_class.items():
            lines.append(
                f"{label:<12}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
                f"{int(m['support']):>6}"
            )
        t = self.thresholds
        lines += [
            f"macro-F1 {self.macro_f1:.3f}   accuracy {self.accuracy:.3f}   "
            f"({self.n_examples} examples, {self.folds}-fold held-out predictions)",
            f"gate: auto >= {_fmt(t.auto)} ({t.auto_coverage:.0%} of requests), "
            f"confirm >= {_fmt(t.confirm)} ({t.confirm_coverage:.0%}), below: manual",
        ]
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "never" if x is None else f"{x:.3f}"


def evaluate(
    truth: Sequence[str], predictions: Sequence[Prediction], thresholds: Thresholds
) -> dict[str, Any]:
    """Per-class P/R/F1, macro-F1, accuracy, and each gate's share and precision."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    pred = [p.label for p in predictions]
    labels = sorted(set(truth) | set(pred))
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    per_class = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
              "support": int(s[i])}
        for i, lab in enumerate(labels) if s[i]
    }  # fmt: skip
    gates: dict[str, dict[str, float | None]] = {}
    decided = [gate(x, thresholds) for x in predictions]
    for g in ("auto", "confirm", "manual"):
        idx = [i for i, d in enumerate(decided) if d == g]
        right = sum(pred[i] == truth[i] for i in idx)
        gates[g] = {"share": len(idx) / max(len(pred), 1),
                    "precision": right / len(idx) if idx else None}  # fmt: skip
    return {
        "per_class": per_class,
        "macro_f1": float(f1_score(truth, pred, labels=sorted(set(truth)), average="macro")),
        "accuracy": float(accuracy_score(truth, pred)),
        "gates": gates,
    }


# ---------------------------------------------------------------------------------------------
# Confidences from SVM margins


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(decisions: np.ndarray, y: np.ndarray) -> float:
    """Temperature of the softmax over SVM margins that best fits the held-out labels (NLL)."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        p = softmax(decisions / np.exp(log_t))
        return float(-np.log(p[rows, y] + 1e-12).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-5, 3), method="bounded").x))
