"""Answer, clarify or abstain: decided from the top scores with thresholds calibrated on data.

- answer: the first entry scores at least `answer` and leads the runner-up by at least `margin`
  (the results come in the reranker's order, so the runner-up may score higher: then the lead
  is negative and the citizen is asked to choose);
- clarify: the best entry scores at least `clarify` (the citizen picks among the top three);
- abstain: nothing good enough; the dialogue offers a work order or a person.

`calibrate` chooses the thresholds on a labelled development set: the largest share of answerable
questions answered, such that answers are right at least `precision` of the time and questions
the KB cannot answer are abstained on at least `abstain` of the time. With `z` > 0 the precision
must hold for the Wilson lower bound (z standard errors), as the work-order router's gate does: a
lucky dev sample of a hundred-odd answers does not lower the answer threshold. Calibrated at the
plain rate (z = 0), dev precision 0.98 became 0.94 on the held-out questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

Decision = Literal["answer", "clarify", "abstain"]


@dataclass(frozen=True)
class Thresholds:
    answer: float
    margin: float
    clarify: float


def decide(scores: Sequence[float], t: Thresholds) -> Decision:
    """`scores`: the top hits' scores, in ranked order."""
    if not scores:
        return "abstain"
    top = scores[0]
    second = scores[1] if len(scores) > 1 else 0.0
    if top >= t.answer and top - second >= t.margin:
        return "answer"
    if top >= t.clarify:
        return "clarify"
    return "abstain"


@dataclass(frozen=True)
class Labelled:
    """One development question: its hits (keys and scores, best first) and the right key."""

    keys: Sequence[str]
    scores: Sequence[float]
    gold: str | None  # None: the KB cannot answer it


@dataclass(frozen=True)
class Outcome:
    coverage: float  # answerable questions answered (right or wrong) / answerable
    precision: float  # right answers / all answers (unanswerable ones included)
    abstain_rate: float  # unanswerable questions abstained on / unanswerable
    clarify_hit: float  # clarifications whose three buttons hold the right entry / clarifications
    answered: int = 0  # questions answered outright (the precision's denominator)


def wilson_lower(successes: int, n: int, z: float) -> float:
    """Lower end of the Wilson score interval for a proportion (the rate itself when z = 0)."""
    if n == 0:
        return 1.0
    p = successes / n
    if z <= 0:
        return p
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - spread) / (1 + z * z / n))


def evaluate(data: Sequence[Labelled], t: Thresholds) -> Outcome:
    answered = right = answerable = unanswerable = abstained = clarified = clarify_ok = 0
    for item in data:
        decision = decide(item.scores, t)
        if item.gold is None:
            unanswerable += 1
            abstained += decision == "abstain"
        else:
            answerable += 1
        if decision == "answer":
            answered += 1
            right += item.keys[0] == item.gold
        elif decision == "clarify" and item.gold is not None:
            clarified += 1
            clarify_ok += item.gold in item.keys[:3]
    answered_answerable = sum(
        1 for i in data if i.gold is not None and decide(i.scores, t) == "answer"
    )
    return Outcome(
        coverage=answered_answerable / max(answerable, 1),
        precision=right / answered if answered else 1.0,
        abstain_rate=abstained / max(unanswerable, 1),
        clarify_hit=clarify_ok / clarified if clarified else 1.0,
        answered=answered,
    )


def calibrate(
    data: Sequence[Labelled], precision: float = 0.97, abstain: float = 0.90, z: float = 0.0
) -> tuple[Thresholds, Outcome]:
    """Grid-search the thresholds over the observed score range (see the module docstring)."""
    tops = np.array([d.scores[0] for d in data if d.scores])
    grid = np.unique(np.round(np.quantile(tops, np.linspace(0, 1, 81)), 4))
    margins = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)
    best: tuple[float, Thresholds, Outcome] | None = None
    for a in grid:
        for m in margins:
            # Answers depend on (a, m) only; without a clarify zone abstention is at its highest.
            widest = evaluate(data, Thresholds(float(a), m, float(a)))
            right = round(widest.precision * widest.answered)
            if wilson_lower(right, widest.answered, z) < precision:
                continue
            if widest.abstain_rate < abstain:
                continue
            # The clarify floor: the lowest that still abstains on enough unanswerable questions.
            for c in grid[grid <= a]:
                t = Thresholds(float(a), m, float(c))
                out = evaluate(data, t)
                if out.abstain_rate < abstain:
                    continue
                # Prefer coverage, then answers that are right, then the lower clarify floor.
                key = out.coverage + 0.001 * out.precision - 1e-6 * c
                if best is None or key > best[0]:
                    best = (key, t, out)
                break  # c ascends: the first feasible one is the lowest
    if best is None:
        # No setting reaches the targets: never answer outright, clarify only near the top.
        t = Thresholds(float(tops.max()) + 1, 1.0, float(np.quantile(tops, 0.9)))
        return t, evaluate(data, t)
    return best[1], best[2]


def save(path: Path, t: Thresholds, outcome: Outcome, evidence: dict[str, object]) -> None:
    doc = {
        "thresholds": asdict(t),
        "dev_outcome": {k: round(v, 4) for k, v in asdict(outcome).items()},
        "evidence": evidence,
    }
    path.write_text(
        "# Written by `hotline kb calibrate`; the answer/clarify/abstain thresholds of the KB.\n"
        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    )


def load(path: Path) -> Thresholds:
    return Thresholds(**yaml.safe_load(path.read_text())["thresholds"])
