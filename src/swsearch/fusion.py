"""Rank fusion and language-aware dense scoring, the two things that make cross-lingual search work here.

Why: a multilingual embedding carries a strong language component, so an English query scores every
English paragraph above the right Chinese one. Subtracting each language's centroid (the mean embedding
of that language's chunks; the query gets the centroid of its own language) removes most of it. Lexical
matching through a dictionary translation of the query finds the other language's exact terms. Reciprocal
rank fusion (Cormack et al. 2009) combines rankings without having to calibrate their scores; the convex
combination (``convex``, as txtai and Weaviate fuse) standardises each ranking's scores instead. A chunk also
scores by its best sentence (``segment_max``): a paragraph's one relevant sentence is diluted in the
paragraph's mean-pooled vector, but not in its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .documents import LANGUAGES, detect_language
from .errors import InputError
from .options import FUSION_METHODS
from .signals import SIGNALS, default_weights

RRF_K = 60
#: weights of the rankings fused in hybrid mode (declared with each ranking in ``signals.SIGNALS``, chosen on our
#: own 64 questions; benchmarks/README.md has the ablation). "sentence" is centred like "dense_centred" when
#: centroids are on.
HYBRID_WEIGHTS = default_weights("rrf")
#: weights of ``search(fusion="convex")``: each ranking's scores z-scored over all chunks, then summed;
#: benchmarks/README.md shows it does not beat RRF on unseen questions
CONVEX_WEIGHTS = default_weights("convex")
#: the extra rankings of pseudo-relevance feedback (``search(feedback=n)``), off by default
FEEDBACK_WEIGHTS = {"feedback": 1.0, "feedback_sentence": 1.0}
#: the translated query's BM25 weight in RRF when two cross-lingual signals agree (``translation_agreed``); chosen
#: on books 1-2 of the parallel articles with translations learned on the other book (benchmarks/agreement.py)
AGREED_TRANSLATED_WEIGHT = 2.0
#: how high the translated query's best chunk must rank among its language's chunks under the sentence ranking
#: for the two to agree; chosen with the weight (benchmarks/agreement.py: 1, 2, 3, 5, 10)
AGREEMENT_TOP = 3
#: how strong the translated query's best BM25 match must be, in units of ln(number of chunks), for the translated
#: ranking to weigh ``AGREED_TRANSLATED_WEIGHT`` even when the sentence ranking does not agree
#: (``translation_evident``); chosen with the weight on books 1-2 (benchmarks/agreement.py: 1.5 to 2.5)
TRANSLATED_EVIDENCE = 2.0


def language_centroids(vectors: np.ndarray, languages: np.ndarray) -> dict[str, np.ndarray]:
    """Mean embedding of each language's chunks."""
    return {lang: vectors[languages == lang].mean(axis=0).astype(np.float32) for lang in np.unique(languages)}


