"""The language subspace of a model's embeddings, fitted on translation pairs and taken out of queries.

Centring (``centroids.py``) removes each language's mean, the rank-1 case of the language subspace. What
remains of language in the vectors lies mostly in a few more directions: the top right singular vectors of
the differences between the centred vectors of texts and their translations (the low-rank subspace removal
of Xie et al., EMNLP 2022, fitted on parallel pairs). Removing them from the centred query makes its scores
depend less on the language a chunk is written in (by a little: benchmarks/README.md has the figures). Only
the query is projected: ``Pq . v = q . Pv``, so chunk vectors, FAISS indexes and SQL stay as they are in
every store.

A basis belongs to one model: it is shipped as ``data/subspaces/<model fingerprint>.npy`` with a JSON record
of how it was fitted (``make subspace``). A model without one is searched as before.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import IndexLoadError

SUBSPACE_DIR = Path(__file__).parent / "data" / "subspaces"

#: directions removed: chosen on the parallel dev set (books 3-4 held out) with the policy sets as a guard,
#: see benchmarks/README.md ("levers tried")
RANK = 32


def fit(a: np.ndarray, b: np.ndarray, rank: int = RANK) -> np.ndarray:
    """The top ``rank`` directions (rows, orthonormal) of the differences between paired centred vectors:
    ``a[i]`` and ``b[i]`` are the centred, normalised vectors of a text and its translation."""
    if a.shape != b.shape or a.ndim != 2 or len(a) < rank:
        raise ValueError(f"need two matrices of the same shape with at least {rank} pairs, got {a.shape} and {b.shape}")
    _, _, vt = np.linalg.svd(np.asarray(a, np.float64) - np.asarray(b, np.float64), full_matrices=False)
    return vt[:rank].astype(np.float32)


def remove(vectors: np.ndarray, basis: np.ndarray | None) -> np.ndarray:
    """``vectors`` without their components along ``basis``'s rows, normalised again (None: unchanged)."""
    if basis is None or not len(basis):
        return vectors
    out = vectors - (vectors @ basis.T) @ basis
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)


def save(basis: np.ndarray, fingerprint: str, record: dict, folder: Path | None = None) -> Path:
    """Write ``<fingerprint>.npy`` (no pickle) and ``<fingerprint>.json`` (how it was fitted) into ``folder``
    (default: the package's ``SUBSPACE_DIR``)."""
    from .store import npy_bytes

    folder = SUBSPACE_DIR if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fingerprint}.npy"
    path.write_bytes(npy_bytes(np.ascontiguousarray(basis, dtype=np.float32)))
    (folder / f"{fingerprint}.json").write_text(
        json.dumps({"fingerprint": fingerprint, "rank": int(len(basis)), "dim": int(basis.shape[1]), **record},
                   indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    load.cache_clear()
    return path


@lru_cache(maxsize=8)
def load(fingerprint: str, dim: int, folder: Path | None = None) -> np.ndarray | None:
    """The shipped basis of the model with this fingerprint and dimension, checked; None when there is none."""
    folder = SUBSPACE_DIR if folder is None else folder
    if not re.fullmatch(r"[0-9a-f]{8,128}", fingerprint):  # a file name, never a path
        return None
    path = folder / f"{fingerprint}.npy"
    if not path.is_file():
        return None
    try:
        basis = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise IndexLoadError(f"the language subspace {path} cannot be read ({e}); reinstall swsearch") from None
    if (basis.ndim != 2 or basis.shape[1] != dim or basis.dtype != np.float32 or not np.isfinite(basis).all()
            or not np.allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-3)):
        raise IndexLoadError(f"the language subspace {path} is not {dim}-dimensional orthonormal float32 rows; "
                             "reinstall swsearch")
    basis.setflags(write=False)
    return basis


def for_model(model: dict) -> np.ndarray | None:
    """The basis for an index's model record (``config["model"]``), or None."""
    return load(str(model.get("fingerprint", "")), int(model.get("dim", 0)))
