"""The language subspace of a model's embeddings, fitted on translation pairs and taken out of queries.

Centring (``centroids.py``) removes each language's mean, the rank-1 case of the language subspace. What
remains of language in the vectors lies mostly in a few more directions: the top right singular vectors of
the differences between the centred vectors of texts and their translations (the low-rank subspace removal
of Xie et al., EMNLP 2022, fitted on parallel pairs). Removing them from the centred query makes its scores
depend less on the language a chunk is written in (by a little: benchmarks/README.md has the figures). Only
the query is projected: ``Pq . v = q . Pv``, so chunk vectors, FAISS indexes and SQL stay as they are in
every store.

A basis belongs to one model: it is shipped as ``data/subspaces/<model fingerprint>.npy`` with a JSON record
of how it was fitted (``make subspace``). For any other model (or other pairs), ``fit_pairs`` fits one from a
user's translation pairs and ``Index.fit_subspace`` keeps it in the index, where it travels with the index
and takes the shipped one's place. A model with neither is searched as before.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import IndexLoadError, InputError

if TYPE_CHECKING:
    from .embed.base import Embedder

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


def problem(basis: np.ndarray, dim: int) -> str | None:
    """What makes ``basis`` unusable as a language subspace of ``dim``-dimensional vectors, or None."""
    wanted = f"not {dim}-dimensional orthonormal float32 rows"
    if basis.ndim != 2 or basis.shape[1] != dim or not 0 < len(basis) < dim or basis.dtype != np.float32:
        return f"{wanted} (got {basis.dtype} of shape {basis.shape})"
    if not np.isfinite(basis).all() or not np.allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-3):
        return f"{wanted} (its rows are not finite and orthonormal)"
    return None


def read_pairs(source: str | Path | Iterable[Mapping[str, Any]], languages: Iterable[str]) -> list[dict[str, str]]:
    """Translation pairs: a JSONL file (or its parsed lines) whose every line holds a text under two or more
    of ``languages``' codes, e.g. ``{"zh": "...", "en": "..."}`` (other keys are ignored)."""
    langs = sorted(set(languages))
    where = f"{source}" if isinstance(source, (str, Path)) else "the pairs"
    example = ", ".join(f'"{lang}": "..."' for lang in langs[:2])
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise InputError(f"{source} is not a file; give a JSONL file of translation pairs, one object per "
                             f"line such as {{{example}}}")
        try:
            raw = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise InputError(f"{source} is not UTF-8 text; save the pairs as UTF-8 JSONL") from None
        lines = []
        for n, line in enumerate(raw, 1):
            if line.strip():
                try:
                    lines.append((n, json.loads(line)))
                except json.JSONDecodeError:
                    raise InputError(f"{source} line {n} is not JSON; each line is one object such as "
                                     f"{{{example}}}") from None
    else:
        lines = list(enumerate(source, 1))
    pairs = []
    for n, item in lines:
        texts = {lang: item[lang].strip() for lang in langs
                 if isinstance(item, Mapping) and isinstance(item.get(lang), str) and item[lang].strip()}
        if len(texts) < 2:
            raise InputError(f"{where} line {n} holds text in fewer than two of the index's languages "
                             f"({', '.join(langs)}); each line needs a text and its translation, e.g. {{{example}}}")
        pairs.append(texts)
    return pairs


def fit_pairs(embedder: Embedder, pairs: Iterable[Mapping[str, str]], centroids: Mapping[str, np.ndarray], *,
              rank: int = RANK, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
    """Fit a language subspace for ``embedder`` from translation pairs (``read_pairs``): every text embedded as a
    passage, minus its language's centroid (an index's ``centroids``, as its queries are centred), and the top
    ``rank`` directions of the differences within each pair (``fit``). Every two languages of a line that
    ``centroids`` holds make one pair."""
    dim = int(embedder.dim)
    if not 0 < rank < dim:
        raise InputError(f"rank {rank} is out of range; give 1 to {dim - 1} directions (default {RANK})")
    sides = [(p[a], a, p[b], b) for p in pairs
             for a, b in itertools.combinations(sorted(lang for lang in p if lang in centroids), 2)]
    if len(sides) < rank:
        raise InputError(f"{len(sides)} translation pairs cannot fit {rank} directions; give at least {rank} pairs "
                         f"(hundreds are better: the shipped subspace used 455) or a lower rank")
    from .fusion import centre

    texts = [t for ta, _, tb, _ in sides for t in (ta, tb)]
    langs = [lang for _, la, _, lb in sides for lang in (la, lb)]
    vecs = embedder.encode_documents(texts, batch_size=batch_size, show_progress=show_progress)
    x = centre(vecs, np.stack([np.asarray(centroids[lang], dtype=np.float32) for lang in langs]))
    return fit(x[0::2], x[1::2], rank)


def fit_for_index(pairs: str | Path | Iterable[Mapping[str, Any]], embedder: Embedder,
                  centroids: Mapping[str, np.ndarray], *, rank: int = RANK, batch_size: int = 32,
                  show_progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """What ``fit_subspace`` of either store keeps: the basis fitted on ``pairs`` (``read_pairs``,
    ``fit_pairs``) for an index with these ``centroids``, and the record saying how."""
    if not centroids:
        raise InputError("a language subspace is taken out of language-centred queries, and this index has no "
                         "centroids (it needs chunks in two or more languages); build it with both languages")
    found = read_pairs(pairs, centroids)
    basis = fit_pairs(embedder, found, centroids, rank=rank, batch_size=batch_size, show_progress=show_progress)
    return basis, {"rank": len(basis), "pairs": len(found), "languages": sorted({lang for p in found for lang in p}),
                   "fitted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


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
    bad = problem(basis, dim)
    if bad:
        raise IndexLoadError(f"the language subspace {path} is {bad}; reinstall swsearch")
    basis.setflags(write=False)
    return basis


def for_model(model: dict) -> np.ndarray | None:
    """The basis for an index's model record (``config["model"]``), or None."""
    return load(str(model.get("fingerprint", "")), int(model.get("dim", 0)))
