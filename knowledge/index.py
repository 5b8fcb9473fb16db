"""Hybrid retrieval: exact dense similarity + sparse BM25 over jieba words and character bigrams.

The index knows nothing about the knowledge-base schema: it ranks :class:`Doc` objects, each a
key with one or more texts (a KB entry's standard question and its alternatives, or a single
passage of a longer document). A Doc scores by its best text.

Scores are calibrated, not rank-based, so that a threshold means the same for every query (see
:class:`HybridConfig`): the dialogue answers, clarifies or abstains on ``Hit.score`` and on the
gap between the first two hits. Measurements: ``python -m bench.ncp_policy_qa`` (quality) and
``python -m bench.kb_scale`` (latency, memory, build time).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jieba
import numpy as np
from scipy import sparse

from knowledge.e5_rebuild import read_marker
from knowledge.embedding_model import encode_passages, encode_queries

if TYPE_CHECKING:
    from knowledge.embedding_model import Encoder
    from knowledge.rerank import Reranker
    from knowledge.spelling import HomophoneCorrector

# Question words and fillers wrapped around the content of a question. BM25's idf already makes
# them cheap, but they would still count in the query's own score (the lexical normaliser) and
# so lower the calibrated score of every politely worded question. Removed from queries only.
_STOPWORDS = """
请问 请 问 问一下 想问 想 知道 我 我们 你 你们 您 怎么 怎么样 怎样 如何 什么 哪些 哪里 哪个 哪儿
多少 几 是否 能否 可以 能 吗 呢 吧 啊 呀 了 的 地 得 是 有 在 和 与 及 要 需要 应该 一下 为什么 么
还 都 就 会 对 给 被 把 这 那 这个 那个 哪 谁 何 有何 有没有 没有
"""
QUERY_STOPWORDS = frozenset(_STOPWORDS.split())
_NOT_A_WORD = re.compile(r"^[\W_]+$")  # whitespace and punctuation only (CJK counts as \w)
_WORD_RUNS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Doc:
    """Something the index can return."""

    key: str  # what a hit names: a KB entry id, or a passage id like "docid#3"
    texts: list[str]  # its phrasings (standard question + alternatives) or one passage text
    group: str = ""  # optional: the document a passage belongs to (for doc-level ranking)
    body: str = ""  # optional: a FAQ entry's answer, a second field for the reranker


@dataclass(frozen=True)
class Hit:
    """One Doc found for a query, scored by its best-matching text."""

    key: str
    score: float  # calibrated score in [0, 1], comparable across queries (see search())
    dense: float  # raw cosine similarity of the matched text (e5: about 0.75 to 0.97)
    lexical: float  # normalised lexical score of the matched text, in [0, 1]
    matched: str  # the best-matching text
    rerank: float | None = None  # the reranker's probability, when a reranker ordered the hits


@dataclass(frozen=True)
class GroupHit:
    """A group (the source document of passages) ranked by its best passage."""

    group: str
    score: float
    hits: list[Hit]  # its passages among the candidates, best first


@dataclass(frozen=True)
class QueryScores:
    """Everything one query scores against the index, per text row (and per doc for bodies)."""

    fused: np.ndarray  # calibrated hybrid score per text row
    cosine: np.ndarray  # raw cosine per text row
    words: np.ndarray  # normalised word-BM25 per text row
    bigrams: np.ndarray  # normalised bigram-BM25 per text row
    lexical: np.ndarray  # the two mixed by ``bigram_share``
    query_vector: np.ndarray
    word_terms: list[str]  # the query's content words (stopwords removed)
    bigram_terms: list[str]  # and its content character bigrams


@dataclass(frozen=True)
class HybridConfig:
    """How the two signals are normalised and mixed. Defaults: multilingual-e5-small, chosen on
    the ncp policy questions (passages) and the sample KB's dev set (short phrasings).

    Why a calibrated linear mix and not reciprocal-rank fusion: RRF sees only ranks, so the top
    hit of a nonsense query gets the same fused score as a perfect match and the dialogue could
    not abstain. Here each signal is mapped onto [0, 1] by a query-independent rule, then mixed:

    * dense: cosine ``c`` -> ``(c - dense_floor) / (dense_ceil - dense_floor)``, clipped. e5
      cosines cluster high (a typical unrelated Chinese pair scores about 0.85, the best
      unrelated text for a question 0.86 to 0.90), so floor and ceiling are fixed per model.
      Per-query min-max or z-scores would hand every query, however unrelated, a "perfect" hit.
    * lexical: BM25 divided by the query's own score (what a text made of exactly the query's
      content words would score), capped at 1; an exact copy of a question scores 0.8 to 1 (its
      stopwords lengthen it). Query terms the index has never seen count in the denominator, so
      a question about something absent from the KB scores low even if a common word matches.
      Char-bigram BM25 (robust to typos and to ASR homophones that break jieba's segmentation)
      and word BM25 are mixed by ``bigram_share``.
    * weight of dense vs lexical: falls linearly with the matched text's length, from
      ``dense_weight_short`` (texts up to ``short_chars``) to ``dense_weight_long`` (from
      ``long_chars``). e5-small matches short phrasings well but long passages poorly (dense
      alone: 0.85 top-1 on the KB dev set, 0.70 hit@1 on 400-char ncp passages), while BM25
      does the opposite; FAQ entries and document passages can share one index.
    """

    dense_floor: float = 0.80
    dense_ceil: float = 0.95
    dense_weight_short: float = 0.55
    dense_weight_long: float = 0.25
    short_chars: int = 64
    long_chars: int = 256
    bigram_share: float = 0.7
    k1: float = 1.2
    b: float = 0.75
    stopwords: frozenset[str] = field(default=QUERY_STOPWORDS)
    correct_homophones: bool = True  # search(): fix misheard KB words first (knowledge/spelling.py)
    # Reranked hits (docs with bodies) score by their best phrasing's scaled cosine, with this
    # share of their body's: on the dev set that separated right answers from wrong ones and
    # from unanswerable questions better than the hybrid score (see knowledge/rerank.py).
    body_share_of_score: float = 0.2

    def dense_weights(self, lengths: np.ndarray) -> np.ndarray:
        """Per-text weight of the dense score, from the texts' lengths in characters."""
        span = max(self.long_chars - self.short_chars, 1)
        t = np.clip((lengths - self.short_chars) / span, 0, 1)
        w = self.dense_weight_short + t * (self.dense_weight_long - self.dense_weight_short)
        return w.astype(np.float32)


def word_tokens(text: str) -> list[str]:
    """jieba words, lower-cased, without whitespace or punctuation tokens."""
    return [t for t in jieba.lcut(text.lower()) if not _NOT_A_WORD.match(t)]


def char_bigrams(text: str) -> list[str]:
    """Overlapping character pairs inside runs of word characters (never across punctuation).

    A run of one character is kept as a unigram so that it still counts.
    """
    grams: list[str] = []
    for run in _WORD_RUNS.findall(text.lower()):
        grams.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return grams


class SparseBM25:
    """Okapi BM25 stored as a term-by-text sparse matrix of precomputed term weights.

    Scoring sums the posting rows of the query's terms with one ``np.bincount``: vectorised, and
    the texts without any query term cost nothing. (rank-bm25's ``get_scores`` loops in Python
    over the vocabulary of every text: about a second per query at 100,000 texts.)
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)
        self.postings = sparse.csr_matrix((0, 0), dtype=np.float32)
        self.n_texts = 0
        self.avgdl = 1.0

    def fit(self, token_lists: Sequence[Sequence[str]]) -> None:
        term_ids: list[int] = []
        text_ids: list[int] = []
        tfs: list[int] = []
        for i, tokens in enumerate(token_lists):
            for term, count in Counter(tokens).items():
                term_ids.append(self.vocab.setdefault(term, len(self.vocab)))
                text_ids.append(i)
                tfs.append(count)
        self.n_texts = len(token_lists)
        terms, texts = np.asarray(term_ids, dtype=np.int64), np.asarray(text_ids, dtype=np.int64)
        tf = np.asarray(tfs, dtype=np.float32)
        lengths = np.asarray([len(t) for t in token_lists], dtype=np.float32)
        self.avgdl = max(float(lengths.mean()), 1e-9) if self.n_texts else 1.0
        norm = 1 - self.b + self.b * lengths / self.avgdl
        self.idf = self._idf(np.bincount(terms, minlength=len(self.vocab)).astype(np.float32))
        weights = self.idf[terms] * tf * (self.k1 + 1) / (tf + self.k1 * norm[texts])
        self.postings = sparse.csr_matrix(
            (weights.astype(np.float32), (terms, texts)), shape=(len(self.vocab), self.n_texts)
        )
        self.postings.sort_indices()  # each term's texts ascending: presence by binary search

    def _idf(self, df: np.ndarray) -> np.ndarray:
        # Lucene's variant: never negative, so a very common term cannot lower a score.
        return np.log1p((self.n_texts - df + 0.5) / (df + 0.5)).astype(np.float32)

    def scores(self, tokens: Sequence[str]) -> tuple[np.ndarray, float]:
        """BM25 of every text for the unique ``tokens``, and the query's own score.

        The own score is what a text identical to the query would get, the natural unit for a
        calibrated lexical score; terms absent from the index count with the highest idf.
        """
        unique = set(tokens)
        ids = [self.vocab[t] for t in unique if t in self.vocab]
        unseen = len(unique) - len(ids)
        idf_sum = float(self.idf[ids].sum()) + unseen * float(self._idf(np.zeros(1))[0])
        own_norm = 1 - self.b + self.b * len(unique) / self.avgdl
        own = idf_sum * (self.k1 + 1) / (1 + self.k1 * own_norm)
        if not ids:
            return np.zeros(self.n_texts, dtype=np.float32), own
        ptr, p = self.postings.indptr, self.postings
        rows = np.concatenate([p.indices[ptr[i] : ptr[i + 1]] for i in ids])
        weights = np.concatenate([p.data[ptr[i] : ptr[i + 1]] for i in ids])
        return np.bincount(rows, weights=weights, minlength=self.n_texts).astype(np.float32), own


def model_fingerprint(model: Encoder) -> str:
    """A stable id of the embedding model, so vectors of another model never mix in."""
    own_folder: Path | None = getattr(model, "folder", None)  # OnnxEncoder's; not a transformer's
    folder = Path(own_folder or getattr(model.tokenizer, "name_or_path", None) or "")
    marker = read_marker(folder) if folder.is_dir() else None
    if marker:  # the offline e5 rebuild records a hash of everything it wrote
        return f"{marker['model']}@{marker['content_sha256'][:16]}"
    return str(folder) if str(folder) not in ("", ".") else type(model).__name__


class EmbeddingCache:
    """Passage vectors on disk, keyed by model id + sha256 of the (stripped) text.

    One SQLite file of float32 blobs: a re-import embeds only new or changed texts, and several
    processes can share the file.
    """

    def __init__(self, path: Path, model_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model_id = model_id
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors ("
            " model TEXT NOT NULL, sha TEXT NOT NULL, vec BLOB NOT NULL,"
            " PRIMARY KEY (model, sha))"
        )
        self.db.commit()

    @staticmethod
    def digest(text: str) -> str:
        return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()

    def get(self, digests: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(digests), 500):  # SQLite limits the number of parameters
            chunk = list(digests[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT sha, vec FROM vectors WHERE model = ? AND sha IN ({marks})",
                [self.model_id, *chunk],
            )
            found.update((sha, np.frombuffer(vec, dtype=np.float32)) for sha, vec in rows)
        return found

    def put(self, digests: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (self.model_id, d, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for d, v in zip(digests, vectors, strict=True)
        ]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()


class HybridIndex:
    """Dense + lexical index over Docs; :class:`HybridConfig` explains the scores."""

    CACHE_FILE = "embeddings.sqlite3"
    ENCODE_CHUNK = 256  # texts per encode call: progress granularity and cache commit unit
    HALF_SCAN_FROM = 20_000  # texts; a smaller index is scanned in float32 throughout
    EXACT_DOCS = 200  # after a float16 scan, the best entries' rows get float32 cosines

    def __init__(
        self,
        model: Encoder,
        cache_dir: Path | None = None,
        config: HybridConfig | None = None,
        model_id: str | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.model = model
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.config = config or HybridConfig()
        self.model_id = model_id or model_fingerprint(model)
        self.reranker = reranker  # reorders search() hits when the docs have bodies
        self.keys: list[str] = []
        self.groups: list[str] = []
        self.texts: list[str] = []  # all texts; Doc i owns rows starts[i] .. starts[i+1]-1
        self.starts = np.zeros(0, dtype=np.int64)
        self.owner = np.zeros(0, dtype=np.int64)  # per text row: its Doc
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self._scan_vectors: Any = None  # what _cosine reads: a torch view or float16 copy
        # Bodies (FAQ answers): one vector (zero if the doc has none) and BM25 row per Doc.
        self.body_vectors = np.zeros((0, 0), dtype=np.float32)
        self.body_words = SparseBM25(self.config.k1, self.config.b)
        self.body_bigrams = SparseBM25(self.config.k1, self.config.b)
        self.has_bodies = False
        self.corrector: HomophoneCorrector | None = None
        self.dense_weight = np.zeros(0, dtype=np.float32)  # per text row
        self.words = SparseBM25(self.config.k1, self.config.b)
        self.bigrams = SparseBM25(self.config.k1, self.config.b)
        self.encoded_last_build = 0  # texts the last build() actually sent to the model

    def __len__(self) -> int:
        return len(self.keys)

    # -- building ------------------------------------------------------------------------

    def build(self, docs: Sequence[Doc], progress: bool = False) -> None:
        """(Re)index ``docs``; only texts missing from the embedding cache are encoded."""
        texts: list[str] = []
        keys, groups, starts, owner = [], [], [], []
        for i, doc in enumerate(docs):
            phrasings = [t.strip() for t in doc.texts if t.strip()]
            if not phrasings:
                raise ValueError(f"doc {doc.key!r} has no text")
            keys.append(doc.key)
            groups.append(doc.group)
            starts.append(len(texts))
            texts.extend(phrasings)
            owner.extend([i] * len(phrasings))
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate Doc keys")
        cfg = self.config
        bodies = [doc.body.strip() for doc in docs]
        with_body = [i for i, b in enumerate(bodies) if b]
        embedded = self._embed(texts + [bodies[i] for i in with_body], progress)
        vectors = embedded[: len(texts)]
        dim = vectors.shape[1] if len(texts) else 0
        body_vectors = np.zeros((len(keys) if with_body else 0, dim), np.float32)
        if with_body:  # a doc without a body keeps a zero row
            body_vectors[with_body] = embedded[len(texts) :]
        text_words, text_pairs = [word_tokens(t) for t in texts], [char_bigrams(t) for t in texts]
        words, bigrams = SparseBM25(cfg.k1, cfg.b), SparseBM25(cfg.k1, cfg.b)
        words.fit(text_words)
        bigrams.fit(text_pairs)
        body_words, body_bigrams = SparseBM25(cfg.k1, cfg.b), SparseBM25(cfg.k1, cfg.b)
        body_tokens: list[list[str]] = []
        body_pairs: list[list[str]] = []
        if with_body:
            body_tokens, body_pairs = (
                [word_tokens(b) for b in bodies],
                [char_bigrams(b) for b in bodies],
            )
            body_words.fit(body_tokens)
            body_bigrams.fit(body_pairs)
        lengths = np.asarray([len(t) for t in texts], dtype=np.float32)
        corrector = None
        if cfg.correct_homophones:
            from knowledge.spelling import HomophoneCorrector

            # What counts as written "as the texts write it" is the first phrasing of each doc
            # (the standard question) and the bodies: alternatives keep citizens' own typos
            # (户照) on purpose, which must not make the typo look like the KB's spelling.
            corrector = HomophoneCorrector.from_tokens(
                text_words + body_tokens,
                text_pairs + body_pairs,
                written=[text_pairs[s] for s in starts] + body_pairs,
                written_texts=[texts[s] for s in starts] + list(bodies if with_body else ()),
            )
        # Swap everything in at the end: a failed build leaves the previous index intact.
        self.keys, self.groups, self.texts = keys, groups, texts
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._scan_vectors = None
        self.starts = np.asarray(starts, dtype=np.int64)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.words, self.bigrams = words, bigrams
        self.body_vectors = body_vectors
        self.body_words, self.body_bigrams = body_words, body_bigrams
        self.has_bodies = bool(with_body)
        self.corrector = corrector
        self.dense_weight = cfg.dense_weights(lengths)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings of `texts` through this index's disk cache."""
        return self._embed(list(texts), progress=False)

    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        unique = list(dict.fromkeys(texts))
        digests = [EmbeddingCache.digest(t) for t in unique]
        cache = None
        if self.cache_dir is not None:
            cache = EmbeddingCache(self.cache_dir / self.CACHE_FILE, self.model_id)
        try:
            known = cache.get(digests) if cache else {}
            missing = [(d, t) for d, t in zip(digests, unique, strict=True) if d not in known]
            known.update(self._encode(missing, cache, progress))
        finally:
            if cache:
                cache.close()
        self.encoded_last_build = len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        row_of = {t: known[d] for d, t in zip(digests, unique, strict=True)}
        return np.ascontiguousarray(np.stack([row_of[t] for t in texts]), dtype=np.float32)

    def _encode(
        self, missing: list[tuple[str, str]], cache: EmbeddingCache | None, progress: bool
    ) -> dict[str, np.ndarray]:
        # Similar lengths in one batch waste less padding; sentence-transformers sorts only
        # within one call, so sort across chunks too.
        missing = sorted(missing, key=lambda item: len(item[1]))
        out: dict[str, np.ndarray] = {}
        bar = None
        if progress and missing:
            from tqdm import tqdm

            bar = tqdm(total=len(missing), desc="embedding", unit="text")
        for start in range(0, len(missing), self.ENCODE_CHUNK):
            chunk = missing[start : start + self.ENCODE_CHUNK]
            digests = [d for d, _ in chunk]
            vectors = encode_passages(self.model, [t for _, t in chunk])
            if cache:
                cache.put(digests, vectors)  # commit as we go: an interrupted build keeps work
            out.update(zip(digests, vectors, strict=True))
            if bar:
                bar.update(len(chunk))
        if bar:
            bar.close()
        return out

    # -- searching -----------------------------------------------------------------------

    def text_scores(self, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text row: hybrid score, raw cosine and normalised lexical score."""
        scores = self.query_scores(query)
        return scores.fused, scores.cosine, scores.lexical

    def query_scores(self, query: str, query_vector: np.ndarray | None = None) -> QueryScores:
        """All per-row signals of ``query`` (``query_vector``: its embedding, if known)."""
        if query_vector is None:
            query_vector = encode_queries(self.model, query)[0]
        word_terms, bigram_terms = self.query_terms(query)
        words = self._normalised(self.words, word_terms)
        bigrams = self._normalised(self.bigrams, bigram_terms)
        share = self.config.bigram_share
        lexical = (1 - share) * words + share * bigrams
        cosine = self._cosine(query_vector)
        fused = self._fuse(cosine, lexical, self.dense_weight)
        if self._half_scan:
            # The float16 scan is exact to about 1e-4; the best entries get float32 cosines so
            # that decisions near a threshold do not depend on the scan's rounding.
            best = _top_k(self.per_doc_max(fused), self.EXACT_DOCS)
            rows = np.concatenate([np.arange(*self.rows_of(int(d))) for d in best])
            cosine[rows] = self._exact_cosine(rows, query_vector)
            fused[rows] = self._fuse(cosine[rows], lexical[rows], self.dense_weight[rows])
        return QueryScores(
            fused, cosine, words, bigrams, lexical, query_vector, word_terms, bigram_terms
        )

    def _exact_cosine(self, rows: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
        import torch  # see _cosine: not numpy's BLAS

        with torch.inference_mode():
            return (torch.from_numpy(self.vectors[rows]) @ torch.from_numpy(query_vector)).numpy()

    def _fuse(self, cosine: np.ndarray, lexical: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """w * dense + (1 - w) * lexical, per row."""
        return lexical + weight * (self.dense_scale(cosine) - lexical)

    @property
    def _half_scan(self) -> bool:
        return len(self.texts) >= self.HALF_SCAN_FROM

    def rows_of(self, doc: int) -> tuple[int, int]:
        """The text rows of Doc ``doc``: start (inclusive) and end (exclusive)."""
        end = int(self.starts[doc + 1]) if doc + 1 < len(self.starts) else len(self.texts)
        return int(self.starts[doc]), end

    def dense_scale(self, cosine: np.ndarray) -> np.ndarray:
        """Cosines mapped onto [0, 1] by the model's fixed floor and ceiling."""
        cfg = self.config
        return np.clip((cosine - cfg.dense_floor) / (cfg.dense_ceil - cfg.dense_floor), 0, 1)

    def _cosine(self, query_vector: np.ndarray) -> np.ndarray:
        """Inner products with every text vector (all unit length: cosines).

        The scan reads every vector for every query, so its speed is the memory's: from
        HALF_SCAN_FROM texts up it reads a float16 copy, half the bytes (at 100,000 texts
        24 → 9 ms on one core, bench.kb_scale), and query_scores recomputes the best entries'
        rows in float32. An approximate index (FAISS IVF/HNSW) would pay from a few million
        texts. The scan runs in torch, not numpy:
        numpy's OpenBLAS threads busy-wait after each call and steal the cores from the query
        encoder, which then took 50 to 90 ms instead of 23 ms (measured on 2 cores).
        """
        import torch  # already loaded with the embedding model

        if self._scan_vectors is None:
            vectors = torch.from_numpy(self.vectors)  # shares memory, no copy
            self._scan_vectors = vectors.half() if self._half_scan else vectors
        query = torch.from_numpy(np.ascontiguousarray(query_vector, dtype=np.float32))
        with torch.inference_mode():
            return (self._scan_vectors @ query.to(self._scan_vectors.dtype)).float().numpy()

    def query_terms(self, query: str) -> tuple[list[str], list[str]]:
        """The query's content words and character bigrams (question words removed)."""
        stop = self.config.stopwords
        pieces = jieba.lcut(query.lower())
        words = [t for t in pieces if t not in stop and not _NOT_A_WORD.match(t)]
        # Stopwords become gaps before pairing characters, so "请问" adds no bigrams either.
        content = "".join(t if t not in stop else " " for t in pieces)
        return words, char_bigrams(content)

    @staticmethod
    def _normalised(bm25: SparseBM25, tokens: Sequence[str]) -> np.ndarray:
        """BM25 divided by the query's own score, capped at 1 (see :class:`HybridConfig`)."""
        raw, own = bm25.scores(tokens)
        return np.minimum(raw / own, 1.0) if own > 0 else raw

    def body_lexical(self, scores: QueryScores) -> np.ndarray:
        """Normalised lexical score of every Doc's body (zeros without bodies)."""
        if not self.has_bodies:
            return np.zeros(len(self.keys), dtype=np.float32)
        share = self.config.bigram_share
        words = self._normalised(self.body_words, scores.word_terms)
        bigrams = self._normalised(self.body_bigrams, scores.bigram_terms)
        return (1 - share) * words + share * bigrams

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The ``k`` best Docs for ``query``, one hit per key, best first.

        With a reranker and docs that have bodies (FAQ answers), the hybrid's best candidates
        are reordered by the reranker (:mod:`knowledge.rerank`) and each hit's ``score`` is
        mostly its best phrasing's scaled cosine (``HybridConfig.body_share_of_score``), so
        scores need not descend (the decision then reads a negative lead and asks the citizen
        to choose). The query's misheard KB words are corrected first (knowledge/spelling.py).
        """
        query = self.correct(query)
        if self.reranker is not None and self.has_bodies and query.strip() and self.keys:
            return self._reranked(query, k, self.reranker)
        return [hit for _, hit in self._search(query, k)]

    def correct(self, query: str) -> str:
        """``query`` with misheard or mistyped words of the indexed texts put right."""
        return self.corrector.correct(query) if self.corrector is not None else query

    def _reranked(self, query: str, k: int, reranker: Reranker) -> list[Hit]:
        from knowledge.rerank import COLUMN, candidate_features

        scores = self.query_scores(query)
        docs, features = candidate_features(self, scores, max(reranker.depth, k))
        probability = reranker.probabilities(features)
        order = np.argsort(-probability, kind="stable")[:k]
        share = self.config.body_share_of_score
        dense, body = features[:, COLUMN["dense"]], features[:, COLUMN["body_dense"]]
        confidence = (1 - share) * dense + share * body  # see HybridConfig
        return [
            replace(
                self._hit(int(docs[j]), scores.fused, scores.cosine, scores.lexical),
                score=float(confidence[j]),
                rerank=float(probability[j]),
            )
            for j in order
        ]

    def search_groups(self, query: str, k: int = 10, depth: int = 100) -> list[GroupHit]:
        """The ``k`` best groups (source documents), each scored by its best passage.

        Only the ``depth`` best Docs are considered. Adding a share of a document's other
        passages (max + support) was measured on the ncp questions and lowered hit@1: long
        compilations that mention everything a little then outrank the right notice.
        """
        by_group: dict[str, list[Hit]] = {}
        for doc, hit in self._search(self.correct(query), depth):
            by_group.setdefault(self.groups[doc] or hit.key, []).append(hit)
        return [GroupHit(g, hits[0].score, hits) for g, hits in by_group.items()][:k]

    def _search(self, query: str, k: int) -> list[tuple[int, Hit]]:
        if not query.strip() or not self.keys:
            return []
        fused, cosine, lexical = self.text_scores(query)
        per_doc = self.per_doc_max(fused)  # a Doc scores by its best text
        return [(int(i), self._hit(int(i), fused, cosine, lexical)) for i in _top_k(per_doc, k)]

    def per_doc_max(self, per_row: np.ndarray) -> np.ndarray:
        """The best row of every Doc (a Doc scores by its best text)."""
        return np.maximum.reduceat(per_row, self.starts)

    def _hit(self, doc: int, fused: np.ndarray, cosine: np.ndarray, lexical: np.ndarray) -> Hit:
        start, end = self.rows_of(doc)
        row = start + int(np.argmax(fused[start:end]))
        return Hit(
            key=self.keys[doc],
            score=float(fused[row]),
            dense=float(cosine[row]),
            lexical=float(lexical[row]),
            matched=self.texts[row],
        )


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties: lower index first)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]
