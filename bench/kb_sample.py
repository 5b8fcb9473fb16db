"""The sample KB against its labelled question sets: top-1, MRR@10, and the decision's
precision/coverage/abstention at the calibrated thresholds.

Run: `.venv/bin/python -m bench.kb_sample` (imports the sample KB into a scratch SQLite DB).
`--compare` adds top-1 and MRR@10 without the reranker and without homophone correction (the
decision columns are left out there: the thresholds are calibrated for the full product).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TypedDict, Unpack

from hotline import db
from hotline.settings import PROJECT_ROOT, Settings, model_paths
from knowledge.evaluation import label, load_questions, report
from knowledge.index import HybridConfig
from knowledge.rerank import Reranker
from knowledge.service import THRESHOLDS, KnowledgeService, import_sample_if_empty

SETS = {
    "dev (calibration)": PROJECT_ROOT / "knowledge" / "eval" / "dev.yml",
    "held-out test": PROJECT_ROOT / "tests" / "knowledge" / "heldout.yml",
}


class Variant(TypedDict, total=False):
    """What a --compare variant changes in the knowledge service (the rest as in the product)."""

    reranker: Reranker | None
    index_config: HybridConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", action="store_true", help="also without reranker / correction")
    args = ap.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'kb.db'}"
    db.upgrade(url)
    import_sample_if_empty(url)
    settings = Settings()

    def service(**options: Unpack[Variant]) -> KnowledgeService:
        return KnowledgeService(
            url, model_paths(settings), THRESHOLDS, today=lambda: date.today(), **options
        )

    product = service()
    product.refresh()
    print(f"thresholds: {product.thresholds}; reranker: {product.reranker is not None}")
    print("| set | answerable | unanswerable | top-1 | MRR@10 | coverage | precision "
          "| clarify hit | abstain | ms/query |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    variants = {"": product}
    if args.compare:
        variants["hybrid + correction, no reranker"] = service(reranker=None)
        variants["reranker, no correction"] = service(
            index_config=HybridConfig(correct_homophones=False)
        )
        variants["hybrid only"] = service(
            reranker=None, index_config=HybridConfig(correct_homophones=False)
        )
    for variant, svc in variants.items():
        for name, path in SETS.items():
            questions = load_questions(path)
            start = time.perf_counter()
            labelled = label(svc, questions)
            per_query = (time.perf_counter() - start) / len(questions) * 1000
            r = asdict(report(labelled, product.thresholds))
            keys = ("top1", "mrr10") + (() if variant else ("coverage", "precision",
                                                             "clarify_hit", "abstain"))  # fmt: skip
            cells = [f"{r[k]:.3f}" for k in keys] + ["–"] * (6 - len(keys))
            title = f"{name}, {variant}" if variant else name
            print(f"| {title} | {r['answerable']} | {r['unanswerable']} | " + " | ".join(cells)
                  + f" | {per_query:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
