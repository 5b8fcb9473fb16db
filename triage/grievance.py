"""Grievance or consultation: does the citizen want a department to act on their case (a work
order), or information (an answer from the knowledge base)?

Stories rarely say "投诉": "快递十天了还没到 驿站说丢了", "药店拿我的医保卡刷了洗发水". Rules
about words catch the explicit cases (triage/wording.py); this model judges the rest. It is a
logistic regression over three views of the message: its embedding (the knowledge base's own
model: what it is about), character n-grams (how it is said: 怎么/能不能/哪里 ask, 天天/一直/
还没 tell), and the wording rules' cues. It is trained when the process starts, from the
centre's own texts:

- no grievance: every phrasing of every knowledge-base entry (the questions citizens ask), and
  the consultations and small talk of triage/grievance_examples.yml;
- grievances: the examples of the responsibility table (the complaints each department
  handles), and the grievances of triage/grievance_examples.yml.

The examples file is written in citizens' own wording, like the messages the model judges, so
its rows weigh more than the knowledge base's tidier phrasings. A centre that grows its
knowledge base or its table also teaches this model. The thresholds were chosen on the tune
splits of the benchmarks (bench/data/*/tune*), never on test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from triage import wording

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).with_name("grievance_examples.yml")
# P(grievance) from which a message without explicit wording becomes an order draft (with the
# KB's answer as guidance when it has a sure one); chosen on the tune splits (BENCHMARKS.md,
# "Triage"): consultations wrongly made orders vs complaints left as articles. A separate,
# higher bar where the KB is sure changed nothing for consultations and lost complaints.
THRESHOLD = 0.7
C = 1.0  # inverse regularisation of the logistic regression
EXAMPLE_WEIGHT = 3.0  # rows of the examples file against the KB's and the table's

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Examples:
    grievances: list[str]
    consultations: list[str]
    other: list[str]  # small talk and the like: no grievance either


def load_examples(path: Path = EXAMPLES) -> Examples:
    """The project's own labelled examples (empty lists when the file is absent)."""
    if not path.is_file():
        return Examples([], [], [])
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Examples(
        [str(t) for t in data.get("grievance") or []],
        [str(t) for t in data.get("consultation") or []],
        [str(t) for t in data.get("other") or []],
    )


def cues(texts: Sequence[str]) -> np.ndarray:
    """The wording rules' signals, one column each."""
    return np.array([wording.cues(t) for t in texts], dtype=np.float32)


class GrievanceModel:
    def __init__(self, embed: Embed, threshold: float = THRESHOLD) -> None:
        self._embed = embed
        self.threshold = threshold
        self._model: LogisticRegression | None = None
        self._ngrams: TfidfVectorizer | None = None

    def _features(self, texts: Sequence[str], vectors: np.ndarray) -> sparse.csr_matrix:
        assert self._ngrams is not None
        grams = self._ngrams.transform(texts)
        return sparse.hstack([sparse.csr_matrix(vectors), grams, cues(texts)]).tocsr()

    def fit(
        self,
        grievances: Sequence[tuple[str, float]],
        consultations: Sequence[tuple[str, float]],
        embed: Embed | None = None,
    ) -> GrievanceModel:
        """Train on (text, weight) rows; classes balanced (the KB has far more phrasings).
        `embed` may differ from the model's own (a cached one: the same vectors, stored)."""
        rows = [*grievances, *consultations]
        texts = [t for t, _ in rows]
        y = np.array([1] * len(grievances) + [0] * len(consultations))
        weights = np.array([w for _, w in rows], dtype=np.float64)
        for label in (0, 1):  # balanced classes, whatever the row weights
            weights[y == label] *= len(y) / (2 * weights[y == label].sum())
        self._ngrams = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2,
                                       sublinear_tf=True).fit(texts)  # fmt: skip
        model = LogisticRegression(C=C, max_iter=3000)
        model.fit(self._features(texts, (embed or self._embed)(texts)), y, weights)
        self._model = model
        log.info("grievance model: %d grievances, %d consultations",
                 len(grievances), len(consultations))  # fmt: skip
        return self

    def probability(self, text: str) -> float:
        """P(the message is a grievance)."""
        if self._model is None:
            raise RuntimeError("the grievance model is not trained")
        features = self._features([text], self._embed([text]))
        return float(self._model.predict_proba(features)[0, 1])
