"""The ranking signals hybrid search fuses, declared once: name, default weights, what each needs, how it scores.

Adding a signal is one ``Signal`` in ``SIGNALS`` with its scoring function: ``Index.component_scores``,
the default weight tables (``fusion.HYBRID_WEIGHTS``, ``fusion.CONVEX_WEIGHTS``) and the check of a
search's ``weights`` all derive from this list.

A scoring function takes the index and a ``QueryBatch`` and returns one full score array over every chunk
per query (None for a query it has nothing to say about, such as no translated words). Two optional functions
serve search with candidate pools (``pools.py``): ``score_rows`` scores only some rows (per query), where that
is cheaper than every chunk; ``candidates`` gives a query's top-C rows from the signal's own index (FAISS over
the chunk vectors, the sentence vectors' inverted file). A signal with neither offers the top-C of its full
scores (BM25: sparse, so cheap); one with ``score_rows`` alone offers no candidates and is scored on the others'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .index import Index

#: what a signal can need: the chunk vectors, language centroids switched on, sentence vectors switched on, the
#: lexical index, dictionary translation switched on, the translated query embedded (``QueryBatch.translated``:
#: only for a search where no chunk it may return is in the query's language, and only if the fusion weighs it)
NEEDS = ("vectors", "centroids", "sentences", "lexical", "translation", "translated")


@dataclass
class QueryBatch:
    """What the signals of one search share: the queries, their vectors (plain, and centred on their own
    language when centroids are on) and their lexical tokens (own words, dictionary translations)."""

    queries: list[str]
    plain: np.ndarray | None = None
    centred: np.ndarray | None = None
    tokens: list[tuple[list[str], list[str]]] | None = None
    #: each query's dictionary translation embedded as a query (``lexical.translation_text``), or None
    translated: list[np.ndarray | None] | None = None
    #: what two signals would otherwise compute twice (``_raw_rows``)
    shared: dict[Any, Any] = field(default_factory=dict)


ScoreFn = Callable[["Index", QueryBatch], list[Any]]
#: (index, batch, rows per query) -> the scores of those rows, per query
RowsFn = Callable[["Index", QueryBatch, list[np.ndarray]], list[Any]]
#: (index, batch, C, allowed rows or None) -> each query's top-C rows by this signal, from its own index
CandidatesFn = Callable[["Index", QueryBatch, int, "np.ndarray | None"], list[np.ndarray]]


@dataclass(frozen=True)
class Signal:
    """One ranking: its default weight under each fusion, the parts and switches it needs, the search modes it
    takes part in, whether ``language_pools`` ranks it per language, and its scoring function."""

    name: str
    rrf_weight: float
    convex_weight: float
    needs: tuple[str, ...]
    score: ScoreFn
    modes: tuple[str, ...] = ("hybrid",)
    per_language: bool = False
    doc: str = ""
    score_rows: RowsFn | None = None
    candidates: CandidatesFn | None = None


def _dense(index: Index, batch: QueryBatch) -> list[Any]:
    return list(index.chunk_vectors.scores(batch.plain))


def _dense_centred(index: Index, batch: QueryBatch) -> list[Any]:
    c = index.centring
    return list(c.scores(batch.centred, index.chunk_vectors.scores(batch.centred), c.chunk_codes, index.chunk_norms()))


def _sentence(index: Index, batch: QueryBatch) -> list[Any]:
    sv = index.sentence_vectors
    if batch.centred is not None:  # in the space the query is scored in: centred when centroids are on
        return list(sv.best_per_chunk(sv.scores(batch.centred, index.centring)))
    return list(sv.best_per_chunk(sv.scores(batch.plain)))


def _raw_rows(index: Index, batch: QueryBatch, rows: list[np.ndarray]) -> list[np.ndarray]:
    """Each query's plain and centred vectors against its ``rows`` of chunk vectors, one ``(rows, 2)`` array per
    query: the dense and centred rankings of a pool read the same rows, so they are gathered once."""
    found = batch.shared.get("raw")
    if found is None or found[0] is not rows:  # the pool passes every signal the same list
        m = index.chunk_vectors.matrix()
        centred = batch.centred if batch.centred is not None else batch.plain
        found = batch.shared["raw"] = (rows, [_two_products(m[r], q, c) for q, c, r in zip(batch.plain, centred, rows)])
    return found[1]


def _two_products(gathered: np.ndarray, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``gathered @ q`` and ``gathered @ c`` as two matrix-vector products, bit for bit what each ranking's own
    product gives (one product with a two-column matrix rounds differently)."""
    return np.stack([gathered @ q, gathered @ c], axis=1)


def _dense_rows(index: Index, batch: QueryBatch, rows: list[np.ndarray]) -> list[Any]:
    return [raw[:, 0] for raw in _raw_rows(index, batch, rows)]


def _dense_candidates(index: Index, batch: QueryBatch, c: int, allowed: np.ndarray | None) -> list[np.ndarray]:
    _, ids = index.chunk_vectors.search(batch.plain, c, allowed)
    return [ix[ix >= 0] for ix in ids]


def _dense_centred_rows(index: Index, batch: QueryBatch, rows: list[np.ndarray]) -> list[Any]:
    c, norms = index.centring, index.chunk_norms()
    return [c.scores(q[None, :], raw[None, :, 1], c.chunk_codes[r], norms[r])[0]
            for q, r, raw in zip(batch.centred, rows, _raw_rows(index, batch, rows))]


