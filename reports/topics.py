"""Hot topics and knowledge gaps: clusters of similar texts, by TF-IDF over character pairs
and triples (jieba's word cutting took about 1 ms per request: three minutes for a month of a
large centre).

Why TF-IDF and not the product's e5 embedder: a month holds up to ~200,000 requests and e5 embeds
about 145 short sentences per second on two cores (docs/NOTES: 20+ minutes for one month),
while TF-IDF + k-means fits a sample and assigns every order in seconds (BENCHMARKS.md). The
model is fitted on an even sample, then every text of the month (and of the month before, for
the trend) is assigned to its nearest centre in streamed chunks, so counts are exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from hotline.privacy import mask_numbers


@dataclass
class Topic:
    keywords: list[str]
    examples: list[str]
    count: int = 0
    previous: int = 0  # the same cluster's count in the month before

    @property
    def title(self) -> str:
        return "、".join(self.keywords)

    @property
    def trend(self) -> float | None:
        """Change against the month before (0.25 = +25%); None when it had none."""
        return (self.count - self.previous) / self.previous if self.previous else None


@dataclass
class TopicModel:
    vectorizer: TfidfVectorizer
    centres: np.ndarray  # normalised cluster centres, one row per topic
    topics: list[Topic] = field(default_factory=list)

    def assign(self, texts: Sequence[str]) -> np.ndarray:
        """The nearest topic of each text."""
        if not texts:
            return np.zeros(0, dtype=int)
        x = self.vectorizer.transform(texts)
        return np.asarray((x @ self.centres.T).argmax(axis=1)).ravel()

    def count(self, chunks: Iterable[Sequence[str]]) -> list[int]:
        counts = np.zeros(len(self.topics), dtype=np.int64)
        for chunk in chunks:
            counts += np.bincount(self.assign(chunk), minlength=len(self.topics))
        return [int(c) for c in counts]


# Pairs that say nothing about the topic (pronouns, time, hedges): left out of the features.
_STOP = frozenset(
    [
        "我们",
        "你们",
        "他们",
        "我家",
        "现在",
        "个月",
        "已经",
        "没有",
        "一个",
        "不是",
        "就是",
        "还是",
        "什么",
        "怎么",
        "这个",
        "那个",
        "一直",
        "了一",
        "也不",
        "年了",
        "还没",
        "了还",
        "有人",
        "问题",
        "请问",
        "能不",
        "不能",
        "可以",
        "希望",
        "反映",
        "一下",
        "说是",
        "多少",
    ]
)


class Grams:
    """Character pairs and triples of the Chinese runs of a text, place names removed first:
    a hot topic is about what happened, and the same street in many requests must not make
    one (sklearn's own char analyzer would also count punctuation and spaces)."""

    _RUN = re.compile(r"[\u4e00-\u9fff]{2,}")

    def __init__(self, ignore: Sequence[str] = ()) -> None:
        names = sorted({n for n in ignore if n}, key=len, reverse=True)
        self.ignore = re.compile("|".join(map(re.escape, names))) if names else None

    def __call__(self, text: str) -> list[str]:
        if self.ignore is not None:
            text = self.ignore.sub(" ", text)
        out: list[str] = []
        for run in self._RUN.findall(text):
            out.extend(g for i in range(len(run) - 1) if (g := run[i : i + 2]) not in _STOP)
            out.extend(run[i : i + 3] for i in range(len(run) - 2))
        return out


def fit_topics(
    sample: Sequence[str],
    ignore: Sequence[str] = (),
    max_topics: int = 20,
    per_topic: int = 25,
    examples: int = 3,
    seed: int = 0,
) -> TopicModel | None:
    """Cluster a sample of texts; None when there are too few to say anything."""
    texts = [t for t in sample if t.strip()]
    k = min(max_topics, len(texts) // per_topic)
    if len(texts) < 2:
        return None
    k = max(k, 1)
    vec = TfidfVectorizer(
        analyzer=Grams(ignore),
        sublinear_tf=True,
        min_df=2 if len(texts) >= 50 else 1,
        max_df=0.3 if len(texts) >= 50 else 1.0,
    )
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # no word left (all stop words or digits)
        return None
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x)
    centres = km.cluster_centers_
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    centres = centres / np.where(norms > 0, norms, 1.0)
    terms = vec.get_feature_names_out()
    sims = np.asarray(x @ centres.T)
    model = TopicModel(vec, centres)
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        best = members[np.argsort(-sims[members, c])]
        seen: list[str] = []
        for i in best:
            quoted = mask_numbers(texts[i])  # reports leave the centre: no phone or ID numbers
            if quoted not in seen:
                seen.append(quoted)
            if len(seen) == examples:
                break
        model.topics.append(
            Topic(
                keywords=[str(terms[j]) for j in np.argsort(-centres[c])[:3]],
                examples=seen,
                count=len(members),
            )
        )
    return model


def ranked(model: TopicModel | None, top: int) -> list[Topic]:
    if model is None:
        return []
    return sorted((t for t in model.topics if t.count), key=lambda t: -t.count)[:top]
