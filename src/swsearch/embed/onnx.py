"""A torch-free query encoder for sentence-transformers models: ONNX Runtime + tokenizers + numpy.

A sentence-transformers model of the usual shape (Transformer → Pooling → optional Normalize) is exported
once to ONNX (eager attention, then onnxruntime's BERT optimizer fuses attention), next to its
``tokenizer.json`` and pooling settings, in ``$SWSEARCH_HOME/onnx/<fingerprint>``. A fresh process then
embeds a query in a few hundred milliseconds instead of the 5-6 s that importing torch costs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import PrefixedEmbedder, batched, cache_dir, normalize, threads_for, verify_integrity, write_integrity

log = logging.getLogger("swsearch")
SUPPORTED_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                     "sentence_transformers.models.Normalize"}


#: sessions are made once per (model, thread count) even when several threads search at once
SESSIONS_LOCK = threading.Lock()


def ort_session(model_path: Path, threads: int):
    """An onnxruntime CPU session with ``threads`` intra-op threads and no inter-op pool."""
    import onnxruntime as ort

    from ..errors import ModelError
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's Fail/InvalidProtobuf/... are not RuntimeErrors
        raise ModelError(f"onnxruntime cannot open {model_path} ({type(exc).__name__})") from None


def onnx_dir(fingerprint: str) -> Path:
    """Where the ONNX export of the model with this fingerprint lives."""
    return cache_dir() / "onnx" / fingerprint[:32]


class OnnxEmbedder(PrefixedEmbedder):
    """Runs an exported sentence-transformers model with onnxruntime; same vectors as the original."""

    backend = "sentence-transformers"
    #: what it is as a passage engine (``sentence_transformers.ONNX_ENGINE``): ``add`` uses it directly
    document_engine = "onnxruntime"

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        try:
            self.meta = json.loads((folder / "swsearch_onnx.json").read_text())
        except (OSError, ValueError):
            raise ModelError(f"{folder} holds no swsearch ONNX export") from None
        verify_integrity(folder)
        try:
            import onnxruntime  # noqa: F401
            from tokenizers import Tokenizer
        except ImportError:
            raise ModelError("onnxruntime or tokenizers is not installed") from None
        self.folder = folder
        self.name = self.meta["name"]
        self.dim = int(self.meta["dim"])
        self.max_tokens = int(self.meta["max_tokens"])
        self.query_prefix = self.meta["query_prefix"]
        self.document_prefix = self.meta["document_prefix"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()
        self._sessions: dict[int, object] = {}

    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    def describe(self) -> dict:
        """What a manifest records, the same fields as ``SentenceTransformerEmbedder.describe`` (a build may run on
        the export alone)."""
        from .sentence_transformers import resolve_model_path
        return {**super().describe(), "path": resolve_model_path(self.name), "query_prefix": self.query_prefix,
                "document_prefix": self.document_prefix, "document_engine": self.document_engine}

    def warm_up(self) -> None:
        """Open the one-thread session a single query uses."""
        self._session(threads_for(1))

    def _session(self, threads: int):
        with SESSIONS_LOCK:
            if threads not in self._sessions:
                self._sessions[threads] = ort_session(self.folder / "model.onnx", threads)
            return self._sessions[threads]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n], mask[i, :n], types[i, :n] = e.ids, e.attention_mask, e.type_ids
        session = self._session(threads_for(len(texts)))
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in {i.name for i in session.get_inputs()}:
            feeds["token_type_ids"] = types
        hidden = session.run(None, feeds)[0]
        pooled = _pool(hidden, mask, self.meta["pooling"])
        return normalize(pooled) if self.meta["normalize"] else pooled.astype(np.float32)

    def _encode(self, texts: Sequence[str], prefix: str, batch_size: int, show_progress: bool) -> np.ndarray:
        texts = [prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize(np.vstack([self._embed(b) for b in batched(texts, batch_size, show_progress, "embedding")]))

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32,
                         show_progress: bool = False) -> np.ndarray:
        """Passages in batches of similar length (longest first, as sentence-transformers orders them), so little
        of each batch is padding; the vectors come back in the order given."""
        texts = list(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vecs = self._encode([texts[i] for i in order], self.document_prefix, batch_size, show_progress)
        out = np.empty_like(vecs)
        out[order] = vecs
        return out

    def count_tokens(self, text: str, *, query: bool = False) -> int:
        prefix = self.query_prefix if query else self.document_prefix
        self.tokenizer.no_truncation()
        try:
            return len(self.tokenizer.encode(prefix + text).ids)
        finally:
            self.tokenizer.enable_truncation(self.max_tokens)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return np.where(m > 0, hidden, -1e9).max(axis=1)
    summed = (hidden * m).sum(axis=1)
    counts = np.maximum(m.sum(axis=1), 1e-9)
    return summed / (np.sqrt(counts) if mode == "mean_sqrt_len" else counts)


def _pooling_mode(model_dir: Path, modules: list[dict]) -> str:
    pooling = next(m for m in modules if m["type"].endswith("Pooling"))
    cfg = json.loads((model_dir / pooling["path"] / "config.json").read_text())
    for key, mode in (("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"),
                      ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"), ("pooling_mode_mean_tokens", "mean")):
        if cfg.get(key):
            return mode
    raise ModelError(f"unsupported pooling in {model_dir}")


def export_onnx(st_embedder, *, optimize: bool = True) -> Path:
    """Export a loaded ``SentenceTransformerEmbedder`` to ONNX in the per-model cache; return the folder.

    Raises ``ModelError`` for models of another shape (extra Dense layers, non-BERT-like tokenizers).
    """
    import torch
    from transformers import AutoModel

    model_dir = st_embedder.model_dir()
    fingerprint = st_embedder.fingerprint()
    target = onnx_dir(fingerprint)
    if (target / "swsearch_onnx.json").is_file():
        return target
    modules = json.loads((model_dir / "modules.json").read_text())
    unsupported = [m["type"] for m in modules if m["type"] not in SUPPORTED_MODULES]
    if unsupported or not (model_dir / "tokenizer.json").is_file():
        raise ModelError(f"cannot export {st_embedder.name} to ONNX (modules {unsupported or 'ok'}, "
                         f"tokenizer.json {'present' if (model_dir / 'tokenizer.json').is_file() else 'missing'})")
    meta = {"name": st_embedder.name, "fingerprint": fingerprint, "dim": st_embedder.dim,
            "max_tokens": st_embedder.max_tokens, "pooling": _pooling_mode(model_dir, modules),
            "normalize": any(m["type"].endswith("Normalize") for m in modules),
            "query_prefix": st_embedder.query_prefix, "document_prefix": st_embedder.document_prefix,
            "optimized": False}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".onnx-", dir=target.parent))
    try:
        hf = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
        sample = st_embedder.model.tokenizer(["an example sentence", "another"], return_tensors="pt", padding=True)
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
        dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
        dynamic["last_hidden_state"] = {0: "batch", 1: "sequence"}

        class Wrapped(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, *args):
                return self.inner(**dict(zip(names, args))).last_hidden_state

        raw = tmp / "raw.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about constant shapes; the graph is checked by tests
            torch.onnx.export(Wrapped(hf), tuple(sample[n] for n in names), str(raw), input_names=names,
                              output_names=["last_hidden_state"], dynamic_axes=dynamic, opset_version=17,
                              dynamo=False)
        final = tmp / "model.onnx"
        if optimize:
            try:
                from onnxruntime.transformers import optimizer
                cfg = hf.config
                opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                                               hidden_size=cfg.hidden_size)
                opt.save_model_to_file(str(final))
                meta["optimized"] = True
            except Exception as exc:  # noqa: BLE001 - the unfused graph is still correct
                log.info("onnxruntime optimizer skipped: %s", exc)
        if not final.exists():
            os.replace(raw, final)
        raw.unlink(missing_ok=True)
        shutil.copy(model_dir / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "swsearch_onnx.json").write_text(json.dumps(meta, indent=1))
        write_integrity(tmp)
        if (target / "swsearch_onnx.json").is_file():  # another process exported meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
            return target
        if target.exists():  # exports arrive whole (tmp, then one rename), so this folder is not one of ours
            raise ModelError(f"{target} exists but is no swsearch ONNX export; move it away to let swsearch "
                             "export there")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
