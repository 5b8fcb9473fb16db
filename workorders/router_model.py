"""The 智能派单 router's model: features, training, prediction and its saved folder.

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

Confidences and the gate are calibrated on held-out predictions (workorders/router_calibration.py);
the model that ships is then refitted on all examples. Which router a process uses (a trained
folder or the responsibility table) is workorders/router_source.py's business.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.settings import ModelPaths, model_paths
from workorders.router_calibration import (
    Gate,
    Prediction,
    Thresholds,
    TrainReport,
    calibrate,
    evaluate,
    fit_temperature,
    gate,
    softmax,
)

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
# The router


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


class RouterUnavailable(ValueError):
    """A router folder that cannot be loaded; the message says why and what to do."""


class OutdatedRouterError(RouterUnavailable):
    """A saved router written by an earlier version whose features this version computes
    differently: it has to be retrained from its data."""


def read_metadata(path: str | Path) -> dict[str, Any]:
    """router.json of a saved router this version can load (cheap: the model is not read);
    RouterUnavailable, or OutdatedRouterError, saying what is wrong with the folder."""
    folder = Path(path)
    retrain = f"train one into it with `hotline router train --out {folder}`"
    if not folder.is_dir():
        raise RouterUnavailable(f"router folder {folder} does not exist: {retrain}")
    if not (folder / META_FILE).is_file() or not (folder / MODEL_FILE).is_file():
        raise RouterUnavailable(
            f"{folder} holds no trained router ({META_FILE} and {MODEL_FILE}): {retrain}"
        )
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RouterUnavailable(f"{folder / META_FILE} is unreadable ({exc}): {retrain}") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        found = meta.get("format_version") if isinstance(meta, dict) else None
        raise OutdatedRouterError(
            f"{folder} holds a router of format {found}, this version reads format "
            f"{FORMAT_VERSION}: retrain it with `hotline router train`"
        )
    return meta


class Router:
    """Category classifier with calibrated confidences and a three-way gate."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or Embedder()
        self.labels: list[str] = []
        self.temperature = 1.0
        self.thresholds = Thresholds(auto=None, confirm=None)
        self.metadata: dict[str, Any] = {}
        self.source = "new"  # "trained" (a folder of `hotline router train`) or "table"
        self.folder: Path | None = None  # where it was loaded from
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
        self.temperature = fit_temperature(oof, y)
        proba = softmax(oof / self.temperature)
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
        proba = softmax(self._model.decision(items, emb) / self.temperature)
        return [self._prediction(row) for row in proba]

    def _prediction(self, proba: np.ndarray) -> Prediction:
        top = np.argsort(-proba)[:3]
        top3 = tuple((self.labels[i], round(float(proba[i]), 4)) for i in top)
        return Prediction(label=top3[0][0], confidence=float(proba[top[0]]), top3=top3)

    def gate(self, prediction: Prediction) -> Gate:
        return gate(prediction, self.thresholds)

    def describe(self) -> dict[str, Any]:
        """What /health says about the router in use."""
        path = str(self.folder) if self.folder else None
        return {"source": self.source, "path": path, "labels": len(self.labels)}

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
        """Load a saved router (source "trained"); its embedding model is the one it was trained
        with. RouterUnavailable (OutdatedRouterError) when the folder holds no usable router."""
        import joblib

        folder = Path(path).expanduser().resolve()
        meta = read_metadata(folder)
        wanted = meta.get("embedding_model_setting")
        if embedder is None or embedder.model_name != wanted:
            root = cache_dir or (embedder.cache_dir if embedder else model_paths().cache_dir)
            embedder = Embedder(ModelPaths(wanted, root))
        router = cls(embedder)
        router.labels = list(meta["labels"])
        router.temperature = float(meta["temperature"])
        router.thresholds = Thresholds(**meta["thresholds"])
        router.metadata = meta
        router.source, router.folder = "trained", folder
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
