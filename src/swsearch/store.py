"""The index directory on disk: ``manifest.json`` + ``chunks.jsonl`` + ``vectors.faiss`` (+ optional arrays).

Saves are atomic (written to a temporary sibling directory, then renamed into place) and loads check
everything the manifest promises (format, file sizes and sha256, counts, dimension) before use, so a
truncated copy or a half-written directory is refused with a message instead of giving wrong answers.
No pickle anywhere: JSON, JSONL, FAISS's own format and ``.npy`` read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexLoadError

FORMAT = "swsearch-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.faiss"
SENTENCES, SENTENCE_SPANS = "sentences.npy", "sentence_spans.npy"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_index_dir(path: str | Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write ``files`` and a manifest recording their sizes and digests; replace ``path`` atomically."""
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; an index is as readable as any other file
    old = None
    try:
        manifest = dict(manifest)
        manifest["files"] = {name: {"bytes": len(data), "sha256": _sha256(data)} for name, data in files.items()}
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not path.exists():
            os.replace(old, path)  # put the previous index back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def read_index_dir(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read and verify an index directory; return (manifest, {file name: bytes})."""
    path = Path(path).expanduser()
    rebuild = "rebuild it with: swsearch index [CORPUS] --out " + str(path)
    if not path.is_dir():
        raise IndexLoadError(f"index directory {path} does not exist; build one with: "
                             f"swsearch index [CORPUS] --out {path}")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexLoadError(f"{path} has no {MANIFEST}, so it is not a swsearch index; {rebuild}") from None
    except (ValueError, OSError):
        raise IndexLoadError(f"{path / MANIFEST} is corrupt; {rebuild}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexLoadError(f"{path} is not a swsearch index (no '{FORMAT}' manifest); {rebuild}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexLoadError(f"{path} uses index format {version}, this swsearch reads format {FORMAT_VERSION}; "
                             f"{rebuild}")
    files: dict[str, bytes] = {}
    for name, meta in (manifest.get("files") or {}).items():
        try:
            data = (path / name).read_bytes()
        except OSError:
            raise IndexLoadError(f"{path / name} is missing; {rebuild}") from None
        if len(data) != meta.get("bytes") or _sha256(data) != meta.get("sha256"):
            raise IndexLoadError(f"{path / name} is truncated or corrupt (size or sha256 differs from the "
                                 f"manifest); {rebuild}")
        files[name] = data
    for required in (CHUNKS, VECTORS):
        if required not in files:
            raise IndexLoadError(f"{path} lists no {required}; {rebuild}")
    return manifest, files


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise an array as .npy (no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_load(data: bytes) -> np.ndarray:
    """Read .npy bytes, refusing pickled objects."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def jsonl_load(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
