"""A small learned reranker over the hybrid index's best candidates, trained on the KB itself.

The hybrid score (:mod:`knowledge.index`) matches a question against an entry's phrasings only,
and weighs dense and lexical evidence by fixed rules. The reranker reorders the hybrid's top
``depth`` entries with a logistic regression over eleven features per candidate (see
``FEATURES``): the hybrid's own signals, how well the entry's *answer* matches (its embedding and
BM25), how far each signal leads the best other candidate, and which share of the question's
content words and character pairs the entry contains anywhere (phrasings or answer).

Training needs no labelled questions: every phrasing of an entry with two or more is asked as a
question against the index without that phrasing (the entry must still win through its other
phrasings and its answer), and every other phrasing is also asked with its whole entry left out
(nothing may win: negatives that look like questions the KB cannot answer). The development
set (knowledge/eval/dev.yml) stays free for measuring and for calibrating the decision
thresholds. ``hotline kb calibrate`` retrains it, then calibrates; the result is recorded in
``knowledge/reranker.yml``.

Measured with bench/kb_sample.py (BENCHMARKS.md): top-1 0.846 -> 0.938 on the held-out
questions, 0.919 -> 0.951 on the dev set. On the first dev batch the answers' embeddings carried
most of the gain (without the two answer features: 0.888 instead of 0.936). L2 = 100 was chosen
on the dev set: a weak penalty let the lead features dominate and lost on colloquial questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from knowledge.index import _top_k

if TYPE_CHECKING:
    from knowledge.index import HybridIndex, QueryScores

FEATURES = (
    "fused",  # the hybrid score: best phrasing
    "dense",  # best phrasing's cosine, scaled onto [0, 1]
    "words",  # best phrasing's normalised word BM25
    "bigrams",  # best phrasing's normalised character-bigram BM25
    "body_dense",  # the answer's cosine, scaled
    "body_lexical",  # the answer's normalised BM25 (words and bigrams mixed)
    "lead_fused",  # fused minus the best other candidate's fused
    "lead_dense",  # dense minus the best other candidate's dense
    "lead_body_dense",  # body_dense minus the best other candidate's
    "cover_words",  # idf-weighted share of the question's content words in the entry
    "cover_bigrams",  # the same for its character bigrams
)
COLUMN = {name: i for i, name in enumerate(FEATURES)}  # a feature's column in a feature row
# (lead feature, the feature it leads on)
_LEADS = (("lead_fused", "fused"), ("lead_dense", "dense"), ("lead_body_dense", "body_dense"))


@dataclass(frozen=True)
class Reranker:
    """Logistic regression weights over ``FEATURES``; ``depth`` candidates are reranked."""

    weights: tuple[float, ...]
    bias: float
    depth: int = 10

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"{len(self.weights)} weights for {len(FEATURES)} features")

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(candidate is the right entry) per row of ``features``."""
        z = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def candidate_features(
    index: HybridIndex,
    scores: QueryScores,
    depth: int,
    exclude_row: int | None = None,
    exclude_doc: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``depth`` best docs by hybrid score and their feature rows (``FEATURES`` order).

    ``exclude_row`` (a text row) and ``exclude_doc`` (a doc, its phrasings and body) hide part
    of the index from this query, as if never indexed: used only for training.
    """
    fused = scores.fused
    if exclude_row is not None:
        fused = fused.copy()
        fused[exclude_row] = -1.0
    per_doc = index.per_doc_max(fused)
    if exclude_doc is not None:
        per_doc[exclude_doc] = -np.inf
    depth = min(depth, len(per_doc) - (exclude_doc is not None))
    docs = _top_k(per_doc, depth)
    x = np.zeros((len(docs), len(FEATURES)), dtype=np.float64)
    c = COLUMN
    x[:, c["fused"]] = per_doc[docs]
    # The other per-phrasing maxima only for the candidates: a few rows each, not the index.
    ends = np.append(index.starts[1:], len(index.texts))
    for j, doc in enumerate(docs):
        rows = np.arange(index.starts[doc], ends[doc])
        if exclude_row is not None:
            rows = rows[rows != exclude_row]
        if len(rows):
            x[j, c["dense"]] = index.dense_scale(scores.cosine[rows].max())
            x[j, c["words"]] = scores.words[rows].max()
            x[j, c["bigrams"]] = scores.bigrams[rows].max()
    if index.has_bodies:
        x[:, c["body_dense"]] = index.dense_scale(index.body_vectors[docs] @ scores.query_vector)
        x[:, c["body_lexical"]] = index.body_lexical(scores)[docs]
    for lead, of in _LEADS:
        x[:, c[lead]] = x[:, c[of]] - _best_other(x[:, c[of]])
    x[:, c["cover_words"]] = _coverage(
        index, docs, scores.word_terms, index.words, index.body_words, exclude_row
    )
    x[:, c["cover_bigrams"]] = _coverage(
        index, docs, scores.bigram_terms, index.bigrams, index.body_bigrams, exclude_row
    )
    return docs, x


def _best_other(values: np.ndarray) -> np.ndarray:
    """For each position, the largest value at any other position (0 if there is none)."""
    if len(values) < 2:
        return np.zeros_like(values)
    top = int(np.argmax(values))
    out = np.full_like(values, values[top])
    out[top] = np.max(np.delete(values, top))
    return out


def _coverage(
    index: HybridIndex,
    docs: np.ndarray,
    terms: Sequence[str],
    rows_bm25: Any,
    body_bm25: Any,
    excluded_row: int | None,
) -> np.ndarray:
    """Share of the query's terms (idf-weighted) that each doc contains in a phrasing or body.

    Terms the index has never seen weigh the most and are found nowhere, as in the lexical
    score's normaliser. Each term's postings are sorted, so whether a doc's rows (a contiguous
    range) hold it is two binary searches, whatever the size of the index.
    """
    unique = list(dict.fromkeys(terms))
    if not unique or len(docs) == 0:
        return np.zeros(len(docs))
    unseen_idf = float(rows_bm25._idf(np.zeros(1))[0])
    first = index.starts[docs]
    last = np.append(index.starts, len(index.texts))[docs + 1]  # one past each doc's rows
    weights = np.empty(len(unique))
    found = np.zeros((len(docs), len(unique)), dtype=bool)
    rows_ptr, rows_idx = rows_bm25.postings.indptr, rows_bm25.postings.indices
    body_ptr, body_idx = body_bm25.postings.indptr, body_bm25.postings.indices
    for j, term in enumerate(unique):
        i = rows_bm25.vocab.get(term)
        weights[j] = float(rows_bm25.idf[i]) if i is not None else unseen_idf
        if i is not None:
            rows = rows_idx[rows_ptr[i] : rows_ptr[i + 1]]
            count = np.searchsorted(rows, last) - np.searchsorted(rows, first)
            if excluded_row is not None and excluded_row in rows:
                count -= (first <= excluded_row) & (excluded_row < last)
            found[:, j] = count > 0
        b = body_bm25.vocab.get(term)
        if b is not None:
            bodies = body_idx[body_ptr[b] : body_ptr[b + 1]]
            at = np.minimum(np.searchsorted(bodies, docs), len(bodies) - 1)
            found[:, j] |= bodies[at] == docs
    return (found @ weights) / weights.sum()


# -- training ---------------------------------------------------------------------------------


def training_set(
    index: HybridIndex, query_vectors: np.ndarray, depth: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and 0/1 labels from the index's own phrasings (see the module docstring).

    ``query_vectors``: every text row embedded as a *query* (``encode_queries``), row order.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ends = [*index.starts[1:].tolist(), len(index.texts)]
    for row, text in enumerate(index.texts):
        doc = int(index.owner[row])
        scores = index.query_scores(text, query_vectors[row])
        if ends[doc] - index.starts[doc] > 1:  # the doc can still be found by another phrasing
            docs, x = candidate_features(index, scores, depth, exclude_row=row)
            xs.append(x)
            ys.append((docs == doc).astype(np.float64))
        if row % 2 == 0:  # every other phrasing also asks with its whole doc hidden
            docs, x = candidate_features(index, scores, depth, exclude_doc=doc)
            xs.append(x)
            ys.append(np.zeros(len(docs)))
    return np.vstack(xs), np.concatenate(ys)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 100.0, depth: int = 10) -> Reranker:
    """L2-regularised logistic regression by Newton's method (a few features: exact and fast)."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(x1.shape[1])
    penalty = l2 * np.diag([*([1.0] * x.shape[1]), 0.0])  # the bias is not penalised
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x1 @ w)))
        gradient = x1.T @ (p - y) + penalty @ w
        hessian = (x1 * (p * (1 - p))[:, None]).T @ x1 + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Reranker(tuple(float(v) for v in w[:-1]), float(w[-1]), depth)


