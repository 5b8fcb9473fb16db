"""Citizen complaints through the triage layer and the 智能派单 router: do they become work
orders, and do the orders reach the responsible unit?

Run: `.venv/bin/python -m bench.triage_routing [--split test|tune] [--verbose]`.

The complaints (bench/data/routing/<split>.yml) were written apart from the router's own data
(the responsibility table in workorders/defaults.yml), in the style of real citizen messages, each
labelled with the unit of the department catalogue a 12345 dispatcher would send it to (`also`: a
second unit that is equally right). `tune` may be used to extend the table's keywords and
examples; `test` never is (BENCHMARKS.md).

Reported:
- order: the share the triage layer turns into an order draft (or an emergency, which also makes
  an order) rather than an article, a question back or nothing;
- auto-dispatched: the share the router's gate dispatches without a person, and its precision
  (the unit is the label or `also`); targets >= 70% at precision >= 0.95;
- top-3: the label among the first three distinct units the dispatcher is shown; target >= 0.97.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass

import yaml

from bench.triage_consult import scratch_triage
from hotline.settings import PROJECT_ROOT
from triage import Context, Emergency, OrderDraft
from workorders.config import WorkOrderConfig, default_config
from workorders.routing import Routing

DATA = PROJECT_ROOT / "bench" / "data" / "routing"


@dataclass(frozen=True)
class Complaint:
    text: str
    unit: str
    also: tuple[str, ...]
    tags: tuple[str, ...]

    def right(self, unit: str | None) -> bool:
        return unit == self.unit or unit in self.also


def load(split: str) -> list[Complaint]:
    items = yaml.safe_load((DATA / f"{split}.yml").read_text(encoding="utf-8"))
    return [
        Complaint(
            str(i["text"]), str(i["unit"]), tuple(i.get("also") or ()), tuple(i.get("tags") or ())
        )
        for i in items
    ]


def units(routing: Routing, config: WorkOrderConfig) -> list[str]:
    """The distinct catalogue units of the router's ranked categories, best first."""
    found: list[str] = []
    for category, _ in routing.top3:
        cat = config.category_by_name.get(category)
        if cat and cat.department not in found:
            found.append(cat.department)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=["test", "tune"])
    ap.add_argument("--verbose", action="store_true", help="list the misses")
    args = ap.parse_args()
    triage = scratch_triage()
    config = default_config()
    complaints = load(args.split)
    kinds: Counter[str] = Counter()
    auto = auto_right = top1 = top3 = 0
    misses = []
    for c in complaints:
        decision = triage.decide(c.text, Context(channel="web"))
        kinds[decision.kind] += 1
        routing = triage.propose(c.text, None)
        ranked = units(routing, config) if routing else []
        first = ranked[0] if ranked else None
        top1 += c.right(first)
        hit3 = any(c.right(u) for u in ranked[:3])
        top3 += hit3
        if routing and routing.gate == "auto":
            auto += 1
            auto_right += c.right(first)
        if args.verbose and (
            not c.right(first) or not isinstance(decision, OrderDraft | Emergency)
        ):
            gate = routing.gate if routing else "-"
            misses.append(f"{decision.kind:12s} {gate:7s} {first or '-':14s} want {c.unit:14s} "
                          f"{'top3' if hit3 else '    '} {c.text[:60]}")  # fmt: skip
    n = len(complaints)
    ordered = kinds["order_draft"] + kinds["emergency"]
    print(f"split: {args.split}, complaints: {n}")
    print("| order | auto-dispatched | auto precision | top-1 | top-3 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(f"| {ordered / n:.3f} | {auto / n:.3f} | {auto_right / max(auto, 1):.3f} "
          f"| {top1 / n:.3f} | {top3 / n:.3f} |")  # fmt: skip
    print("decisions:", dict(kinds))
    for line in misses:
        print(line)


if __name__ == "__main__":
    main()
