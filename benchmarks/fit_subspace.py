"""Fit the default model's language subspace on the parallel Civil Code pairs of books 1-2 and ship it.

Builds (or, with ``--work``, reuses) the parallel index of ``benchmarks.parallel``, takes the centred chunk
vectors of every article pair of books 1-2 (455 pairs; books 3-4 stay held out for the benchmarks) and writes
the top ``subspace.RANK`` directions of their differences to ``src/swsearch/data/subspaces/<fingerprint>.npy``
with a JSON record of how they were fitted (``subspace.py`` says what they are for).

Run: ``make subspace`` (``PYTHONPATH=. python -m benchmarks.fit_subspace [--work DIR]``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import swsearch
from swsearch import subspace

from . import parallel

BOOKS = parallel.SUBSPACE_BOOKS


def centred_pairs(index: swsearch.Index, pairs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The centred, normalised chunk vectors of each pair's Chinese and English article (one chunk each)."""
    if len(index.chunks) != len(index.documents):
        raise SystemExit("expected one chunk per article in the parallel index")
    x = parallel.centred_chunks(index)
    zh, en = parallel.pair_rows(index, pairs)
    return x[zh], x[en]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit_subspace", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the parallel index here and reuse it")
    args = parser.parse_args(argv)
    pairs = parallel.load_pairs(False)
    index = parallel.built_index(pairs, args.work)
    train = [p for p in pairs if p["book"] in BOOKS]
    zh, en = centred_pairs(index, train)
    model = index.config["model"]
    path = subspace.save(subspace.fit(zh, en), model["fingerprint"], {
        "model": model["name"],
        "fitted_on": f"parallel_civil_code/pairs_dev.jsonl, books {'-'.join(map(str, BOOKS))} ({len(train)} pairs)",
        "how": "top right singular vectors of the differences of each pair's centred chunk vectors",
        "by": "python -m benchmarks.fit_subspace"})
    print(f"{len(train)} pairs -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
