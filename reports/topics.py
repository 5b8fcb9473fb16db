"""Hot topics and knowledge gaps: clusters of similar texts, by TF-IDF over jieba words.

Why TF-IDF and not the product's e5 embedder: a month holds up to ~200,000 requests and e5 embeds
about 145 short sentences per second on two cores (docs/NOTES: 20+ minutes for one month),
while TF-IDF + k-means fits a sample and assigns every order in seconds (BENCHMARKS.md). The
model is fitted on an even sample, then every text of the month (and of the month before, for
the trend) is assigned to its nearest centre in streamed chunks, so counts are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import jieba
import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr otherwise

_STOP = frozenset(
    [
        "我们",
        "你们",
        "他们",
        "这个",
        "那个",
        "什么",
        "怎么",
        "如何",
        "请问",
        "一下",
        "没有",
        "可以",
        "已经",
        "还是",
        "问题",
        "反映",
        "希望",
        "市民",
        "来电",
        "诉求",
        "现在",
        "一直",
        "为什么",
        "是否",
        "需要",
        "进行",
        "相关",
        "部门",
        "处理",
        "解决",
        "情况",
    ]
)


def words(text: str) -> list[str]:
    """Content words of a Chinese text: jieba words of two or more characters, no digits."""
    return [w for w in jieba.lcut(text) if len(w) >= 2 and not w.isdigit() and w not in _STOP]


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


def fit_topics(
    sample: Sequence[str],
    max_topics: int = 12,
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
        tokenizer=words,
        lowercase=False,
        token_pattern=None,
        sublinear_tf=True,
        min_df=2 if len(texts) >= 50 else 1,
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
            if texts[i] not in seen:
                seen.append(texts[i])
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
