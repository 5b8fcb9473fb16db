"""Retrieval quality on real policy questions: BM25, dense and the hybrid index in one run.

Data (evaluation only, read at run time, never copied): /work/shared/datasets/ncp_policy_qa,
599 Chinese policy documents and 300 questions, each answered by a span of one document.
Documents are split into overlapping character windows; every passage after the first is
prefixed with the document's title line ("title｜passage"), which the first one already holds.

Reported per method: document hit@1, hit@5 and MRR@10 (documents of the passage hits, in rank
order, deduplicated) and answer@3 (the gold answer string is inside one of the top 3 passages).
Also reported: how the hybrid score separates right answers from questions it cannot answer
(gold document withheld from the ranking; off-domain citizen messages), for thresholds.

Run from the repository root: `.venv/bin/python -m bench.ncp_policy_qa` (first run embeds
~4,200 passages, about 10 minutes on 2 cores; later runs read the embedding cache).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.settings import model_paths
from knowledge.embedding_model import load_model
from knowledge.index import Doc, HybridIndex, word_tokens

DATA = Path("/work/shared/datasets")
CACHE = model_paths().models_dir  # e5 (the default) from the configured cache
TITLE_MAX = 60
OFF_DOMAIN = 100  # off-domain queries taken from the 问政 messages (first N, subject-sized)
RRF_K = 60


@dataclass(frozen=True)
class Question:
    docid: str
    text: str
    answer: str


@dataclass
class Scores:
    """Per-question passage scores of every method, as arrays over all passages."""

    methods: dict[str, list[np.ndarray]]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def title_of(text: str) -> str:
    """The documents start with a title line, separated from the body by whitespace."""
    return re.split(r"\s", text.strip(), maxsplit=1)[0][:TITLE_MAX]


def windows(text: str, size: int, overlap: int) -> list[str]:
    step = size - overlap
    starts = range(0, max(len(text) - overlap, 1), step)
    return [text[i : i + size] for i in starts]


def passage_docs(docs: dict[str, str], size: int, overlap: int, titles: bool) -> list[Doc]:
    out = []
    for docid, text in docs.items():
        title = title_of(text)
        for j, body in enumerate(windows(text, size, overlap)):
            passage = f"{title}｜{body}" if titles and j else body
            out.append(Doc(f"{docid}#{j}", [passage], group=docid))
    return out


def rrf(*scores: np.ndarray) -> np.ndarray:
    """Reciprocal-rank fusion, the plain baseline the hybrid score replaces."""
    fused = np.zeros_like(scores[0], dtype=np.float64)
    for s in scores:
        ranks = np.empty(len(s), dtype=np.int64)
        ranks[np.argsort(-s, kind="stable")] = np.arange(1, len(s) + 1)
        fused += 1 / (RRF_K + ranks)
    return fused


def score_all(index: HybridIndex, questions: Sequence[Question]) -> Scores:
    methods: dict[str, list[np.ndarray]] = {
        k: [] for k in ("BM25 (jieba words)", "dense (e5-small)", "RRF (BM25 + dense)", "hybrid")
    }
    for q in questions:
        fused, cosine, _ = index.text_scores(q.text)
        bm25, _ = index.words.scores(word_tokens(q.text))  # plain BM25: no stopword removal
        for name, s in zip(methods, (bm25, cosine, rrf(bm25, cosine), fused), strict=True):
            methods[name].append(s)
    return Scores(methods)


def doc_ranking(order: np.ndarray, groups: Sequence[str], depth: int = 10) -> list[str]:
    ranked: list[str] = []
    for row in order:
        if groups[row] not in ranked:
            ranked.append(groups[row])
            if len(ranked) == depth:
                break
    return ranked


def metrics(
    rows: list[np.ndarray], questions: Sequence[Question], index: HybridIndex
) -> dict[str, float]:
    hit1 = hit5 = mrr = answer3 = 0.0
    for s, q in zip(rows, questions, strict=True):
        order = np.argsort(-s, kind="stable")[:300]  # passages == Docs here: one text each
        ranked = doc_ranking(order, index.groups)
        hit1 += ranked[:1] == [q.docid]
        hit5 += q.docid in ranked[:5]
        mrr += 1 / (ranked.index(q.docid) + 1) if q.docid in ranked else 0
        answer3 += any(q.answer in index.texts[r] for r in order[:3])
    n = len(questions)
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "MRR@10": mrr / n, "answer@3": answer3 / n}


def calibration(
    index: HybridIndex, questions: Sequence[Question], hybrid: list[np.ndarray], off: list[str]
) -> dict[str, np.ndarray]:
    """Top-1 hybrid scores: right and wrong top documents, gold withheld, off-domain queries."""
    groups = np.asarray(index.groups)
    right: list[float] = []
    wrong: list[float] = []
    withheld: list[float] = []
    for s, q in zip(hybrid, questions, strict=True):
        top = int(np.argmax(s))
        (right if groups[top] == q.docid else wrong).append(s[top])
        withheld.append(np.max(np.where(groups == q.docid, -1.0, s)))
    off_domain = [index.search(text, k=1)[0].score for text in off]
    return {
        "right top document": np.asarray(right),
        "wrong top document": np.asarray(wrong),
        "gold document withheld": np.asarray(withheld),
        "off-domain messages": np.asarray(off_domain),
    }


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def threshold_rows(cal: dict[str, np.ndarray]) -> list[list[str]]:
    answerable, wrong = cal["right top document"], cal["wrong top document"]
    withheld, off = cal["gold document withheld"], cal["off-domain messages"]
    rows = []
    for t in np.arange(0.40, 0.81, 0.05):
        answered_right = (answerable >= t).sum()
        answered = answered_right + (wrong >= t).sum()
        rows.append(
            [
                f"{t:.2f}",
                f"{answered_right / (len(answerable) + len(wrong)):.2f}",
                f"{answered_right / max(answered, 1):.2f}",
                f"{(withheld < t).mean():.2f}",
                f"{(off < t).mean():.2f}",
            ]
        )
    return rows


def load(data: Path) -> tuple[dict[str, str], list[Question], list[str]]:
    root = data / "ncp_policy_qa"
    docs = {r["docid"]: r["text"] for r in read_csv(root / "policy_docs.csv")}
    questions = [
        Question(r["docid"], r["question"].strip(), r["answer"].strip())
        for r in read_csv(root / "dev_questions.csv")
    ]
    messages = read_csv(data / "teddy2020c" / "dev.csv")[:OFF_DOMAIN]
    return docs, questions, [m["text"][:40] for m in messages]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passage-chars", type=int, default=400)
    ap.add_argument("--overlap", type=int, default=200)
    ap.add_argument("--no-titles", action="store_true", help="do not prefix passages with titles")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache-dir", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    started = time.perf_counter()

    docs, questions, off = load(args.data)
    passages = passage_docs(docs, args.passage_chars, args.overlap, not args.no_titles)
    index = HybridIndex(load_model(None, args.cache_dir), cache_dir=args.cache_dir)
    t0 = time.perf_counter()
    index.build(passages, progress=True)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = score_all(index, questions)
    per_query_ms = (time.perf_counter() - t0) / len(questions) * 1000
    results = {name: metrics(rows, questions, index) for name, rows in scores.methods.items()}
    cal = calibration(index, questions, scores.methods["hybrid"], off)

    args_text = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\ncommand: .venv/bin/python -m bench.ncp_policy_qa {args_text}".rstrip())
    print(
        f"data: {len(docs)} documents -> {len(passages)} passages of {args.passage_chars} chars, "
        f"overlap {args.overlap}, titles {'off' if args.no_titles else 'on'}; "
        f"{len(questions)} questions"
    )
    print(f"build: {build_s:.1f} s ({index.encoded_last_build} passages embedded, rest cached)")
    print(f"scoring: {per_query_ms:.0f} ms per question (all four methods)\n")
    cols = ["hit@1", "hit@5", "MRR@10", "answer@3"]
    rows = [[name, *(f"{r[c]:.3f}" for c in cols)] for name, r in results.items()]
    print(table(["method", *cols], rows))
    cfg = index.config
    print(
        f"\nhybrid settings: dense floor/ceil {cfg.dense_floor}/{cfg.dense_ceil}, dense weight "
        f"{cfg.dense_weight_short} (<= {cfg.short_chars} chars) .. {cfg.dense_weight_long} "
        f"(>= {cfg.long_chars} chars), bigram share {cfg.bigram_share}, k1 {cfg.k1}, b {cfg.b}"
    )
    print("\nTop-1 hybrid score (p10 / p50 / p90):\n")
    print(
        table(
            ["queries", "n", "p10", "p50", "p90"],
            [
                [name, len(v), *(f"{np.percentile(v, p):.3f}" for p in (10, 50, 90))]
                for name, v in cal.items()
            ],
        )
    )
    print("\nAnswer when top-1 score >= t:\n")
    print(
        table(
            ["t", "answered right", "precision", "abstain: gold withheld", "abstain: off-domain"],
            threshold_rows(cal),
        )
    )
    print(f"\nwall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
