"""智能派单: route a citizen's request to a work-order category, with a confidence gate.

The router is one linear model (LinearSVC) over four feature blocks side by side:

* character 1-3-gram TF-IDF of the request: needs no segmentation, survives typos and ASR
  homophones, and the exact terms of a 12345 request (路灯, 欠薪, 燃气) are its strongest cues;
* jieba word TF-IDF: whole words (物业费 as one feature, not 物业+业费);
* character 1-3-gram TF-IDF of the opening (first 20 characters): a message states its subject
  first (the title of a 问政 post, the first words of a call), and the details that follow
  often belong to another department's vocabulary (a school's rubbish bins, a builder's wages);
* the multilingual-e5-small sentence embedding ("query: " prompt, first 256 characters), which
  carries paraphrases and colloquial wording the n-grams have never seen.

The n-grams ignore punctuation, digits and lone Latin letters (house numbers, dates, anonymised
place codes such as A3区). Each block is unit-length; the embedding block is weighted ×2.5 so
that it counts about as much as the sparse ones. On the teddy2020c benchmark
(bench/teddy_routing.py) the joint model beats TF-IDF+SVM and e5+LR alone.

Training cross-fits the model on stratified folds first, so that every example is predicted once
by a model that never saw it. Those held-out predictions give the report (per-class P/R/F1,
macro-F1, accuracy), the softmax temperature that turns SVM margins into confidences, and the two
gate thresholds: `auto` (dispatched without a person: held-out precision >= 95%) and `confirm`
(an operator confirms the suggested department: >= 70% in that band); below is the manual queue.
Both precisions are one-standard-error lower bounds, so a lucky run of held-out predictions does
not lower a threshold. The model that ships is then refitted on all examples. The thresholds
live in the model's metadata, never in code.

Also here: `is_emergency` (110/119/120 patterns, checked before any routing) and
`resolve_district` (gazetteer lookup of an address or a request).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hotline.settings import ModelPaths, model_paths
from hotline.stats import wilson_lower
from workorders.config import WorkOrderConfig

if TYPE_CHECKING:  # the embedding model loads heavy libraries: only when embedding
    from knowledge.embedding_model import Encoder

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: opening block, digits and lone letters out of the n-grams
MODEL_FILE, META_FILE = "router.joblib", "router.json"
EMBED_CHARS = 256  # the topic is in the first sentences; longer input only costs time
EMBED_WEIGHT = 2.5  # scale of the (unit) embedding block beside the (unit) TF-IDF blocks
HEAD_CHARS = 20  # the opening that gets a block of its own: about a 问政 title
SVM_C = 1.0
FOLDS = 5
AUTO_PRECISION, CONFIRM_PRECISION = 0.95, 0.70
MIN_SUPPORT = 20  # a threshold needs this many held-out predictions above it to be trusted
WILSON_Z = 1.0  # one standard error: targets are met with ~84% one-sided confidence

Gate = Literal["auto", "confirm", "manual"]
Progress = Callable[[int], None]  # called with the number of texts just embedded

# ---------------------------------------------------------------------------------------------
# Text normalisation

_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
_SPACE_NEAR_CJK = re.compile(rf"\s+(?={_CJK})|(?<={_CJK})\s+")
_NON_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")
_LONE_LETTER = re.compile(r"(?<![a-z])[a-z](?![a-z])")


def normalise(text: str) -> str:
    """NFKC, no spaces next to Chinese characters (ASR and segmented text insert them)."""
    text = _SPACE_NEAR_CJK.sub("", unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", text).strip()


def _ngram_text(text: str) -> str:
    """What the n-grams see: lower case without punctuation, spaces, digits and lone Latin
    letters. House numbers, dates, phone numbers and anonymised place codes (A3区, K8县) say
    nothing about the category; words such as ETC or PM (of PM2.5) stay."""
    text = _DIGITS.sub("", _NON_WORD.sub("", text.lower()))
    return _LONE_LETTER.sub("", text)


def _head_text(text: str) -> str:
    """The opening of the n-gram text: where a message states its subject."""
    return _ngram_text(text)[:HEAD_CHARS]


def _words(text: str) -> list[str]:
    """jieba words of the n-gram text (module-level: the fitted vectoriser is pickled)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not ours to print
    return jieba.lcut(_ngram_text(text))


