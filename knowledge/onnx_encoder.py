"""The offline e5 model run by ONNX Runtime instead of torch.

The knowledge service encodes one short question per request, on one core, next to Rasa. For
that shape torch's eager mode spends most of its time outside the arithmetic; ONNX Runtime runs
the same graph (exported once from the rebuilt BertModel, fused at load) about 2.5 times faster
and returns the same vectors (cosine > 0.99999 to sentence-transformers'; BENCHMARKS.md,
"Knowledge index at scale"). Mean pooling, L2 normalisation and the e5 prompts are applied here
exactly as the sentence-transformers folder describes them, so both loaders agree.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ONNX_FILE = "onnx/model.onnx"


def export_onnx(folder: Path) -> Path:
    """Write ``folder``/onnx/model.onnx from the folder's BertModel (token ids and attention
    mask in, last hidden state out; batch and length dynamic). Needs torch and onnx."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class HiddenStates(torch.nn.Module):  # the exporter wants positional tensors only
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    out = folder / ONNX_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.full((2, 8), 6, dtype=torch.int64)
    mask = torch.ones((2, 8), dtype=torch.int64)
    mask[1, 5:] = 0  # a padded row, so that no branch on "nothing is padded" gets recorded
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer notes Python-level branches it freezes (checked: the mask still applies,
        # tests/knowledge/test_embedding_model.py) and the legacy exporter's deprecation.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            HiddenStates(),
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency
        )
    return out


class OnnxEncoder:
    """A sentence-transformers folder (Transformer → mean Pooling → Normalize) that also holds
    ``onnx/model.onnx``, encoded with ONNX Runtime on ``threads`` cores."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        config = _json(self.folder / "config.json")
        st_config = _json(self.folder / "config_sentence_transformers.json")
        pooling = _json(self.folder / "1_Pooling" / "config.json")
        if not pooling.get("pooling_mode_mean_tokens") or not pooling.get("include_prompt", True):
            raise ValueError(f"{folder}: only mean pooling over the whole input is supported")
        self.prompts: dict[str, str] = st_config.get("prompts") or {}
        self.dimension = int(config["hidden_size"])
        max_length = int(_json(self.folder / "sentence_bert_config.json")["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=int(config["pad_token_id"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads must sleep, not spin: the other core belongs to Rasa.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )

    def get_sentence_embedding_dimension(self) -> int:  # the sentence-transformers name
        return self.dimension

    def encode(self, texts: Sequence[str], prompt: str, batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors of ``prompt + text`` for every text, in order."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths in one batch waste less padding (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([prompt + texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def has_onnx(folder: Path) -> bool:
    return (Path(folder) / ONNX_FILE).is_file()


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
