"""Knowledge gaps (知识缺口): what citizens asked when the bot could not answer, as a CSV that
`hotline kb import` accepts once an editor has written the answers.

The columns are the knowledge loaders' own Chinese headers (knowledge.loaders.DEFAULT_COLUMNS):
编号, 标准问, 相似问 (the cluster's other phrasings, separated by ；), 答案 (empty: the editor
fills it; rows left empty are reported by the import and skipped), 来源, 责任部门, 分类.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from reports.topics import TopicModel

COLUMNS = ("编号", "标准问", "相似问", "答案", "来源", "责任部门", "分类")


@dataclass
class Gap:
    question: str  # the most typical phrasing
    alternatives: list[str]
    count: int


def gaps_of(model: TopicModel | None, questions: list[str], top: int = 20) -> list[Gap]:
    """One gap per cluster of questions, the most asked first, with up to 5 phrasings."""
    if model is None or not questions:
        return []
    labels = model.assign(questions)
    out = []
    for c, topic in enumerate(model.topics):
        asked = [q for q, label in zip(questions, labels, strict=True) if label == c]
        if not asked:
            continue
        ordered = topic.examples + [q for q in dict.fromkeys(asked) if q not in topic.examples]
        out.append(Gap(ordered[0], ordered[1:5], len(asked)))
    return sorted(out, key=lambda g: -g.count)[:top]


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
