"""Hybrid search over candidate pools: each ranking offers its top-C chunks, and fusion runs over their union.

Exact hybrid search scores and ranks every chunk by every ranking (full matrix products over every chunk and
sentence, one sort per ranking): a few milliseconds at a thousand chunks, hundreds at 100k. With pools, the
rankings that have an index of their own (FAISS over the chunk vectors, for plain and language-centred dense;
the sentence vectors' inverted file, ``parts.SentenceClusters``, above ``parts.CLUSTERS_ABOVE`` chunks) or
cheap full scores (BM25 is sparse) offer their top C; the union is then scored exactly by every ranking (the
sentence ranking reads only the union's sentences) and fused by the same code as exact search.

Why this stays close to exact search: fusion needs each ranking's rank of a candidate among *every* chunk. For
a chunk of the ranking's own top C that is its rank inside the union (every chunk above it is in the pool
too). For the others it is the rank inside the union plus the left-out chunks that score higher, estimated
from a fixed random sample of chunks scored alongside the union (``fusion.Outside``); convex fusion's mean
and spread count the left-out chunks the same way. With C at least the number of chunks it *is* exact
search (tested). ``benchmarks/hybrid_scale.py`` measures the agreement (recall@10 of the exhaustive top 10)
and the speed at each size; ``POOLS_ABOVE`` and ``CANDIDATES`` come from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .fusion import Outside, top_k
from .signals import QueryBatch, Signal

if TYPE_CHECKING:  # pragma: no cover
    from .index import Index

#: exact search up to this many chunks, pools above (benchmarks/README.md, "Hybrid search at scale")
POOLS_ABOVE = 20_000
#: candidates per ranking when pools are on
CANDIDATES = 500
#: chunks scored besides the pool to estimate where the left-out ones rank
SAMPLE = 5000


@dataclass
class Pool:
    """One query's candidates: their rows (sorted), each ranking's scores of them, and what was left out."""

    rows: np.ndarray
    lists: dict[str, np.ndarray]
    outside: Outside


def sample_rows(n_chunks: int, size: int | None = None, seed: int = 0) -> np.ndarray:
    """A fixed random sample of ``size`` (default ``SAMPLE``) chunk rows, sorted: the same on every search of
    an index."""
    size = SAMPLE if size is None else size
    if n_chunks <= size:
        return np.arange(n_chunks, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n_chunks, size, replace=False)).astype(np.int64)


def with_sample(union: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows to score for a pool: the sample rows outside ``union`` (sorted), and ``union`` followed by them."""
    others = np.setdiff1d(sample, union, assume_unique=True)
    return others, np.concatenate([union, others])


def make_pool(union: np.ndarray, others: np.ndarray, scored: dict[str, np.ndarray], n_chunks: int,
              position: np.ndarray | None = None) -> Pool:
    """A ``Pool`` from each ranking's scores of ``union`` followed by ``others`` (``with_sample``'s rows);
    ``position``: each row's tie-break position (None: rows are in tie-break order already)."""
    k = len(union)
    pool_pos, sample_pos = (union, others) if position is None else (position[union], position[others])
    return Pool(union, {name: v[:k] for name, v in scored.items()},
                Outside({name: v[k:] for name, v in scored.items()}, n_chunks - k, pool_pos, sample_pos))


def pool_size(candidates: int | None, n_chunks: int) -> int:
    """The pool size a search uses: ``candidates`` when given (0: exact), else 0 up to ``POOLS_ABOVE`` chunks
    and ``CANDIDATES`` above."""
    if candidates is not None:
        return candidates
    return CANDIDATES if n_chunks > POOLS_ABOVE else 0


def top_of(scores: np.ndarray, c: int, allowed: np.ndarray | None) -> np.ndarray:
    """The ``c`` best rows of a full score array (inside ``allowed``), leaving out rows at the array's minimum
    (BM25's zero: no query term), so a short list of matches does not pull in every other chunk."""
    s = scores if allowed is None else scores[allowed]
    if not len(s):
        return np.zeros(0, dtype=np.int64)
    # the c best of the rows above the minimum (for BM25, the chunks that match a query word: 44% of 1.13M at
    # the median), so the partial sort reads those alone; they are in position order, so ties stay in it
    above = np.flatnonzero(s > s.min())
    best = above[top_k(s[above], c)]
    return best if allowed is None else allowed[best]


def pooled_lists(index: Index, batch: QueryBatch, active: Sequence[Signal], c: int, allowed: np.ndarray | None,
                 sample: np.ndarray) -> list[Pool]:
    """For each query: the union of every ranking's top-``c`` rows inside ``allowed`` and each ranking's exact
    scores over it, by name (a ranking with nothing to say for a query is left out, as in exact search), with
    the scores of the ``sample`` rows outside the union. Ranks count every chunk, as exact search's do (a
    filter applies after fusion there too)."""
    n = len(batch.queries)
    full: dict[str, list[Any]] = {}
    found: list[list[np.ndarray]] = [[] for _ in range(n)]
    for signal in active:
        if signal.candidates is not None:
            per_query = signal.candidates(index, batch, c, allowed)
        elif signal.score_rows is None:  # full scores are cheap (sparse): their top c, and kept for the union
            full[signal.name] = signal.score(index, batch)
            per_query = [np.zeros(0, np.int64) if s is None else top_of(np.asarray(s), c, allowed)
                         for s in full[signal.name]]
        else:
            continue  # scored on the others' candidates
        for mine, rows in zip(found, per_query):
            mine.append(np.asarray(rows, dtype=np.int64))
    unions = [np.unique(np.concatenate(f)) if f else np.zeros(0, np.int64) for f in found]
    others, scored = zip(*(with_sample(u, sample) for u in unions)) if unions else ((), ())
    scored = list(scored)  # one list for every signal: those that share work recognise it (``signals._raw_rows``)
    lists: list[dict[str, np.ndarray]] = [{} for _ in unions]
    for signal in active:
        if signal.name in full:
            per_query = [None if s is None else np.asarray(s)[r] for s, r in zip(full[signal.name], scored)]
        elif signal.score_rows is not None:
            per_query = signal.score_rows(index, batch, scored)
        else:
            per_query = [None if s is None else np.asarray(s)[r] for s, r in zip(signal.score(index, batch), scored)]
        for mine, scores in zip(lists, per_query):
            if scores is not None:
                mine[signal.name] = scores
    return [make_pool(u, o, mine, len(index.chunks), index.tie_position) for u, o, mine in zip(unions, others, lists)]