# ---------------------------------------------------------------------------------------------
# Embeddings


class Embedder:
    """The sentence-embedding model, loaded on first use. It is the process's one instance
    (``knowledge.embedding_model.shared_model``), the same object the knowledge service and
    repeat detection encode with: loading takes seconds and about 1 GB. Without `paths`, the
    configured model and cache (HOTLINE_EMBEDDING_MODEL, HOTLINE_CACHE_DIR)."""

    def __init__(self, paths: ModelPaths | None = None, model: Encoder | None = None) -> None:
        self.paths = paths or model_paths()
        self._model = model

    @property
    def model_name(self) -> str | None:
        """None: the offline multilingual-e5-small."""
        return self.paths.embedding_model

    @property
    def cache_dir(self) -> Path:
        return self.paths.cache_dir

    @property
    def model(self) -> Encoder:
        if self._model is None:
            from knowledge.embedding_model import configured_model

            self._model = configured_model(self.paths)
        return self._model

    def encode(
        self, texts: Sequence[str], progress: Progress | None = None, batch: int = 32
    ) -> np.ndarray:
        from knowledge.embedding_model import encode_queries

        items = [normalise(t)[:EMBED_CHARS] for t in texts]
        parts = []
        for start in range(0, len(items), batch):
            parts.append(encode_queries(self.model, items[start : start + batch]))
            if progress:
                progress(len(parts[-1]))
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(parts)


# ---------------------------------------------------------------------------------------------
# Predictions, thresholds, reports


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    top3: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Thresholds:
    """Confidence at or above `auto` is dispatched automatically, at or above `confirm` waits
    for an operator; None means the held-out fold supported no such band."""

    auto: float | None
    confirm: float | None
    auto_precision: float = AUTO_PRECISION
    confirm_precision: float = CONFIRM_PRECISION
    auto_coverage: float = 0.0  # share of held-out requests that would be dispatched unseen
    confirm_coverage: float = 0.0


def gate(prediction: Prediction, thresholds: Thresholds) -> Gate:
    c = prediction.confidence
    if thresholds.auto is not None and c >= thresholds.auto:
        return "auto"
    if thresholds.confirm is not None and c >= thresholds.confirm:
        return "confirm"
    return "manual"


def _best_prefix(correct: np.ndarray, conf: np.ndarray, target: float) -> int:
    """Length of the longest confidence-ordered prefix whose precision is >= target with
    some certainty (Wilson lower bound), 0 if none has MIN_SUPPORT predictions. Taking the
    longest prefix on the raw precision would pick whichever noise lifted it above target;
    prefixes end only where the confidence changes, so a threshold never splits ties."""
    hits = np.cumsum(correct)
    sizes = np.arange(1, len(correct) + 1)
    ends = np.r_[conf[1:] < conf[:-1], True]
    ok = (wilson_lower(hits, sizes, WILSON_Z) >= target) & ends & (sizes >= MIN_SUPPORT)
    return int(sizes[ok][-1]) if ok.any() else 0


def calibrate(
    confidences: np.ndarray,
    correct: np.ndarray,
    auto_precision: float = AUTO_PRECISION,
    confirm_precision: float = CONFIRM_PRECISION,
) -> Thresholds:
    """The lowest thresholds whose held-out precision meets the targets.

    `auto` maximises automatic coverage while the auto-dispatched requests stay >= 95% right;
    `confirm` extends the band below it as far as the suggestions inside the band stay >= 70%
    right (the band alone, so that the auto band cannot carry a weak one). Both precisions are
    lower bounds (one standard error), not the raw held-out rates.
    """
    order = np.argsort(-confidences, kind="stable")
    conf, ok = confidences[order], correct[order].astype(float)
    n = len(conf)
    n_auto = _best_prefix(ok, conf, auto_precision)
    n_band = _best_prefix(ok[n_auto:], conf[n_auto:], confirm_precision)
    auto = float(conf[n_auto - 1]) if n_auto else None
    confirm = float(conf[n_auto + n_band - 1]) if n_band else auto
    return Thresholds(
        auto=auto,
        confirm=confirm,
        auto_precision=auto_precision,
        confirm_precision=confirm_precision,
        auto_coverage=round(n_auto / n, 4) if n else 0.0,
        confirm_coverage=round(n_band / n, 4) if n else 0.0,
    )