def centre(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Subtract per-row centroids and L2-normalise again."""
    out = np.asarray(vectors, dtype=np.float32) - centroids
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)


def segment_max(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Max over contiguous segments along the last axis: each chunk's best sentence score.

    ``starts[i]`` is the first column of segment ``i``; segments must be non-empty and in order.
    """
    return np.maximum.reduceat(scores, starts, axis=-1)


@dataclass(frozen=True)
class Outside:
    """What a candidate pool leaves out (``pools.py``), for fusing as if every chunk were there: the scores of a
    random sample of the left-out chunks under each ranking, how many chunks were left out, and the tie-break
    positions (``Index.tie_position``) of the pool's rows and of the sample's."""

    scores: Mapping[str, np.ndarray]
    left_out: int
    pool_positions: np.ndarray
    sample_positions: np.ndarray

    def above(self, name: str, scores: np.ndarray) -> np.ndarray:
        """How many left-out chunks are estimated to rank above each of the pool's ``scores`` under ranking
        ``name``: those of the sample that score higher, or equal and come first in tie-break order, scaled up."""
        sample = self.scores.get(name)
        if sample is None or not len(sample) or not self.left_out:
            return np.zeros(len(scores))
        values = np.concatenate([np.asarray(scores, dtype=np.float64), np.asarray(sample, dtype=np.float64)])
        positions = np.concatenate([self.pool_positions, self.sample_positions])
        best = np.lexsort((positions, -values))  # score, then tie-break order: the order ranks() gives
        from_sample = np.cumsum(best >= len(scores))  # sample entries at or before each place in that order
        out = np.empty(len(values))
        out[best] = from_sample
        return out[:len(scores)] * (self.left_out / len(sample))


def ranks(scores: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of every entry, best score first; equal scores are ranked in ``order`` (a permutation of
    the entries; by default their position), so ties do not depend on the order chunks were indexed in."""
    scores = np.asarray(scores)
    if order is None:
        best = np.argsort(-scores, kind="stable")
    else:
        best = order[np.argsort(-scores[order], kind="stable")]
    out = np.empty(len(scores), dtype=np.float64)
    out[best] = np.arange(1, len(scores) + 1)
    return out


def pool_ranks(name: str, scores: np.ndarray, order: np.ndarray | None, outside: Outside | None) -> np.ndarray:
    """Ranks among every chunk from a pool's scores: the rank inside the pool plus the left-out chunks estimated
    to score higher (none for a chunk of the ranking's own top C, so those ranks are exact)."""
    r = ranks(scores, order)
    return r if outside is None else r + outside.above(name, np.asarray(scores))


def top_k(scores: np.ndarray, k: int, order: np.ndarray | None = None) -> np.ndarray:
    """The entries of the ``k`` best scores, best first, ties in ``order`` as in ``ranks``; no full sort."""
    scores = np.asarray(scores)
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    neg = -(scores if order is None else scores[order])  # one pass over a million scores, not one per step
    kth = np.partition(neg, k - 1)[k - 1]
    candidates = np.flatnonzero(neg <= kth)  # every entry tied with the k-th too, in tie-break order
    best = candidates[np.argsort(neg[candidates], kind="stable")[:k]]
    return best if order is None else order[best]


def effective_weights(names, weights: Mapping[str, float]) -> dict[str, float]:
    """The weights a fusion of the rankings ``names`` uses: without centroids there is no ``dense_centred``
    ranking, and its weight goes to ``dense`` (what it is without centring)."""
    w = dict(weights)
    if "dense_centred" not in names and "dense" in names:
        w["dense"] = w.get("dense", 0.0) + w.get("dense_centred", 0.0)
    return w


def rrf(score_lists: Mapping[str, np.ndarray], weights: Mapping[str, float], k: int = RRF_K,
        order: np.ndarray | None = None, outside: Outside | None = None) -> np.ndarray:
    """Weighted reciprocal rank fusion: ``sum_w w / (k + rank)`` over the given full score arrays (or a pool's,
    ranked among every chunk with ``outside``)."""
    total = None
    for name, scores in score_lists.items():
        w = weights.get(name, 0.0)
        if w:
            part = w / (k + pool_ranks(name, scores, order, outside))
            total = part if total is None else total + part
    if total is None:
        raise ValueError("no ranking with a positive weight to fuse")
    return total


def standardize(scores: np.ndarray, left_out: np.ndarray | None = None, n_left_out: int = 0) -> np.ndarray:
    """z-scores over all entries (zeros when every score is the same), so rankings on different scales add up;
    with a sample ``left_out`` of ``n_left_out`` more entries, the mean and spread count those too."""
    x = np.asarray(scores, dtype=np.float64)
    mean, var = x.mean() if len(x) else 0.0, x.var() if len(x) else 0.0
    if left_out is not None and len(left_out) and n_left_out:
        o = np.asarray(left_out, dtype=np.float64)
        n = len(x) + n_left_out
        mean = (x.sum() + n_left_out * o.mean()) / n
        var = (((x - mean) ** 2).sum() + n_left_out * (o.var() + (o.mean() - mean) ** 2)) / n
    sd = np.sqrt(var)
    return (x - mean) / sd if sd > 0 else np.zeros_like(x)


def convex(score_lists: Mapping[str, np.ndarray], weights: Mapping[str, float],
           outside: Outside | None = None) -> np.ndarray:
    """Weighted sum of standardised scores: a convex combination once the weights are normalised."""
    total = None
    for name, scores in score_lists.items():
        w = weights.get(name, 0.0)
        if w:
            sample = None if outside is None else outside.scores.get(name)
            part = w * standardize(scores, sample, 0 if outside is None else outside.left_out)
            total = part if total is None else total + part
    if total is None:
        raise ValueError("no ranking with a positive weight to fuse")
    return total


def within_groups(scores: np.ndarray, groups: list[np.ndarray], method: str = "rrf") -> np.ndarray:
    """Put each group's scores on its own scale, so no group outranks another wholesale.

    With ``rrf``: the rank inside the group, negated (per-language candidate pools fused by rank: the best
    English and the best Chinese chunk both rank first). With ``convex``: z-scores inside the group
    (per-language score calibration). ``groups`` are index arrays that together cover every entry, each
    in tie-break order (ties inside a group are ranked in that order).
    """
    x = np.asarray(scores, dtype=np.float64)
    out = np.empty_like(x)
    for rows in groups:
        out[rows] = -ranks(x[rows]) if method == "rrf" else standardize(x[rows])
    return out


def fuse(score_lists: Mapping[str, np.ndarray], weights: Mapping[str, float], method: str = "rrf",
         order: np.ndarray | None = None, outside: Outside | None = None) -> np.ndarray:
    """Fuse full score arrays by ``rrf`` (ranks) or ``convex`` (standardised scores).

    ``weights`` as ``search`` takes them (``effective_weights`` is applied here, so fusing
    ``Index.component_scores(q, centroids=False)`` gives what ``search(q, centroids=False)`` ranks by);
    ``order``: the tie-break order of the entries (``Index.tie_order``) for ``rrf``; ``outside``: what a
    candidate pool left out, so a pool's ranks and z-scores estimate those among every chunk.
    """
    weights = effective_weights(score_lists, weights)
    if method == "rrf":
        return rrf(score_lists, weights, order=order, outside=outside)
    if method == "convex":
        return convex(score_lists, weights, outside)
    raise ValueError(f"unknown fusion method {method!r}; use one of {', '.join(FUSION_METHODS)}")


def translation_agreed(lists: Mapping[str, np.ndarray], languages: np.ndarray, order: np.ndarray,
                       top: int = AGREEMENT_TOP) -> bool:
    """Whether two independent cross-lingual signals point at one chunk: the translated query's best chunk under
    BM25 is among the ``top`` best chunks of its language under the sentence ranking (ties in tie-break ``order``).

    Why: with no language filter, the query's own language wins four of the five rankings, so a translation
    of the query's text is pushed down; the translated ranking alone favours the other language, and
    weighting it up for every query wrecks same-language questions. When the two agree, a translation or a
    strong other-language answer is likely (benchmarks/agreement.py)."""
    translated, sentence = lists.get("lexical_translated"), lists.get("sentence")
    if translated is None or sentence is None or not len(order):
        return False
    translated, sentence = np.asarray(translated), np.asarray(sentence)
    best = int(order[np.argmax(translated[order])])
    if translated[best] <= 0:
        return False
    same = order[languages[order] == languages[best]]
    scores, at = sentence[same], int(np.flatnonzero(same == best)[0])
    # its rank in its language: the chunks scoring higher, and those tied with it that come first in tie order
    ahead = np.count_nonzero(scores > scores[at]) + np.count_nonzero(scores[:at] == scores[at])
    return bool(ahead < top)


def translation_evident(lists: Mapping[str, np.ndarray], corpus_size: int, evidence: float | None = None) -> bool:
    """Whether the translated query's best chunk matches it strongly on its own: its BM25 score is above
    ``evidence`` times ln(``corpus_size``), the idf of a word found in one chunk and so about the most one query
    word adds (BM25 here is idf times a saturating term frequency below 1): two rare words' worth at the default
    (None: ``TRANSLATED_EVIDENCE``).

    Why: where the sentence ranking does not agree, a translated query that still matches one chunk on several
    rare words has most likely found its translation or a close answer; weaker matches (short questions, common
    words) are where weighting it up costs same-language answers (benchmarks/agreement.py)."""
    translated = lists.get("lexical_translated")
    if translated is None or corpus_size < 2 or not len(translated):
        return False
    evidence = TRANSLATED_EVIDENCE if evidence is None else evidence
    return bool(float(np.max(translated)) > evidence * math.log(corpus_size))


def translation_favoured(lists: Mapping[str, np.ndarray], languages: np.ndarray, order: np.ndarray,
                         corpus_size: int | None = None) -> bool:
    """Whether the default RRF weights the translated ranking up for this query (``AGREED_TRANSLATED_WEIGHT``):
    ``translation_agreed`` or ``translation_evident`` (``corpus_size``: the chunks BM25's idf counts; None:
    ``len(order)``, right for full score arrays, not for a candidate pool)."""
    return (translation_agreed(lists, languages, order)
            or translation_evident(lists, len(order) if corpus_size is None else corpus_size))


def languages_present(languages: np.ndarray) -> frozenset[str]:
    """Which of ``documents.LANGUAGES`` occur among ``languages`` (the chunks a search may return): one pass
    per language, computed once per batch of queries."""
    return frozenset(lang for lang in LANGUAGES if np.any(languages == lang))


def fusion_method(method: str, weights: Mapping[str, float] | None, query: str, present: frozenset[str]) -> str:
    """The fusion a hybrid search runs for ``query``: ``method`` itself, except that ``auto`` (the default) is
    the convex combination when no chunk the search may return is in the query's language (``present``: their
    languages, ``languages_present``; the query's language known, en or zh) and the weights are the defaults,
    else RRF.

    Why: with every candidate in the other language (a search filtered to it, or a one-language index), RRF
    over all chunks gives a ranking only its order, and the language-biased plain dense ranking puts every
    candidate behind the chunks in the query's own language. Convex keeps each score's distance from the mean
    instead: on the parallel articles filtered to the other language it finds the translation more often than
    RRF (books 3-4 first sentence 0.899 / 0.900 -> 0.930 / 0.916), and on one-language indexes too; with the
    query's language among the candidates RRF stays better (benchmarks/cross_fusion.py)."""
    if method != "auto":
        return method
    language = detect_language(query)
    if weights is None and language != "other" and present and language not in present:
        return "convex"
    return "rrf"


def _weighs_translated_query(method: str, weights: Mapping[str, float] | None) -> bool:
    return (weights if weights is not None else default_weights(method)).get("dense_translated", 0.0) > 0


def may_translate_query(method: str, weights: Mapping[str, float] | None) -> bool:
    """Whether a hybrid search with this ``method`` and ``weights`` needs to know which languages its hits can be
    in: to choose the fusion (``auto``), or to know whether it embeds the translated query."""
    return method == "auto" or _weighs_translated_query(method, weights)


def translated_query_used(method: str, weights: Mapping[str, float] | None, query: str,
                          present: frozenset[str]) -> bool:
    """Whether a hybrid search fusing by ``method`` (as ``fusion_method`` chose it) embeds ``query``'s dictionary
    translation (the ``dense_translated`` ranking): only where no chunk it may return is in the query's language
    (``present``), and only when that ranking weighs something (by default under convex, not RRF).

    Why there alone: the translated query is in the chunks' own language, so it finds a translation without the
    language offset every other dense ranking carries; where the query's own language is among the candidates
    it would rank only the other language's chunks up, which costs the policy questions (benchmarks/README.md)."""
    language = detect_language(query)
    if language == "other" or not present or language in present:
        return False
    return _weighs_translated_query(method, weights)


def plan(method: str, weights: Mapping[str, float] | None, queries: Sequence[str],
         present: frozenset[str]) -> tuple[list[str], list[bool]]:
    """For each query of a hybrid search, the fusion it runs (``fusion_method``) and whether it embeds its
    translation (``translated_query_used``); ``present`` as there (empty for any other search: then RRF or
    ``method``, and no translation)."""
    methods = [fusion_method(method, weights, q, present) for q in queries]
    return methods, [translated_query_used(m, weights, q, present) for m, q in zip(methods, queries)]


def fuse_rankings(lists: Mapping[str, np.ndarray], weights: Mapping[str, float] | None, method: str,
                  order: np.ndarray, groups: list[np.ndarray] | None = None,
                  outside: Outside | None = None, languages: np.ndarray | None = None,
                  corpus_size: int | None = None) -> np.ndarray:
    """Hybrid search's fusion of its named rankings, for every store: ``weights`` (None: the signals' defaults
    for ``method``), a one-line InputError when every ranking used has weight 0, and with ``groups`` (two or
    more, each in tie-break order) the per-language rankings first put on each group's own scale (ranked
    inside the pool only: ``outside`` then applies to the other rankings). With the entries' ``languages``
    (``search(agreement=True)``, the default), default RRF weights and no groups, the translated ranking
    weighs ``AGREED_TRANSLATED_WEIGHT`` when ``translation_favoured`` (``corpus_size`` as there)."""
    if weights is None:
        weights = default_weights(method)
        if (languages is not None and method == "rrf" and (groups is None or len(groups) < 2)
                and translation_favoured(lists, languages, order, corpus_size)):
            weights = {**weights, "lexical_translated": AGREED_TRANSLATED_WEIGHT}
    if not any(effective_weights(lists, weights).get(name, 0.0) for name in lists):
        raise InputError(f"every ranking this search uses has weight 0; give one of {', '.join(lists)} a "
                         "positive weight")
    if groups is not None and len(groups) > 1:
        per_language = {s.name for s in SIGNALS if s.per_language}
        lists = {name: within_groups(scores, groups, method) if name in per_language else scores
                 for name, scores in lists.items()}
        if outside is not None:
            outside = replace(outside, scores={n: s for n, s in outside.scores.items() if n not in per_language})
    return fuse(lists, weights, method, order, outside)

