"""Consultation questions in citizens' own words through the triage layer: what a citizen gets.

Run: `.venv/bin/python -m bench.triage_consult [--split test|tune] [--verbose]` (imports the
sample KB into a scratch SQLite database; the first run builds the embedding cache).

The questions (bench/data/consult/<split>/*.yml) were written apart from the KB text, from the
entries' facts, in the style of real citizen messages; about 10% carry a typo or homophone and
about 20% cannot be answered from the KB. `tune` may be used to choose thresholds, synonyms and
rules; `test` never is (BENCHMARKS.md says how they were made and kept apart).

Each question's outcome is what the citizen gets:
- right: the answer (or, for a grievance, the guidance before the form) is a gold entry;
- wrong: an answer from an entry that does not answer it (confidently wrong);
- clarify: a choice between entries (`clarify hit`: the gold entry is among them);
- abstain: no answer, honestly (suggestions allowed);
- other: another path (a work-order form without the answer, a status query, a handoff...).
Targets (issue 14): right >= 0.95 of answerable, wrong <= 0.5% of all, abstain >= 0.95 of
unanswerable.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from hotline import db
from hotline.settings import PROJECT_ROOT, Settings
from knowledge.service import import_sample_if_empty
from triage import Abstain, Answer, Clarify, Context, Decision, OrderDraft, Triage, get_triage

DATA = PROJECT_ROOT / "bench" / "data" / "consult"


@dataclass(frozen=True)
class Question:
    text: str
    gold: tuple[str, ...]
    tags: tuple[str, ...]
    source: str


def load(split: str) -> list[Question]:
    questions = []
    for path in sorted((DATA / split).glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            questions.append(
                Question(
                    str(item["q"]),
                    tuple(item.get("gold") or ()),
                    tuple(item.get("tags") or ()),
                    path.name,
                )
            )
    return questions


def outcome(decision: Decision, gold: tuple[str, ...]) -> str:
    """right / wrong / clarify / abstain / other, as the citizen meets it."""
    match decision:
        case Answer():
            return "right" if decision.entry.id in gold else "wrong"
        case OrderDraft() if decision.guidance is not None:
            return "right" if decision.guidance.id in gold else "wrong"
        case Clarify():
            return "clarify"
        case Abstain():
            return "abstain"
    return "other"


def shown(decision: Decision) -> str:
    match decision:
        case Answer():
            return f"answer {decision.entry.id} ({decision.confidence:.3f})"
        case Clarify():
            return "clarify " + ",".join(e.id for e in decision.candidates)
        case Abstain():
            near = ",".join(e.id for e in decision.suggestions)
            return f"abstain {decision.reason}" + (f" [{near}]" if near else "")
        case OrderDraft():
            guidance = decision.guidance.id if decision.guidance else "-"
            return f"order_draft {decision.department} guidance={guidance}"
    return decision.kind


def run(triage: Triage, questions: list[Question]) -> list[tuple[Question, Decision, str, float]]:
    rows = []
    for q in questions:
        started = time.perf_counter()
        decision = triage.decide(q.text, Context(channel="web"))
        rows.append((q, decision, outcome(decision, q.gold), time.perf_counter() - started))
    return rows


def report(rows: list[tuple[Question, Decision, str, float]]) -> dict[str, float]:
    answerable = [r for r in rows if r[0].gold]
    unanswerable = [r for r in rows if not r[0].gold]
    count = Counter(r[2] for r in answerable)
    clarify_hit = sum(
        1
        for q, d, o, _ in answerable
        if o == "clarify" and isinstance(d, Clarify) and {e.id for e in d.candidates} & set(q.gold)
    )
    wrong_all = sum(1 for r in rows if r[2] == "wrong")
    un = Counter(r[2] for r in unanswerable)
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "right": count["right"] / max(len(answerable), 1),
        "wrong (of all)": wrong_all / max(len(rows), 1),
        "clarify": count["clarify"] / max(len(answerable), 1),
        "clarify hit": clarify_hit / max(count["clarify"], 1),
        "abstain (answerable)": count["abstain"] / max(len(answerable), 1),
        "other (answerable)": count["other"] / max(len(answerable), 1),
        "abstain (unanswerable)": un["abstain"] / max(len(unanswerable), 1),
        "ms/question (median)": 1000 * sorted(r[3] for r in rows)[len(rows) // 2],
    }


def scratch_triage() -> Triage:
    """The triage layer on a scratch SQLite database holding the sample KB (the shared model
    and embedding caches), as the triage benchmarks run it."""
    settings = Settings(var_dir=Path(tempfile.mkdtemp()), cache_dir=Settings().cache_dir)
    db.upgrade(settings.database_url)
    import_sample_if_empty(settings.database_url)
    return get_triage(settings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=["test", "tune"])
    ap.add_argument("--verbose", action="store_true", help="list every question not right")
    args = ap.parse_args()
    triage = scratch_triage()
    triage.knowledge.refresh()
    questions = load(args.split)
    rows = run(triage, questions)
    result = report(rows)
    print(f"split: {args.split}")
    for key, value in result.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    by_tag: dict[str, Counter[str]] = defaultdict(Counter)
    for q, _, o, _ in rows:
        for tag in q.tags or ("plain",):
            by_tag[tag][o] += 1
    print("\n| tag | n | right | wrong | clarify | abstain | other |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for tag, c in sorted(by_tag.items()):
        n = sum(c.values())
        print(f"| {tag} | {n} | {c['right']} | {c['wrong']} | {c['clarify']} | {c['abstain']} "
              f"| {c['other']} |")  # fmt: skip
    if args.verbose:
        print()
        for q, d, o, _ in rows:
            if o != "right" and not (o == "abstain" and not q.gold):
                print(f"{o:8s} gold={','.join(q.gold) or '-':18s} {shown(d):50s} {q.text}")


if __name__ == "__main__":
    main()