@dataclass
class TrainReport:
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    macro_f1: float
    accuracy: float
    n_examples: int
    folds: int
    thresholds: Thresholds
    gate_precision: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        lines = [f"{'label':<12}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}"]
        for label, m in self.per_class.items():
            lines.append(
                f"{label:<12}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
                f"{int(m['support']):>6}"
            )
        t = self.thresholds
        lines += [
            f"macro-F1 {self.macro_f1:.3f}   accuracy {self.accuracy:.3f}   "
            f"({self.n_examples} examples, {self.folds}-fold held-out predictions)",
            f"gate: auto >= {_fmt(t.auto)} ({t.auto_coverage:.0%} of requests), "
            f"confirm >= {_fmt(t.confirm)} ({t.confirm_coverage:.0%}), below: manual",
        ]
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "never" if x is None else f"{x:.3f}"


def evaluate(
    truth: Sequence[str], predictions: Sequence[Prediction], thresholds: Thresholds
) -> dict[str, Any]:
    """Per-class P/R/F1, macro-F1, accuracy, and each gate's share and precision."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    pred = [p.label for p in predictions]
    labels = sorted(set(truth) | set(pred))
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    per_class = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
              "support": int(s[i])}
        for i, lab in enumerate(labels) if s[i]
    }  # fmt: skip
    gates: dict[str, dict[str, float | None]] = {}
    decided = [gate(x, thresholds) for x in predictions]
    for g in ("auto", "confirm", "manual"):
        idx = [i for i, d in enumerate(decided) if d == g]
        right = sum(pred[i] == truth[i] for i in idx)
        gates[g] = {"share": len(idx) / max(len(pred), 1),
                    "precision": right / len(idx) if idx else None}  # fmt: skip
    return {
        "per_class": per_class,
        "macro_f1": float(f1_score(truth, pred, labels=sorted(set(truth)), average="macro")),
        "accuracy": float(accuracy_score(truth, pred)),
        "gates": gates,
    }


# ---------------------------------------------------------------------------------------------
# The router


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(decisions: np.ndarray, y: np.ndarray) -> float:
    """Temperature of the softmax over SVM margins that best fits the held-out labels (NLL)."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        p = _softmax(decisions / np.exp(log_t))
        return float(-np.log(p[rows, y] + 1e-12).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-5, 3), method="bounded").x))


