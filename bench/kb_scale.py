"""How the hybrid index scales: query latency, memory, build time and encode throughput.

Knowledge bases of 300, 10,000 and 100,000 phrasings are grown synthetically by recombining
clauses of the ncp policy documents (read at run time from /work/shared/datasets, evaluation
only) into question-like phrasings, five phrasings per entry. Each size runs in a fresh
subprocess so that its memory figures are its own.

* 300 and 10,000 phrasings are really embedded (cold build, empty embedding cache), then built
  again from the cache (warm build); encode throughput = embedded texts / (cold - warm).
* 100,000 phrasings get random unit vectors written into a fresh embedding cache instead of an
  hour of encoding: the warm build, memory and query latency are real (dense scores of random
  vectors rank nothing useful, but cost the same); its cold build is estimated from the
  10,000-phrasing throughput.

Latency: one query at a time through ``HybridIndex.search`` (query encoding included), 200
real policy questions after 10 warm-up queries; "encode" is the query embedding alone, "index
only" is ``search`` with the query vectors computed beforehand. Memory: the index's own arrays,
and the whole process (the model alone is about 0.9 GB). The process RSS of a cold build also
holds torch's buffers from encoding.

With ``--answers`` every entry also gets an answer (four more clauses) and the index reranks with
the shipped reranker (knowledge/reranker.yml), as the knowledge service does for FAQ entries:
the answers are embedded too (random vectors at 100,000) and the reranker's features cost
their share of the latency.

Run: `.venv/bin/python -m bench.kb_scale [--threads 1] [--answers]` (5 to 20 minutes, depending
on what else runs on the 2 cores; the load average is printed). ``--threads N`` gives the query
encoder (ONNX Runtime) and torch's vector scan N intra-op threads; without it the encoder takes
the service's setting (HOTLINE_EMBEDDING_THREADS, default 1) and torch its own default.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from hotline.settings import model_paths
from knowledge.index import Doc, EmbeddingCache, HybridIndex

if TYPE_CHECKING:
    from knowledge.embedding_model import Encoder

DATA = Path("/work/shared/datasets/ncp_policy_qa")
MODEL_CACHE = model_paths().models_dir  # e5 (the default) from the configured cache
SIZES = (300, 10_000, 100_000)
PHRASINGS_PER_ENTRY = 5
QUERIES, WARMUP = 200, 10
SUFFIXES = ("", "怎么办理？", "需要什么材料？", "在哪里办理？", "有什么规定？", "是什么政策？")
_CLAUSE_SPLIT = re.compile(r"[，。；：！？、\s]+")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def clauses() -> list[str]:
    """Distinct clauses of 4 to 24 characters from the policy documents."""
    found: dict[str, None] = {}
    for row in read_csv(DATA / "policy_docs.csv"):
        for c in _CLAUSE_SPLIT.split(row["text"]):
            if 4 <= len(c) <= 24:
                found[c] = None
    return list(found)


def synthetic_docs(n_phrasings: int, seed: int = 0, answers: bool = False) -> list[Doc]:
    """Entries of five phrasings, each two random clauses plus an optional question ending;
    with ``answers``, each entry's body is four more random clauses."""
    rng = np.random.default_rng(seed)
    pool = clauses()
    picks = rng.integers(0, len(pool), size=(n_phrasings, 2))
    endings = rng.integers(0, len(SUFFIXES), size=n_phrasings)
    texts = [f"{pool[a]}，{pool[b]}{SUFFIXES[e]}" for (a, b), e in zip(picks, endings, strict=True)]
    step = PHRASINGS_PER_ENTRY
    n_docs = -(-n_phrasings // step)
    bodies = [""] * n_docs
    if answers:
        parts = rng.integers(0, len(pool), size=(n_docs, 4))
        bodies = ["，".join(pool[j] for j in row) + "。" for row in parts]
    return [
        Doc(f"syn-{i // step:06d}", texts[i : i + step], body=bodies[i // step])
        for i in range(0, len(texts), step)
    ]


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Measurement(TypedDict, total=False):
    """One size's figures, as a child process prints them (JSON) for the report.

    Not total: measure() fills it step by step, and the cold build (with its throughput) is
    only measured when the texts are really embedded."""

    phrasings: int
    entries: int
    random: bool  # random unit vectors instead of e5 embeddings
    rss_model_mb: float
    cold_build_s: float
    encoded: int  # texts embedded by the cold build
    warm_build_s: float
    rss_mb: float
    rss_peak_mb: float
    arrays_mb: float
    encode_per_s: float
    p50_ms: float
    p95_ms: float
    encode_p50_ms: float
    encode_p95_ms: float
    retrieval_p50_ms: float
    retrieval_p95_ms: float
    torch_threads: int
    encoder: str  # the encoder's class name


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seed_random_vectors(index: HybridIndex, docs: Sequence[Doc], dim: int) -> None:
    """Put random unit vectors for every text into the index's (empty) embedding cache."""
    assert index.cache_dir is not None
    texts = list(dict.fromkeys(t.strip() for d in docs for t in [*d.texts, d.body] if t.strip()))
    vectors = np.random.default_rng(1).standard_normal((len(texts), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cache = EmbeddingCache(index.cache_dir / index.CACHE_FILE, index.model_id)
    try:
        cache.put([EmbeddingCache.digest(t) for t in texts], vectors)
    finally:
        cache.close()


def measure(
    size: int, random_vectors: bool, threads: int | None, answers: bool = False
) -> Measurement:
    """One size, in this process: build times, memory, latency."""
    import torch

    if threads:
        torch.set_num_threads(threads)

    from knowledge.embedding_model import encode_queries, load_model

    model = load_model(None, MODEL_CACHE, threads=threads)
    queries = [r["question"] for r in read_csv(DATA / "dev_questions.csv")][: QUERIES + WARMUP]
    encode_queries(model, queries[:3])
    docs = synthetic_docs(size, answers=answers)
    reranker = None
    if answers:
        from knowledge import rerank
        from knowledge.service import RERANKER

        reranker = rerank.load(RERANKER)
    out: Measurement = {"phrasings": size, "entries": len(docs), "random": random_vectors}
    out["rss_model_mb"] = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        index = HybridIndex(model, cache_dir=Path(tmp), reranker=reranker)
        if random_vectors:
            dim = model.get_sentence_embedding_dimension()
            if dim is None:  # e5 declares its width; without one there is nothing to seed
                raise RuntimeError(f"{type(model).__name__} does not declare its dimension")
            seed_random_vectors(index, docs, dim)
        else:
            t0 = time.perf_counter()
            index.build(docs)
            out["cold_build_s"] = time.perf_counter() - t0
            out["encoded"] = index.encoded_last_build
        # a fresh index, as after a restart
        index = HybridIndex(model, cache_dir=Path(tmp), reranker=reranker)
        t0 = time.perf_counter()
        index.build(docs)
        out["warm_build_s"] = time.perf_counter() - t0
    out["rss_mb"] = rss_mb()
    out["rss_peak_mb"] = rss_mb("VmHWM")
    out["arrays_mb"] = index_arrays_mb(index)
    if "cold_build_s" in out:
        out["encode_per_s"] = out["encoded"] / max(out["cold_build_s"] - out["warm_build_s"], 1e-9)
    total, encode = [], []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        index.search(q, k=10)
        t1 = time.perf_counter()
        encode_queries(model, q)
        t2 = time.perf_counter()
        if i >= WARMUP:
            total.append((t1 - t0) * 1000)
            encode.append((t2 - t1) * 1000)
    retrieval = retrieval_only_ms(index, model, queries[WARMUP:])
    out |= {
        "p50_ms": statistics.median(total),
        "p95_ms": percentile(total, 0.95),
        "encode_p50_ms": statistics.median(encode),
        "encode_p95_ms": percentile(encode, 0.95),
        "retrieval_p50_ms": statistics.median(retrieval),
        "retrieval_p95_ms": percentile(retrieval, 0.95),
        "torch_threads": torch.get_num_threads(),
        "encoder": type(model).__name__,
    }
    return out


def index_arrays_mb(index: HybridIndex) -> float:
    """Memory of the index's own arrays: vectors, BM25 postings, per-text weights."""
    arrays: list[np.ndarray] = [
        index.vectors,
        index.starts,
        index.owner,
        index.dense_weight,
        index.body_vectors,
    ]
    for bm25 in (index.words, index.bigrams, index.body_words, index.body_bigrams):
        p = bm25.postings
        arrays += [p.data, p.indices, p.indptr, bm25.idf]
    return sum(a.nbytes for a in arrays) / 2**20


def retrieval_only_ms(index: HybridIndex, model: Encoder, queries: Sequence[str]) -> list[float]:
    """search() with the query vectors computed beforehand: the index's own share of latency."""
    import knowledge.index as index_module
    from knowledge.embedding_model import encode_queries

    corrected = [index.correct(q) for q in queries]  # what search() will encode
    vectors = dict(zip(corrected, encode_queries(model, corrected), strict=True))
    real = index_module.encode_queries

    # encode_queries' signature, names included: search() calls it with its one corrected query
    def precomputed(model: Encoder, texts: Sequence[str] | str, batch_size: int = 32) -> np.ndarray:
        if not isinstance(texts, str):
            raise TypeError("only single queries were computed beforehand")
        return vectors[texts][None, :]

    index_module.encode_queries = precomputed
    try:
        times = []
        for q in queries:
            t0 = time.perf_counter()
            index.search(q, k=10)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        index_module.encode_queries = real
    return times


def run_child(
    size: int, random_vectors: bool, threads: int | None, answers: bool = False
) -> Measurement:
    cmd = [sys.executable, "-m", "bench.kb_scale", "--child", str(size)]
    if random_vectors:
        cmd.append("--random-vectors")
    if answers:
        cmd.append("--answers")
    if threads:
        cmd += ["--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows: list[Measurement], wall_s: float, argv: Sequence[str]) -> None:
    throughput = next((r["encode_per_s"] for r in reversed(rows) if "encode_per_s" in r), None)
    print(f"\ncommand: .venv/bin/python -m bench.kb_scale {' '.join(argv)}".rstrip())
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"encoder: {rows[0]['encoder']}; torch threads: {rows[0]['torch_threads']}; "
        f"cores: {os.cpu_count()}; "
        f"latency over {QUERIES} queries; load average at the end: {' '.join(load)}\n"
    )
    header = [
        "phrasings",
        "vectors",
        "p50 ms",
        "p95 ms",
        "encode p50/p95 ms",
        "index only p50/p95 ms",
        "index arrays MB",
        "process RSS MB (peak)",
        "build (cached) s",
        "build (cold) s",
        "encode texts/s",
    ]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        if "cold_build_s" in r:
            cold = f"{r['cold_build_s']:.1f}"
        else:
            cold = f"~{r['phrasings'] / throughput:.0f} (est.)" if throughput else "n/a"
        cells = [
            f"{r['phrasings']:,}",
            "random" if r["random"] else "e5",
            f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            f"{r['encode_p50_ms']:.1f} / {r['encode_p95_ms']:.1f}",
            f"{r['retrieval_p50_ms']:.1f} / {r['retrieval_p95_ms']:.1f}",
            f"{r['arrays_mb']:.0f}",
            f"{r['rss_mb']:.0f} ({r['rss_peak_mb']:.0f})",
            f"{r['warm_build_s']:.1f}",
            cold,
            f"{r['encode_per_s']:.0f}" if "encode_per_s" in r else "-",
        ]
        print("| " + " | ".join(cells) + " |")
    print(f"\nwall time: {wall_s:.0f} s")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument(
        "--random-from", type=int, default=100_000, help="sizes from this one use random vectors"
    )
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--answers", action="store_true", help="entries with answers, reranked")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--random-vectors", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.random_vectors, args.threads, args.answers)))
        return
    started = time.perf_counter()
    rows = []
    for size in args.sizes:
        print(f"measuring {size:,} phrasings ...", file=sys.stderr, flush=True)
        rows.append(run_child(size, size >= args.random_from, args.threads, args.answers))
    report(rows, time.perf_counter() - started, argv)


if __name__ == "__main__":
    main()
