"""The report: rates per measure against their targets, failure patterns, the failures (with
transcripts when verbose), and the same as JSON."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from bench.conversations.driver import Run

MEASURES: list[tuple[str, str, str, str]] = [
    # (key, label, kinds, target)
    ("consult", "consultations answered with the right entry within two bot turns", "consult",
     "≥ 90%"),
    ("no_answer", "no-answer questions: honest, with an offer of an order or a person",
     "no_answer", "100%"),
    ("complaint", "complaints/requests ending in a stored order with the right department",
     "complaint", "≥ 90%"),
    ("cancel", "cancelled forms leaving no order", "complaint", "100%"),
    ("status", "status queries answered", "status", ""),
    ("emergency", "emergencies reaching the emergency path (110/119/120 + emergency order)",
     "emergency", "100%"),
    ("handoff", "requests for a person: offered and recorded", "handoff", ""),
    ("smalltalk", "small talk and abuse: answered politely, no order", "smalltalk", ""),
]  # fmt: skip


_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^turn \d+: expected [\w-]+: answered .*", "answered with another entry"),
    (r"^turn \d+: expected [\w-]+: clarify without it.*", "clarify buttons without the entry"),
    (r"^turn \d+: expected [\w-]+: said “.*", "another reply"),
    (r"^turn \d+: expected [\w-]+: ", ""),
    (r"^department: .*", "stored with another category/department"),
    (r"^no order stored \(first reply: (.*?); last: .*", r"no order (first reply: \1)"),
    (r"^(.*?) \(first reply: said “.*", r"\1 (first reply: another reply)"),
    (r"^(.*?) \((said “|said ).*", r"\1"),
    (r"^gave an answer that does not fit: .*", "gave an entry's answer"),
    (r"^order \S+ not told .*", "the order was not told"),
    (r"^(\d+ not told in the first two replies).*", r"\1"),
    (r"^no order with priority emergency .*", "no emergency order"),
    (r"^the correction of (.*) was not in the last read-back", r"correction of \1 not applied"),
    (r"^(kept asking after the cancel|did not say the order is not found) \(.*", r"\1"),
    (r"^(did not ask for the order number|no person offered) \(.*", r"\1"),
)


def pattern(reason: str) -> str:
    """A failure reason without its particulars, to count what goes wrong how often."""
    for regex, repl in _PATTERNS:
        reason = re.sub(regex, repl, reason)
    return reason


def measure_of(run: Run) -> str:
    if run.conv.kind == "complaint":
        return "cancel" if run.conv.expect.no_order else "complaint"
    return run.conv.kind


def summarise(runs: list[Run]) -> dict[str, Any]:
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[measure_of(run)].append(run)
    rates: dict[str, Any] = {}
    for key, label, _, target in MEASURES:
        group = groups.get(key, [])
        passed = sum(r.passed for r in group)
        sub: Counter[str] = Counter()  # checks passed, by name
        applies: Counter[str] = Counter()  # runs the check applied to
        for r in group:
            for name, ok in r.checks.items():
                sub[name] += int(ok)
                applies[name] += 1
        rates[key] = {
            "label": label,
            "passed": passed,
            "total": len(group),
            "rate": passed / len(group) if group else None,
            "target": target,
            "checks": {name: f"{sub[name]}/{applies[name]}" for name in sorted(applies)}
            if key != "consult"
            else {},
        }
    questions = [ok for r in groups.get("consult", []) for ok in r.checks.values()]
    rates["consult"]["questions"] = {"passed": sum(questions), "total": len(questions)}
    patterns: dict[str, Counter[str]] = defaultdict(Counter)
    for run in runs:
        for reason in {pattern(r) for r in run.reasons}:
            patterns[measure_of(run)][reason] += 1
    loops = [r.conv.id for r in runs if r.loop]
    turns = [len(r.exchanges) for r in runs]
    return {
        "rates": rates,
        "loops": {"count": len(loops), "ids": loops},
        "conversations": len(runs),
        "passed": sum(r.passed for r in runs),
        "citizen_turns": sum(turns),
        "nudged": [r.conv.id for r in runs if any(x.by == "nudge" for x in r.exchanges)],
        "patterns": {k: dict(v.most_common()) for k, v in patterns.items()},
    }


def transcript(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "citizen": x.said,
            "by": x.by,
            "bot": [m.get("text") for m in x.messages],
            "buttons": [b.get("title") for m in x.messages for b in m.get("buttons") or []],
            "state": x.state,
            "asked": x.asked,
        }
        for x in run.exchanges
    ]


def print_report(summary: dict[str, Any], runs: list[Run], verbose: bool, took: float) -> None:
    print(f"{summary['conversations']} conversations, {summary['citizen_turns']} citizen turns, "
          f"{took:.0f} s; passed {summary['passed']}")  # fmt: skip
    print()
    print("| measure | passed | total | rate | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for key, *_ in MEASURES:
        r = summary["rates"][key]
        rate = f"{r['rate']:.1%}" if r["rate"] is not None else "–"
        print(f"| {r['label']} | {r['passed']} | {r['total']} | {rate} | {r['target']} |")
    q = summary["rates"]["consult"]["questions"]
    loops = summary["loops"]
    print(f"| loops (same reply 3× in a row, or cap hit) | {loops['count']} | "
          f"{summary['conversations']} | | 0 |")  # fmt: skip
    print()
    print(f"consultation questions answered right: {q['passed']}/{q['total']}")
    for key, *_ in MEASURES:
        checks = summary["rates"][key]["checks"]
        if checks:
            print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    found = summary.get("search") or {}
    if found.get("failed_turns"):
        print(
            f"consultation turns missed: {found['failed_turns']}; the knowledge search alone ranks "
            f"the expected entry first in {found['expected_ranked_first']} of them "
            f"(its decision then: {found['decisions_when_ranked_first']})"
        )
    if summary["nudged"]:
        print(f"needed a nudge (我要反映一下): {', '.join(summary['nudged'])}")
    if summary["patterns"]:
        print()
        print("failure patterns (conversations):")
        for key, counts in summary["patterns"].items():
            for reason, n in counts.items():
                print(f"  {key}: {n} × {reason}")
    failed = [r for r in runs if not r.passed]
    if failed:
        print()
        print("failures:")
    for run in failed:
        print(f"- {run.conv.id} ({run.conv.kind}, {run.conv.channel}): {'; '.join(run.reasons)}")
        for idx, d in sorted(run.search.items()):
            top = ", ".join(f"{i} {sc}" for i, sc in d.get("top", []))
            print(f"    search for turn {idx + 1}: {d.get('decision', d.get('error'))}: {top}")
        if verbose:
            for x in run.exchanges:
                print(f"    citizen[{x.by}]: {x.said}")
                for m in x.messages:
                    text = (m.get("text") or "").replace("\n", " / ")
                    buttons = " ".join(f"[{b.get('title')}]" for b in m.get("buttons") or [])
                    print(f"    bot: {text} {buttons}".rstrip())
                if x.state != "bot":
                    print(f"    (state {x.state})")


def as_json(summary: dict[str, Any], runs: list[Run], took: float) -> dict[str, Any]:
    """What `--json` prints: the summary, then each conversation with its transcript."""
    return {
        "summary": summary,
        "seconds": round(took, 1),
        "conversations": [
            {
                "id": r.conv.id,
                "kind": r.conv.kind,
                "channel": r.conv.channel,
                "passed": r.passed,
                "reasons": r.reasons,
                "checks": r.checks,
                "search": {f"turn {i + 1}": d for i, d in r.search.items()},
                "loop": r.loop,
                "orders": [
                    {k: o.get(k) for k in ("number", "category", "department", "priority")}
                    for o in r.orders
                ],
                "transcript": transcript(r),
            }
            for r in runs
        ],
    }