class _Model:
    """LinearSVC over [char TF-IDF, word TF-IDF, opening char TF-IDF, w·embedding]; no
    embedding model inside."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        def chars(preprocessor: Callable[[str], str]) -> TfidfVectorizer:
            return TfidfVectorizer(
                analyzer="char", ngram_range=(1, 3), sublinear_tf=True, preprocessor=preprocessor
            )

        self.chars = chars(_ngram_text)
        self.words = TfidfVectorizer(analyzer=_words, sublinear_tf=True)
        self.head = chars(_head_text)
        self.svm = LinearSVC(C=SVM_C)

    def _features(self, texts: Sequence[str], emb: np.ndarray, fit: bool) -> Any:
        from scipy import sparse

        blocks = [v.fit_transform(texts) if fit else v.transform(texts)
                  for v in (self.chars, self.words, self.head)]  # fmt: skip
        return sparse.hstack([*blocks, sparse.csr_matrix(emb * EMBED_WEIGHT)]).tocsr()

    def fit(self, texts: Sequence[str], emb: np.ndarray, y: np.ndarray) -> _Model:
        self.svm.fit(self._features(texts, emb, fit=True), y)
        return self

    def decision(self, texts: Sequence[str], emb: np.ndarray) -> np.ndarray:
        d = self.svm.decision_function(self._features(texts, emb, fit=False))
        return d if d.ndim == 2 else np.c_[-d, d]  # two classes: one margin


class OutdatedRouterError(ValueError):
    """A saved router written by an earlier version whose features this version computes
    differently: it has to be retrained from its data."""


class Router:
    """Category classifier with calibrated confidences and a three-way gate."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or Embedder()
        self.labels: list[str] = []
        self.temperature = 1.0
        self.thresholds = Thresholds(auto=None, confirm=None)
        self.metadata: dict[str, Any] = {}
        self._model: _Model | None = None

    # -- training ---------------------------------------------------------------------------

    def train(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        description: str = "",
        embeddings: np.ndarray | None = None,
        progress: Progress | None = None,
        seed: int = 0,
    ) -> TrainReport:
        """Cross-fit for the report, temperature and gate; then fit on everything."""
        texts = [normalise(t) for t in texts]
        self._check(texts, labels)
        emb = embeddings if embeddings is not None else self.embedder.encode(texts, progress)
        self.labels = sorted(set(labels))
        index = {lab: i for i, lab in enumerate(self.labels)}
        y = np.array([index[lab] for lab in labels])
        folds = min(FOLDS, min(Counter(labels).values()))
        oof = self._held_out_decisions(texts, emb, y, folds, seed)
        self.temperature = _fit_temperature(oof, y)
        proba = _softmax(oof / self.temperature)
        held_out = [self._prediction(row) for row in proba]
        conf = proba.max(axis=1)
        self.thresholds = calibrate(conf, proba.argmax(axis=1) == y)
        metrics = evaluate(list(labels), held_out, self.thresholds)
        report = TrainReport(
            per_class=metrics["per_class"],
            macro_f1=metrics["macro_f1"],
            accuracy=metrics["accuracy"],
            n_examples=len(texts),
            folds=folds,
            thresholds=self.thresholds,
            gate_precision={g: m["precision"] for g, m in metrics["gates"].items()},
        )
        self._model = _Model().fit(texts, emb, y)
        self.metadata = self._describe(report, labels, description)
        return report

    @staticmethod
    def _check(texts: Sequence[str], labels: Sequence[str]) -> None:
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        counts = Counter(labels)
        if len(counts) < 2:
            raise ValueError("need at least two labels")
        few = sorted(lab for lab, n in counts.items() if n < 2)
        if few:
            raise ValueError(f"every label needs at least 2 examples; too few: {few}")

    @staticmethod
    def _held_out_decisions(
        texts: list[str], emb: np.ndarray, y: np.ndarray, folds: int, seed: int
    ) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold

        out = np.zeros((len(texts), int(y.max()) + 1))
        for fit_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(
            texts, y
        ):
            model = _Model().fit([texts[i] for i in fit_idx], emb[fit_idx], y[fit_idx])
            # columns by class id: robust even if a fold lacked a class (stratified: it cannot)
            cols = model.svm.classes_
            block = np.full((len(test_idx), out.shape[1]), -1e9)
            block[:, cols] = model.decision([texts[i] for i in test_idx], emb[test_idx])
            out[test_idx] = block
        return out

    def _describe(
        self, report: TrainReport, labels: Sequence[str], description: str
    ) -> dict[str, Any]:
        import sklearn

        from knowledge.embedding_model import model_label

        return {
            "format_version": FORMAT_VERSION,
            "labels": self.labels,
            "embedding_model": model_label(self.embedder.model_name),
            "embedding_model_setting": self.embedder.model_name,
            "features": f"char 1-3 + jieba word + opening ({HEAD_CHARS} chars) char 1-3 TF-IDF"
            f" + {EMBED_WEIGHT}×e5 ({EMBED_CHARS} chars); LinearSVC C={SVM_C}",
            "training_data": {
                "description": description,
                "size": len(labels),
                "per_label": dict(sorted(Counter(labels).items())),
            },
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sklearn": sklearn.__version__,
            "temperature": self.temperature,
            "thresholds": asdict(self.thresholds),
            "metrics": report.to_dict(),
        }

    # -- prediction --------------------------------------------------------------------------

    def predict(
        self, texts: Sequence[str] | str, embeddings: np.ndarray | None = None
    ) -> list[Prediction]:
        if self._model is None:
            raise RuntimeError("router is not trained")
        items = [normalise(t) for t in ([texts] if isinstance(texts, str) else texts)]
        if not items:
            return []
        emb = embeddings if embeddings is not None else self.embedder.encode(items)
        proba = _softmax(self._model.decision(items, emb) / self.temperature)
        return [self._prediction(row) for row in proba]

    def _prediction(self, proba: np.ndarray) -> Prediction:
        top = np.argsort(-proba)[:3]
        top3 = tuple((self.labels[i], round(float(proba[i]), 4)) for i in top)
        return Prediction(label=top3[0][0], confidence=float(proba[top[0]]), top3=top3)

    def gate(self, prediction: Prediction) -> Gate:
        return gate(prediction, self.thresholds)

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """router.joblib (sklearn objects only) + router.json (metadata); the embedding model is
        not saved, it is reloaded by its id."""
        import joblib

        if self._model is None:
            raise RuntimeError("router is not trained")
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        joblib.dump(self._model, out / MODEL_FILE)
        (out / META_FILE).write_text(
            json.dumps(self.metadata, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        return out

    @classmethod
    def load(
        cls, path: str | Path, embedder: Embedder | None = None, cache_dir: Path | None = None
    ) -> Router:
        """Load a saved router; its embedding model is the one it was trained with."""
        import joblib

        folder = Path(path)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise OutdatedRouterError(
                f"{folder} holds a router of format {meta.get('format_version')}, this version "
                f"reads format {FORMAT_VERSION}: retrain it with `hotline router train`"
            )
        wanted = meta.get("embedding_model_setting")
        if embedder is None or embedder.model_name != wanted:
            root = cache_dir or (embedder.cache_dir if embedder else model_paths().cache_dir)
            embedder = Embedder(ModelPaths(wanted, root))
        router = cls(embedder)
        router.labels = list(meta["labels"])
        router.temperature = float(meta["temperature"])
        router.thresholds = Thresholds(**meta["thresholds"])
        router.metadata = meta
        # joblib runs pickled code: load only folders this system wrote (save())
        router._model = joblib.load(folder / MODEL_FILE)
        _warn_on_version_change(folder, meta)
        return router


def _warn_on_version_change(folder: Path, meta: dict[str, Any]) -> None:
    import sklearn

    if meta.get("sklearn") != sklearn.__version__:
        log.warning(
            "router %s was trained with scikit-learn %s, running %s: retrain if it misbehaves",
            folder, meta.get("sklearn"), sklearn.__version__,
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The out-of-box router: trained from the responsibility table


def table_examples(config: WorkOrderConfig) -> tuple[list[str], list[str]]:
    """Training pairs from the table: each category's name, scope items, keywords, examples."""
    texts: list[str] = []
    labels: list[str] = []
    for cat in config.categories:
        scope = [s for s in re.split(r"[、，,；;（）()]", cat.scope) if s.strip()]
        for text in (cat.name, *scope, *cat.keywords, *cat.examples):
            texts.append(text.strip())
            labels.append(cat.name)
    return texts, labels


def _table_hash(config: WorkOrderConfig, model_name: str | None) -> str:
    texts, labels = table_examples(config)
    blob = json.dumps(
        [FORMAT_VERSION, EMBED_WEIGHT, EMBED_CHARS, HEAD_CHARS, model_name, texts, labels]
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def default_router(
    config: WorkOrderConfig,
    model_dir: str | Path | None = None,
    cache_dir: Path | None = None,
    embedder: Embedder | None = None,
) -> Router:
    """The trained router in `model_dir` if there is one; else a router trained from the
    table's examples and keywords, cached under cache_dir/router/<hash of the table> (cache_dir
    defaults to the embedder's, HOTLINE_CACHE_DIR). A trained router of an earlier format is
    reported and replaced by the table's until it is retrained: requests keep being routed."""
    embedder = embedder or Embedder()
    if model_dir and (Path(model_dir) / META_FILE).exists():
        try:
            return Router.load(model_dir, embedder)
        except OutdatedRouterError as exc:
            log.error("%s; routing with the responsibility table until then", exc)
    routers = (
        ModelPaths(None, Path(cache_dir)).routers_dir if cache_dir else embedder.paths.routers_dir
    )
    folder = routers / _table_hash(config, embedder.model_name)
    if (folder / META_FILE).exists():
        try:
            return Router.load(folder, embedder)
        except Exception:  # a half-written or outdated cache entry is simply rebuilt
            log.warning("router cache %s unreadable; retraining", folder, exc_info=True)
    router = Router(embedder)
    texts, labels = table_examples(config)
    router.train(
        texts, labels, description="responsibility table: names, scope, keywords, examples"
    )
    router.save(folder)
    return router


# ---------------------------------------------------------------------------------------------
# Districts


def _district_names(config: WorkOrderConfig) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    for district in config.districts:
        names.append((district, district))
        short = district.removesuffix("区")
        if len(short) >= 2 and short != district:
            names.append((short, district))
        names += [(place, district) for place in config.gazetteer.get(district, ())]
    return names


def resolve_district(address_or_text: str | None, config: WorkOrderConfig) -> str | None:
    """The district whose name or gazetteer place occurs in the text; the longest match wins
    (东湖公园 over 东湖), then the earliest."""
    if not address_or_text:
        return None
    text = normalise(address_or_text)
    best: tuple[int, int, str] | None = None  # (-length, position, district)
    for name, district in _district_names(config):
        pos = text.find(name)
        if pos >= 0:
            cand = (-len(name), pos, district)
            best = cand if best is None or cand < best else best
    return best[2] if best else None


# ---------------------------------------------------------------------------------------------
# Emergencies: say the number at once, before any work order


@dataclass(frozen=True)
class Emergency:
    kind: str
    number: str  # 110 police, 119 fire and rescue, 120 ambulance


# Order matters: the first rule that matches decides the number (fire and gas before the
# injuries they cause; violence before its injuries: the police bring the ambulance).
_GAS = "(煤气|燃气|天然气|液化气|然气|燃起)"  # ASR: 然气, 燃起
_CHILD = "(小孩|孩子|儿童|婴儿|宝宝|小朋友|娃|女儿|儿子)"
_PERSON = "(人|老人|他|她|我妈|我爸|老公|老婆|孩子|老太太|大爷|阿姨)"
_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gas_leak", "119", (
        rf"{_GAS}.{{0,6}}(泄漏|泄露|漏气|漏了|在漏)", rf"{_GAS}的?味",
        rf"{_GAS}(管|罐|瓶|阀|表).{{0,4}}(漏|裂|爆)",
    )),
    ("fire", "119", (
        "着火|起火|失火|火灾|烧起来|火烧|火苗|爆炸",
        "(电线|电表|电箱|电瓶|电动车|插座|配电|屋|家|楼|厨房).{0,4}冒黑?烟",
    )),
    ("violence", "110", (
        "打人|打架|斗殴|砍人|持刀|拿刀|拿着刀|动刀|杀人|要杀|砍死|家暴",
        "捅(了|伤|死)?(我|他|她|人)", "(弄|打|整)死(我|你|他|她|人)",
        "(又|动手|还)打(我|人)|打了我|打我(了|一顿|耳光)",
        "被(他|她|人|老公|丈夫|男人)?打(了|伤|得|成)",
        "抢劫|抢钱|抢包|绑架|强奸|性侵|非礼|扬言|恐吓|闹事", "威胁(我|他|她|我们|说)",
        "(要|说要)报复", "砸(门|车|店|东西)", "(要|想|准备)跳楼|跳楼了|自杀|轻生",
    )),
    ("child_missing", "110", (
        rf"{_CHILD}走?丢了", rf"{_CHILD}.{{0,8}}(走丢|不见了|找不到了|被人?(拐|抱走|带走))",
        "拐卖|拐走",
    )),
    ("child_trapped", "119", (
        rf"{_CHILD}.{{0,8}}(被(锁|困|卡)|(锁|困|卡)(在|住)|关在.{{0,3}}(车|屋|房))",  # not 困难
        rf"{_CHILD}.{{0,8}}(掉(进|到|下)|落水|溺水|坠楼|爬(到|上|出).{{0,4}}(窗|阳台|楼))",
    )),
    ("trapped", "119", ("困在电梯|电梯里?困(人|住)|被困|困住了",)),
    ("hurt", "120", (
        "晕倒|昏倒|倒地|不省人事|昏迷|没有?(呼吸|意识|知觉|气了)|叫不醒|抽搐|口吐白沫",
        "心脏病(发作|犯)|心梗|突然中风|大出血|流了?(很多|好多|一地)血|血流不止|满(脸|身|头)是血",
        "重伤|被车撞|撞伤|撞倒", "摔(伤|倒|下来).{0,6}(起不来|动不了|不能动|昏)",
        rf"{_PERSON}.{{0,3}}快?不行了", "中毒|喝了?农药|割腕|触电|被电(到|了|击)",
    )),
    ("flood", "119", (
        "(水|洪水|河水|大水).{0,4}(淹|漫|灌|冲).{0,6}(屋|家|房|车|人|楼|进来)",
        "被(水|洪水|大水)(困|淹|冲)|困在水|洪水|有人落水|掉(进|到)(河|水|湖|塘)|溺水",
    )),
    ("live_wire", "119", (
        "(电线|高压线|电缆).{0,4}(断|掉|落)(了|下来)?.{0,6}(地上|路上|水里|人)",
        "漏电.{0,6}(人|伤|倒)",
    )),
)  # fmt: skip
_EMERGENCY_RULES = tuple(
    (kind, number, re.compile("|".join(alts))) for kind, number, alts in _RULES
)
# A hazard, a hypothesis or prevention is a complaint for the table, not a call to 119:
# 万一着火, 防溺水宣传, 燃气泄漏隐患. Only cues next to the match count, so that an ASR
# transcript without punctuation keeps its real emergency.
_CUE_BEFORE = re.compile(r"防|避免|万一|担心|如果|一旦|假如|要是")
_CUE_AFTER = re.compile(r"隐患|风险|演练|宣传|知识|培训|检查|教育|预案")
_CUE_WINDOW = 5


def _hedged(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - _CUE_WINDOW) : match.start()]
    after = text[match.end() : match.end() + _CUE_WINDOW]
    return bool(_CUE_BEFORE.search(before) or _CUE_AFTER.search(after))


