"""The sample KB against its labelled question sets: top-1, MRR@10, and the decision's
precision/coverage/abstention at the calibrated thresholds.

Run: `.venv/bin/python -m bench.kb_sample` (imports the sample KB into a scratch SQLite DB).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

from hotline import db
from hotline.settings import PROJECT_ROOT, Settings
from knowledge.evaluation import label, load_questions, report
from knowledge.service import THRESHOLDS, KnowledgeService, import_sample_if_empty

SETS = {
    "dev (calibration)": PROJECT_ROOT / "knowledge" / "eval" / "dev.yml",
    "held-out test": PROJECT_ROOT / "tests" / "knowledge" / "heldout.yml",
}


def main() -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'kb.db'}"
    db.upgrade(url)
    import_sample_if_empty(url)
    settings = Settings()
    service = KnowledgeService(
        url, settings.embedding_model, settings.cache_dir, THRESHOLDS, today=lambda: date.today()
    )
    service.refresh()
    print(f"thresholds: {service.thresholds}")
    print("| set | answerable | unanswerable | top-1 | MRR@10 | coverage | precision "
          "| clarify hit | abstain | ms/query |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, path in SETS.items():
        questions = load_questions(path)
        start = time.perf_counter()
        labelled = label(service, questions)
        per_query = (time.perf_counter() - start) / len(questions) * 1000
        r = asdict(report(labelled, service.thresholds))
        cells = [f"{r[k]:.3f}" for k in ("top1", "mrr10", "coverage", "precision",
                                         "clarify_hit", "abstain")]  # fmt: skip
        print(f"| {name} | {r['answerable']} | {r['unanswerable']} | " + " | ".join(cells)
              + f" | {per_query:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
