"""Knowledge gaps (知识缺口): what citizens asked when the bot could not answer, as a CSV that
`hotline kb import` accepts once an editor has written the answers.

The columns are the knowledge loaders' own Chinese headers (knowledge.loaders.DEFAULT_COLUMNS):
编号, 标准问, 相似问 (the cluster's other phrasings, separated by ；), 答案 (empty: the editor
fills it; rows left empty are reported by the import and skipped), 来源, 责任部门, 分类.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from reports.topics import Grams

COLUMNS = ("编号", "标准问", "相似问", "答案", "来源", "责任部门", "分类")


@dataclass
class Gap:
    question: str  # the most typical phrasing
    alternatives: list[str]
    count: int


def gaps_of(questions: list[str], threshold: float = 0.5, top: int = 20,
            most: int = 2000) -> list[Gap]:  # fmt: skip
    """Group the same question asked in other words (cosine of character n-gram TF-IDF at
    least `threshold` to the group's first, most asked phrasing), the most asked group first.

    Greedy grouping rather than k-means: a gap must be one question an editor can answer, so
    groups stay tight however many there are. The `most` most frequent distinct phrasings are
    grouped (a 2000 × 2000 similarity matrix); rarer ones are left out.
    """
    asked = Counter(q.strip() for q in questions if q.strip())
    if not asked:
        return []
    phrasings = [q for q, _ in asked.most_common(most)]
    try:
        x = TfidfVectorizer(analyzer=Grams(), sublinear_tf=True).fit_transform(phrasings)
        sims = np.asarray((x @ x.T).todense())
    except ValueError:  # no Chinese at all: each phrasing is its own question
        sims = np.eye(len(phrasings))
    leader = [-1] * len(phrasings)
    for i in range(len(phrasings)):
        if leader[i] >= 0:
            continue
        leader[i] = i
        for j in np.flatnonzero(sims[i, i + 1 :] >= threshold) + i + 1:
            if leader[j] < 0:
                leader[j] = i
    groups: dict[int, list[str]] = {}
    for i, lead in enumerate(leader):
        groups.setdefault(lead, []).append(phrasings[i])
    gaps = [Gap(g[0], g[1:5], sum(asked[q] for q in g)) for g in groups.values()]
    return sorted(gaps, key=lambda g: -g.count)[:top]


def write_gaps_csv(path: Path, gaps: list[Gap], month_label: str) -> Path:
    """UTF-8 with BOM, so that Excel opens the Chinese correctly."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for i, gap in enumerate(gaps, start=1):
            out.writerow(
                [
                    f"gap-{month_label}-{i:03d}",
                    gap.question,
                    "；".join(gap.alternatives),
                    "",
                    f"12345知识缺口（{month_label}，被问{gap.count}次）",
                    "",
                    "",
                ]
            )
    return path
