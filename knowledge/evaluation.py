"""Labelled question sets (YAML: `answerable: [{q, id}]`, `unanswerable: [q]`) and their scores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.decision import Labelled, Thresholds, decide, figure_missing
from knowledge.service import KnowledgeService


def load_questions(path: Path) -> list[tuple[str, tuple[str, ...] | None]]:
    """(question, gold entry ids) pairs; None for questions the KB cannot answer.

    Two layouts: the KB's own sets (`answerable: [{q, id}]`, `unanswerable: [q]`) and the
    benchmark's (a list of `{q, gold: [ids], tags}`, bench/data/consult/); a folder reads every
    YAML file in it."""
    if path.is_dir():
        return [q for p in sorted(path.glob("*.yml")) for q in load_questions(p)]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [(str(q["q"]), tuple(q.get("gold") or ()) or None) for q in data]
    pairs: list[tuple[str, tuple[str, ...] | None]] = [
        (q["q"], (q["id"],)) for q in data["answerable"]
    ]
    return pairs + [(q, None) for q in data["unanswerable"]]


def label(
    service: KnowledgeService,
    questions: Iterable[tuple[str, tuple[str, ...] | None]],
    k: int = 10,
) -> list[Labelled]:
    """Each question's hits; where several entries are right, the best-ranked of them is its
    gold (either answers it)."""
    out = []
    for text, golds in questions:
        results = service.rank(text, k=k).results
        missing = bool(results) and figure_missing(text, results[0].entry.answer)
        keys = [r.entry.id for r in results]
        gold = None
        if golds:
            gold = next((key for key in keys if key in golds), golds[0])
        out.append(Labelled(keys, [r.score for r in results], gold, missing))
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
        1 / (list(d.keys[:10]).index(gold) + 1)
        for d in answerable
        if (gold := d.gold) is not None and gold in d.keys[:10]
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
