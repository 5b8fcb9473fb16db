"""Which router a process routes with: a trained folder, or the one trained from the table.

`HOTLINE_ROUTER_DIR` names a folder written by `hotline router train`; the app then routes with
it, or with nothing: a missing, unreadable or outdated folder is reported (in the log at start,
on /health, and by every order it leaves unrouted), never silently replaced by the table's
router. Without the setting, the router is trained from the responsibility table's examples and
keywords on first use and cached under `$HOTLINE_CACHE_DIR/router/<hash of table and model>`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from hotline.model_folder import build_folder
from hotline.settings import ModelPaths, Settings, model_paths
from workorders.config import WorkOrderConfig, default_config
from workorders.router_model import (
    EMBED_CHARS,
    EMBED_WEIGHT,
    FORMAT_VERSION,
    HEAD_CHARS,
    Embedder,
    Router,
    RouterUnavailable,
    read_metadata,
)

log = logging.getLogger(__name__)

TABLE_DESCRIPTION = "responsibility table: names, scope, keywords, examples"


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


def table_folder(config: WorkOrderConfig, paths: ModelPaths) -> Path:
    """Where the table's router is cached: one folder per table, model and feature format."""
    texts, labels = table_examples(config)
    blob = json.dumps(
        [FORMAT_VERSION, EMBED_WEIGHT, EMBED_CHARS, HEAD_CHARS, paths.embedding_model, texts,
         labels]
    )  # fmt: skip
    return paths.routers_dir / hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def table_router(config: WorkOrderConfig, embedder: Embedder | None = None) -> Router:
    """The router trained from the table's examples and keywords (source "table"): trained once
    into its cache folder (by one process at a time; an entry written by another scikit-learn is
    retrained), then loaded from there."""
    embedder = embedder or Embedder()

    def train_into(folder: Path) -> None:
        router = Router(embedder)
        router.train(*table_examples(config), description=TABLE_DESCRIPTION)
        router.save(folder)

    folder = build_folder(table_folder(config, embedder.paths), _usable, train_into)
    router = Router.load(folder, embedder)
    router.source = "table"
    return router


def _usable(folder: Path) -> bool:
    import sklearn

    try:
        return read_metadata(folder).get("sklearn") == sklearn.__version__
    except RouterUnavailable:
        return False


# ---------------------------------------------------------------------------------------------
# The configured router, one per process


def configured_router(
    settings: Settings, config: WorkOrderConfig, embedder: Embedder | None = None
) -> Router:
    """HOTLINE_ROUTER_DIR's trained router when it is set (RouterUnavailable if that folder holds
    none this version reads), else the table's."""
    embedder = embedder or Embedder(model_paths(settings))
    if settings.router_dir is not None:
        return Router.load(settings.router_dir, embedder)
    return table_router(config, embedder)


_routers: dict[tuple[Path | None, str | None, Path], Router] = {}
_failures: dict[tuple[Path | None, str | None, Path], str] = {}
_lock = threading.Lock()


def _key(settings: Settings) -> tuple[Path | None, str | None, Path]:
    return settings.router_dir, settings.embedding_model, settings.cache_dir


def process_router(settings: Settings, config: WorkOrderConfig | None = None) -> Router:
    """The process's router for these settings, loaded (or trained from the table) on first
    use. A failure is remembered for /health and raised; the next call tries again (after the
    folder has been fixed, say)."""
    key = _key(settings)
    with _lock:
        router = _routers.get(key)
        if router is None:
            try:
                router = configured_router(settings, config or default_config())
            except Exception as exc:
                _failures[key] = f"{type(exc).__name__}: {exc}"
                raise
            _failures.pop(key, None)
            _routers[key] = router
        return router


def router_state(settings: Settings, config: WorkOrderConfig | None = None) -> dict[str, Any]:
    """For /health: the router these settings name (source, folder, number of labels), whether
    it is loaded, and "down" with the reason when it cannot be used. Cheap: loads nothing."""
    key = _key(settings)
    loaded = _routers.get(key)
    if loaded is not None:
        return {"status": "ok", **loaded.describe(), "loaded": True}
    if settings.router_dir is not None:
        state: dict[str, Any] = {"source": "trained", "path": str(settings.router_dir)}
        try:
            state["labels"] = len(read_metadata(settings.router_dir).get("labels") or ())
        except RouterUnavailable as exc:
            return {"status": "down", **state, "error": str(exc)}
    else:
        cfg = config or default_config()
        folder = table_folder(cfg, model_paths(settings))
        state = {"source": "table", "path": str(folder), "labels": len(cfg.category_by_name)}
    failure = _failures.get(key)
    if failure:
        return {"status": "down", **state, "loaded": False, "error": failure}
    return {"status": "ok", **state, "loaded": False}
