"""The knowledge service used by the app and the Rasa actions: search with a decision.

One instance per process holds the embedding model and the hybrid index over the entries valid
today. Before each search it compares the KB version in the database with the one it indexed, so
a `hotline kb import` (from any process or replica) is picked up without a restart; the new index
is built beside the old one, which keeps answering until the swap.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from hotline.settings import PROJECT_ROOT, ModelPaths, Settings, model_paths
from knowledge import decision, rerank, store
from knowledge.embedding_model import Encoder, configured_model, encode_passages
from knowledge.index import Doc, HybridConfig, HybridIndex
from knowledge.loaders import load_path
from knowledge.schema import Entry
from knowledge.synonyms import expand

log = logging.getLogger(__name__)

SAMPLE_KB = PROJECT_ROOT / "knowledge" / "kb"
THRESHOLDS = PROJECT_ROOT / "knowledge" / "thresholds.yml"
RERANKER = PROJECT_ROOT / "knowledge" / "reranker.yml"
# A question typed without its question mark, or transcribed with a full stop, is the same
# question: sentence-final punctuation must not move the embedding across a threshold.
_END_PUNCTUATION = re.compile(r"[\s。．.？?！!～~…]+$")
FOLLOWUP_MAX_CHARS = 15  # a short question after an answer may lean on that answer's topic
# Passage embeddings kept per process for :meth:`KnowledgeService.encode` (384 floats each:
# 4,096 texts are about 6 MB).
PASSAGE_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Result:
    entry: Entry
    score: float
    matched: str


@dataclass
class SearchOutcome:
    decision: decision.Decision
    results: list[Result] = field(default_factory=list)
    query: str = ""  # what was searched (the follow-up with its topic, when that won)
    figure_missing: bool = False  # a detail is asked that the best answer lacks (search only)


@dataclass
class _Snapshot:
    version: int
    day: date
    entries: dict[str, Entry]
    index: HybridIndex


def index_docs(entries: list[Entry]) -> list[Doc]:
    """FAQ entries match by their phrasings (and, for the reranker, their answer); passages by
    their text under the document title."""
    docs = []
    for e in entries:
        if e.kind == "passage":
            docs.append(Doc(e.id, [f"{e.question}\n{e.answer}"], group=e.doc_id or ""))
        else:
            docs.append(Doc(e.id, e.phrasings(), body=e.answer))
    return docs


class KnowledgeService:
    def __init__(
        self,
        database_url: str,
        paths: ModelPaths,
        thresholds: decision.Thresholds | Path,
        today: Callable[[], date] = date.today,
        threads: int = 1,
        reranker: rerank.Reranker | Path | None = RERANKER,
        index_config: HybridConfig | None = None,
    ) -> None:
        self.database_url = database_url
        self._thresholds = thresholds
        self._reranker = reranker
        self._index_config = index_config
        self.today = today
        self.paths = paths
        self._model: Encoder | None = None
        self._threads = threads
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._passages: OrderedDict[str, np.ndarray] = OrderedDict()  # least recent first
        self._passages_lock = threading.Lock()

    @property
    def thresholds(self) -> decision.Thresholds:
        """Read from the calibration file on first use (`hotline kb calibrate` writes it)."""
        if isinstance(self._thresholds, Path):
            self._thresholds = decision.load(self._thresholds)
        return self._thresholds

    @property
    def reranker(self) -> rerank.Reranker | None:
        """Read from its file on first use (None: the hybrid order, no reranking)."""
        if isinstance(self._reranker, Path):
            self._reranker = rerank.load(self._reranker)
        return self._reranker

    def use_reranker(self, reranker: rerank.Reranker | None) -> None:
        """Swap the reranker (after `hotline kb calibrate` trained a new one)."""
        self._reranker = reranker
        snap = self._snapshot
        if snap is not None:
            snap.index.reranker = reranker

    @property
    def model(self) -> Encoder:
        if self._model is None:
            import torch

            # One query at a time is a small matrix product: extra threads mostly spin, and
            # beside Rasa on a 2-core machine they made a query 10x slower (see BENCHMARKS.md).
            torch.set_num_threads(self._threads)
            self._model = configured_model(self.paths)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised passage embeddings with this process's model (work-order repeats).

        Each text is encoded once while it stays among the PASSAGE_CACHE_SIZE most recent:
        repeat detection compares every new order with up to 50 earlier ones, and encoding
        those again for each new order was the app's largest cost under chat load
        (BENCHMARKS.md, "Chat load")."""
        texts = list(texts)
        found: dict[str, np.ndarray] = {}
        with self._passages_lock:
            for text in texts:
                if text in self._passages:
                    found[text] = self._passages[text]
                    self._passages.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = encode_passages(self.model, missing)
            with self._passages_lock:
                for text, vector in zip(missing, vectors, strict=True):
                    found[text] = self._passages[text] = vector
                while len(self._passages) > PASSAGE_CACHE_SIZE:
                    self._passages.popitem(last=False)
        if not texts:
            return encode_passages(self.model, [])
        return np.stack([found[t] for t in texts])

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings like :meth:`encode`, through the index's disk cache (for texts
        that come back, such as the knowledge base's own phrasings)."""
        return self.refresh().index.embed(texts)

    def entries(self) -> list[Entry]:
        """The entries served today."""
        return list(self.refresh().entries.values())

    def state(self) -> dict[str, object]:
        """For /health: loading until the first index is built."""
        snap = self._snapshot
        if snap is None:
            return {"status": "loading"}
        return {"status": "ok", "entries": len(snap.entries), "kb_version": snap.version}

    def refresh(self) -> _Snapshot:
        """The current snapshot, rebuilt first if the KB or the day changed."""
        snap = self._snapshot
        version, day = store.version(self.database_url), self.today()
        if snap and snap.version == version and snap.day == day:
            return snap
        # One rebuild at a time; others keep using the old snapshot if there is one.
        if not self._lock.acquire(blocking=snap is None):
            if snap is None:  # cannot be: without a snapshot the acquire blocks, so it succeeds
                raise RuntimeError("no knowledge index to use while another thread builds one")
            return snap
        try:
            snap = self._snapshot
            if snap and snap.version == version and snap.day == day:
                return snap
            entries = [e for e in store.all_entries(self.database_url) if e.valid_on(day)]
            index = HybridIndex(
                self.model,
                cache_dir=self.paths.embeddings_dir,
                config=self._index_config,
                reranker=self.reranker,
            )
            index.build(index_docs(entries))
            self._snapshot = _Snapshot(version, day, {e.id: e for e in entries}, index)
            log.info("knowledge index: %d entries valid on %s (KB version %d)",
                     len(entries), day, version)  # fmt: skip
            return self._snapshot
        finally:
            self._lock.release()

    def get(self, entry_id: str) -> Entry | None:
        """An entry by id, only if it may be served today."""
        return self.refresh().entries.get(entry_id)

    def search(self, query: str, k: int = 5, topic: str | None = None) -> SearchOutcome:
        """Rank, then decide answer/clarify/abstain on the scores (see knowledge/decision.py)."""
        outcome = self.rank(query, k, topic)
        results = outcome.results
        outcome.figure_missing = bool(results) and decision.figure_missing(
            query, results[0].entry.answer
        )
        outcome.decision = decision.decide(
            [r.score for r in results], self.thresholds, outcome.figure_missing
        )
        return outcome

    def rank(self, query: str, k: int = 5, topic: str | None = None) -> SearchOutcome:
        """The best entries for `query`, without a decision (calibration needs only this).

        `topic` is the id of the entry last answered in the conversation. A short follow-up
        (那特殊慢性病呢？/ 要带什么材料？) is also searched together with that entry's question;
        the entry itself is left out of that search (the citizen already has that answer and
        asks for something else), and the better of the two searches wins.
        """
        query = expand(_END_PUNCTUATION.sub("", query.strip()))
        snap = self.refresh()
        outcome = self._rank(snap, query, k)
        previous = snap.entries.get(topic) if topic else None
        if previous and len(query) <= FOLLOWUP_MAX_CHARS:
            combined = self._rank(snap, f"{previous.question} {query}", k + 1)
            combined.results = [r for r in combined.results if r.entry.id != previous.id][:k]
            if combined.results and (
                not outcome.results or combined.results[0].score > outcome.results[0].score
            ):
                outcome = combined
        return outcome

    def _rank(self, snap: _Snapshot, query: str, k: int) -> SearchOutcome:
        hits = snap.index.search(query, k=max(k, 3))
        results = [
            Result(snap.entries[h.key], h.score, h.matched) for h in hits if h.key in snap.entries
        ]
        return SearchOutcome("abstain", results[:k], query)


def import_sample_if_empty(database_url: str) -> None:
    """A fresh installation starts with the sample KB shipped in knowledge/kb/."""
    if store.count_entries(database_url) == 0:
        report = store.import_results(database_url, load_path(SAMPLE_KB))
        log.info("imported the sample KB: %d entries", report.added)


_services: dict[str, KnowledgeService] = {}
_services_lock = threading.Lock()


def get_service(settings: Settings) -> KnowledgeService:
    """The process-wide service for these settings (the model loads once per process)."""
    with _services_lock:
        service = _services.get(settings.database_url)
        if service is None:
            zone = ZoneInfo(settings.timezone)
            service = KnowledgeService(
                settings.database_url,
                model_paths(settings),
                THRESHOLDS,
                today=lambda: datetime.now(zone).date(),
                threads=settings.embedding_threads,
            )
            _services[settings.database_url] = service
        return service