def _dense_centred_candidates(index: Index, batch: QueryBatch, c: int, allowed: np.ndarray | None) -> list[np.ndarray]:
    """Each language's top ``c`` by the centred query's inner product, one FAISS search per language: within a
    language that is the centred order up to each chunk's centred norm, close enough for a candidate pool
    (the union is then scored exactly), and one round instead of exact search's widening ones."""
    found: list[list[np.ndarray]] = [[] for _ in batch.queries]
    for size, _, _, selector in index._language_pools(allowed):
        if size:
            _, ids = index.chunk_vectors.search(batch.centred, min(c, size), selector)
            for mine, ix in zip(found, ids):
                mine.append(ix[ix >= 0])
    return [np.concatenate(f) if f else np.zeros(0, np.int64) for f in found]


def _sentence_space(index: Index, batch: QueryBatch) -> tuple[Any, np.ndarray]:
    """The centring and query vectors the sentence ranking scores with: centred when centroids are on."""
    if batch.centred is not None:
        return index.centring, batch.centred
    return None, batch.plain


def _sentence_rows(index: Index, batch: QueryBatch, rows: list[np.ndarray]) -> list[Any]:
    centring, qs = _sentence_space(index, batch)
    return [index.sentence_vectors.best_of_chunks(q, r, centring) for q, r in zip(qs, rows)]


def _sentence_candidates(index: Index, batch: QueryBatch, c: int, allowed: np.ndarray | None) -> list[np.ndarray]:
    """Each query's top ``c`` chunks by their best sentence, from the sentence vectors' inverted file (none
    when the index has none: then the ranking scores the other rankings' candidates only)."""
    centring, qs = _sentence_space(index, batch)
    return [index.sentence_vectors.candidates(q, c, centring, allowed) for q in qs]


def _lexical(index: Index, batch: QueryBatch) -> list[Any]:
    return [index.lexical.scores(own + translated) for own, translated in batch.tokens]


def _lexical_translated(index: Index, batch: QueryBatch) -> list[Any]:
    return [index.lexical.scores(translated) if translated else None for _, translated in batch.tokens]


def _translated_rows(batch: QueryBatch) -> tuple[list[int], np.ndarray | None]:
    """The queries that have a translated vector, and those vectors stacked."""
    at = [i for i, v in enumerate(batch.translated or []) if v is not None]
    return at, (np.stack([batch.translated[i] for i in at]) if at else None)


def _dense_translated(index: Index, batch: QueryBatch) -> list[Any]:
    out: list[Any] = [None] * len(batch.queries)
    at, vecs = _translated_rows(batch)
    if at:
        for i, scores in zip(at, index.chunk_vectors.scores(vecs)):
            out[i] = scores
    return out


def _dense_translated_rows(index: Index, batch: QueryBatch, rows: list[np.ndarray]) -> list[Any]:
    m = index.chunk_vectors.matrix()
    return [None if v is None else m[r] @ v for v, r in zip(batch.translated or [None] * len(rows), rows)]


def _dense_translated_candidates(index: Index, batch: QueryBatch, c: int,
                                 allowed: np.ndarray | None) -> list[np.ndarray]:
    out = [np.zeros(0, np.int64) for _ in batch.queries]
    at, vecs = _translated_rows(batch)
    if at:
        _, ids = index.chunk_vectors.search(vecs, c, allowed)
        for i, ix in zip(at, ids):
            out[i] = ix[ix >= 0]
    return out


#: weights chosen on our own 64 questions, never on the held-out ones (benchmarks/README.md has the ablation);
#: convex keeps some weight on BM25 so exact terms and one-language corpora still count
SIGNALS: tuple[Signal, ...] = (
    Signal("dense", 1.0, 2.0, ("vectors",), _dense, per_language=True,
           doc="cosine of the query and chunk vectors", score_rows=_dense_rows, candidates=_dense_candidates),
    Signal("dense_centred", 2.0, 0.0, ("vectors", "centroids"), _dense_centred, per_language=True,
           doc="cosine after subtracting each side's language centroid (see centroids.py)",
           score_rows=_dense_centred_rows, candidates=_dense_centred_candidates),
    Signal("sentence", 3.0, 3.0, ("sentences",), _sentence, per_language=True,
           doc="each chunk's best sentence, centred like dense_centred when centroids are on",
           score_rows=_sentence_rows, candidates=_sentence_candidates),
    Signal("lexical", 2.0, 0.5, ("lexical",), _lexical, modes=("hybrid", "lexical"),
           doc="BM25 over the query's words and their dictionary translations"),
    Signal("lexical_translated", 1.0, 1.0, ("lexical", "translation"), _lexical_translated,
           doc="BM25 over the translations alone, so the other language's terms count on their own"),
    Signal("dense_translated", 0.0, 1.0, ("vectors", "lexical", "translation", "translated"), _dense_translated,
           doc="cosine of the chunk vectors and the query's dictionary translation embedded as a query (a query "
               "in the chunks' own language), for searches where no chunk is in the query's language",
           score_rows=_dense_translated_rows, candidates=_dense_translated_candidates),
)


def names() -> tuple[str, ...]:
    """Every signal's name, in declaration order."""
    return tuple(s.name for s in SIGNALS)


def default_weights(method: str) -> dict[str, float]:
    """The default weight of every signal under fusion ``method`` (``rrf`` or ``convex``)."""
    return {s.name: (s.convex_weight if method == "convex" else s.rrf_weight) for s in SIGNALS}


def active(mode: str, available: set[str]) -> list[Signal]:
    """The signals a search in ``mode`` computes, given what the index has and the search switched on."""
    return [s for s in SIGNALS if mode in s.modes and set(s.needs) <= available]