def detect_emergency(text: str | None) -> Emergency | None:
    """The kind of emergency and the number to call, or None for an ordinary request."""
    if not text:
        return None
    clean = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    for clause in re.split(r"[。！？!?；;，,]", clean):
        for kind, number, pattern in _EMERGENCY_RULES:
            if any(not _hedged(clause, m) for m in pattern.finditer(clause)):
                return Emergency(kind, number)
    return None


def is_emergency(text: str | None) -> str | None:
    """Which number to call at once (110/119/120), or None."""
    found = detect_emergency(text)
    return found.number if found else None


# ---------------------------------------------------------------------------------------------
# One call for a channel or the dialogue


@dataclass(frozen=True)
class Routing:
    category: str  # the router's label
    department: str | None  # None when the label is not a category of the configuration
    district: str | None
    gate: Gate
    confidence: float
    top3: tuple[tuple[str, float], ...]
    emergency: str | None  # 110/119/120: tell the caller at once; the order is flagged


def route(
    text: str, router: Router, config: WorkOrderConfig, address: str | None = None
) -> Routing:
    """Category, department (the district's unit for 区县-level types) and gate of a request.

    An emergency always goes to a person, whatever the classifier's confidence.
    """
    emergency = is_emergency(text)
    prediction = router.predict([text])[0]
    known = prediction.label in config.category_by_name
    district = resolve_district(address, config) or resolve_district(text, config)
    department = config.default_department(prediction.label, district) if known else None
    decided = router.gate(prediction) if known else "manual"
    return Routing(
        category=prediction.label,
        department=department,
        district=district,
        gate="manual" if emergency else decided,
        confidence=prediction.confidence,
        top3=prediction.top3,
        emergency=emergency,
    )
