"""Grievance or consultation: does the citizen want a department to act on their case (a work
order), or information (an answer from the knowledge base)?

Stories rarely say "投诉": "快递十天了还没到 驿站说丢了", "药店拿我的医保卡刷了洗发水". Rules
about words catch the explicit cases (triage/wording.py); this model judges the rest from what
the message is about. It is a logistic regression over the message's embedding (the knowledge
base's own model), trained when the process starts from the centre's own texts:

- consultations: every phrasing of every knowledge-base entry (the questions citizens ask), and
  the consultations of triage/grievance_examples.yml;
- grievances: the examples of the responsibility table (workorders' categories, the complaints
  each department handles), and the grievances of triage/grievance_examples.yml.

So a centre that grows its knowledge base or its table also teaches this model. The decision
threshold was chosen on the tune splits of the benchmarks (bench/data/*/tune*), never on test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).with_name("grievance_examples.yml")
# P(grievance) from which a message without explicit wording becomes an order draft; chosen on
# the tune splits (BENCHMARKS.md, "Triage"): consultations wrongly made orders vs complaints
# left as articles.
THRESHOLD = 0.5
# ... and from which it overrides a sure knowledge-base answer (the message then reads like a
# question the KB holds; the answer is still shown, as guidance, before the form).
SURE = 0.9
C = 1.0  # inverse regularisation of the logistic regression

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Examples:
    grievances: list[str]
    consultations: list[str]


def load_examples(path: Path = EXAMPLES) -> Examples:
    """The project's own labelled examples (empty lists when the file is absent)."""
    if not path.is_file():
        return Examples([], [])
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Examples(
        [str(t) for t in data.get("grievance") or []],
        [str(t) for t in data.get("consultation") or []],
    )


class GrievanceModel:
    def __init__(self, embed: Embed, threshold: float = THRESHOLD, sure: float = SURE) -> None:
        self._embed = embed
        self.threshold = threshold
        self.sure = sure
        self._weights: np.ndarray | None = None
        self._bias = 0.0

    def fit(
        self,
        grievances: Sequence[str],
        consultations: Sequence[str],
        embed: Embed | None = None,
    ) -> GrievanceModel:
        """Train on the two lists (balanced: the knowledge base has far more phrasings).
        `embed` may differ from the model's own (a cached one: the same vectors, stored)."""
        from sklearn.linear_model import LogisticRegression

        texts = [*grievances, *consultations]
        y = np.array([1] * len(grievances) + [0] * len(consultations))
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
        model.fit((embed or self._embed)(texts), y)
        self._weights = model.coef_[0].astype(np.float32)
        self._bias = float(model.intercept_[0])
        log.info("grievance model: %d grievances, %d consultations",
                 len(grievances), len(consultations))  # fmt: skip
        return self

    def probability(self, text: str) -> float:
        """P(the message is a grievance)."""
        if self._weights is None:
            raise RuntimeError("the grievance model is not trained")
        z = float(self._embed([text])[0] @ self._weights) + self._bias
        return float(1.0 / (1.0 + np.exp(-z)))
