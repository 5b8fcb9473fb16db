"""Labelled question sets (YAML: `answerable: [{q, id}]`, `unanswerable: [q]`) and their scores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.decision import Labelled, Thresholds, decide, figure_missing
from knowledge.service import KnowledgeService


def load_questions(path: Path) -> list[tuple[str, str | None]]:
    """(question, gold entry id) pairs; the gold id is None for questions the KB cannot answer."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs: list[tuple[str, str | None]] = [(q["q"], q["id"]) for q in data["answerable"]]
    return pairs + [(q, None) for q in data["unanswerable"]]


def label(
    service: KnowledgeService, questions: Iterable[tuple[str, str | None]], k: int = 10
) -> list[Labelled]:
    out = []
    for text, gold in questions:
        results = service.rank(text, k=k).results
        missing = bool(results) and figure_missing(text, results[0].entry.answer)
        out.append(
            Labelled([r.entry.id for r in results], [r.score for r in results], gold, missing)
        )
    return out


@dataclass(frozen=True)
class Report:
    answerable: int
    unanswerable: int
    top1: float  # gold entry ranked first, over answerable questions
    mrr10: float
    coverage: float  # answerable questions answered outright
    precision: float  # answers (to any question) that were right
    clarify_hit: float  # clarifications offering the gold entry among three buttons
    abstain: float  # unanswerable questions abstained on


def report(data: list[Labelled], t: Thresholds) -> Report:
    answerable = [d for d in data if d.gold is not None]
    unanswerable = [d for d in data if d.gold is None]
    top1 = sum(bool(d.keys) and d.keys[0] == d.gold for d in answerable)
    mrr = sum(
        1 / (list(d.keys[:10]).index(d.gold) + 1) for d in answerable if d.gold in d.keys[:10]
    )
    answers = [(d, decide(d.scores, t, d.figure_missing)) for d in data]
    answered = [d for d, verdict in answers if verdict == "answer"]
    clarified = [d for d, verdict in answers if verdict == "clarify" and d.gold is not None]
    return Report(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        top1=top1 / max(len(answerable), 1),
        mrr10=mrr / max(len(answerable), 1),
        coverage=sum(d.gold is not None for d in answered) / max(len(answerable), 1),
        precision=sum(d.keys[0] == d.gold for d in answered) / max(len(answered), 1),
        clarify_hit=sum(d.gold in d.keys[:3] for d in clarified) / max(len(clarified), 1),
        abstain=sum(decide(d.scores, t, d.figure_missing) == "abstain" for d in unanswerable)
        / max(len(unanswerable), 1),
    )