def train(index: HybridIndex, l2: float = 100.0, depth: int = 10) -> tuple[Reranker, int, int]:
    """Train on ``index``'s phrasings; also returns the numbers of questions and positives."""
    from knowledge.embedding_model import encode_queries

    vectors = encode_queries(index.model, index.texts)
    x, y = training_set(index, vectors, depth)
    return fit(x, y, l2, depth), len(x), int(y.sum())


# -- the file -----------------------------------------------------------------------------------


def save(path: Path, reranker: Reranker, evidence: dict[str, object]) -> None:
    doc = {
        "reranker": {
            "depth": reranker.depth,
            "bias": round(reranker.bias, 6),
            "weights": {n: round(w, 6) for n, w in zip(FEATURES, reranker.weights, strict=True)},
        },
        "evidence": evidence,
    }
    path.write_text(
        "# Written by `hotline kb calibrate` (trained on the KB's own phrasings, see "
        "knowledge/rerank.py).\n" + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    )


def load(path: Path) -> Reranker | None:
    """The reranker recorded in ``path``; None if there is no such file."""
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text())["reranker"]
    weights = data["weights"]
    missing = [n for n in FEATURES if n not in weights]
    if missing:
        raise ValueError(f"{path}: no weight for {', '.join(missing)}")
    return Reranker(tuple(float(weights[n]) for n in FEATURES), float(data["bias"]), data["depth"])
