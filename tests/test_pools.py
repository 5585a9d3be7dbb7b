"""Hybrid search over candidate pools (pools.py): exact when the pool holds every chunk, close otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from swsearch import Document, Index, fusion, parts, pools, signals, vectors
from swsearch.documents import detect_language
from swsearch.errors import InputError
from swsearch.lexical import translation_text

from .conftest import HashEmbedder

QUERIES = ["community workers per 10,000 residents", "volunteer service hours", "信访人不得捏造事实",
           "人民调解员的补贴", "freedom of religious belief", "社区工作者 职业体系",
           "how is a village committee elected", "宗教事务条例", "social work stations in every township",
           "养老服务体系建设"]
OPTION_SETS = [{}, {"centroids": False}, {"sentences": False}, {"translate": False}, {"fusion": "convex"},
               {"language_pools": True}, {"feedback": 3}, {"agreement": False}]


def _ids_scores(hits):
    return [h.chunk_id for h in hits], np.array([h.score for h in hits])


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o) or "default")
def test_a_pool_of_every_chunk_is_exact_search(real_hash_index, options):
    """With C >= the number of chunks the pooled code path ranks exactly as exhaustive scoring does (one query
    at a time: a batch's matrix product may differ from one query's in the last bit of a cosine, and the hash
    embedder's many exact ties would then break differently on either path)."""
    ix = real_hash_index
    for q in QUERIES:
        (ia, sa), (ib, sb) = (_ids_scores(ix.search(q, k=10, candidates=c, **options)) for c in (0, len(ix)))
        assert ia == ib
        assert np.allclose(sa, sb, rtol=0, atol=1e-9)


def test_a_pool_of_every_chunk_is_exact_search_filtered_to_the_other_language(real_hash_index):
    """Where the translated query's ranking joins (no chunk searched in the query's language), it offers and scores
    pool candidates like every other ranking; a small pool holds its best chunk."""
    ix = real_hash_index
    for q in QUERIES:
        other = "en" if detect_language(q) == "zh" else "zh"
        (ia, sa), (ib, sb) = (_ids_scores(ix.search(q, k=10, language=other, candidates=c)) for c in (0, len(ix)))
        assert ia == ib and np.allclose(sa, sb, rtol=0, atol=1e-9)
        translated = ix.lexical.query_tokens(q)[1]
        if translated:
            tq = ix.embedder.encode_queries([translation_text(translated)])[0]
            allowed = np.flatnonzero(ix.chunk_languages == other)
            best = allowed[int(np.argmax(ix.chunk_vectors.matrix()[allowed] @ tq))]
            batch = signals.QueryBatch([q], translated=[tq])
            signal = next(s for s in signals.SIGNALS if s.name == "dense_translated")
            assert best in signal.candidates(ix, batch, 5, allowed)[0]


def test_ranks_of_a_pool_with_every_left_out_chunk_sampled_are_exact_ranks():
    """Rank in the pool + left-out chunks above it (ties in tie-break order) = rank among every chunk."""
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 300).astype(np.float64)  # many ties
    tie_order = rng.permutation(300)
    position = np.empty(300, dtype=np.int64)
    position[tie_order] = np.arange(300)
    pool = np.sort(rng.choice(300, 60, replace=False))
    rest = np.setdiff1d(np.arange(300), pool)
    outside = fusion.Outside({"x": scores[rest]}, len(rest), position[pool], position[rest])
    local_order = np.argsort(position[pool], kind="stable")
    got = fusion.pool_ranks("x", scores[pool], local_order, outside)
    assert np.array_equal(got, fusion.ranks(scores, tie_order)[pool])
    # a half sample estimates: unbiased, so within a few ranks here, never below the rank inside the pool
    half = rest[::2]
    est = fusion.pool_ranks("x", scores[pool], local_order,
                            fusion.Outside({"x": scores[half]}, len(rest), position[pool], position[half]))
    assert np.all(est >= fusion.ranks(scores[pool], local_order))
    assert np.abs(est - got).max() <= 12


def test_convex_fusion_of_a_pool_counts_the_left_out_chunks_in_mean_and_spread():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    pool, rest = x[:100], x[100:]
    assert np.allclose(fusion.standardize(pool, rest, len(rest)), fusion.standardize(x)[:100])


def test_small_pools_stay_close_to_exact_search(real_hash_index, monkeypatch):
    """C = 50 of 1,762 chunks with a 500-chunk sample: most of the exhaustive top 10 survives (the scale
    benchmark measures it at 100k chunks and beyond)."""
    monkeypatch.setattr(pools, "SAMPLE", 500)
    ix = real_hash_index
    ix._pool_sample = None
    try:
        exact = ix.search_batch(QUERIES, k=10, candidates=0)
        pooled = ix.search_batch(QUERIES, k=10, candidates=50)
    finally:
        ix._pool_sample = None
    recall = np.mean([len({h.chunk_id for h in a} & {h.chunk_id for h in b}) / 10 for a, b in zip(exact, pooled)])
    assert recall >= 0.9
    assert all(len(b) == 10 and [h.rank for h in b] == list(range(1, 11)) for b in pooled)


def test_pools_switch_on_above_the_threshold_and_respect_filters(tiny_index, monkeypatch):
    calls = []
    real = pools.pooled_lists

    def spy(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(pools, "pooled_lists", spy)
    q = "volunteers register online"
    exact = tiny_index.search(q, k=5)
    assert calls == []  # a tiny index is scored exactly
    monkeypatch.setattr(pools, "POOLS_ABOVE", 2)
    assert pools.pool_size(None, len(tiny_index)) == pools.CANDIDATES
    assert tiny_index.search(q, k=5) == exact  # pools on, C >= every chunk: the same hits
    assert calls == [pools.CANDIDATES]
    zh = tiny_index.search(q, k=5, language="zh", candidates=2)
    assert zh and all(tiny_index.documents[h.doc_id]["language"] == "zh" for h in zh)
    only = tiny_index.search(q, k=5, doc_ids=["volunteers"], candidates=1)
    assert only and {h.doc_id for h in only} == {"volunteers"}
    assert tiny_index.search(q, k=5, candidates=0) == exact and len(calls) == 3


def test_candidates_is_checked(tiny_index):
    with pytest.raises(InputError, match="candidates must be a whole number"):
        tiny_index.search("volunteers", candidates=-1)
    with pytest.raises(InputError, match="candidates must be a whole number"):
        tiny_index.search("volunteers", candidates=2.5)
    with pytest.raises(InputError, match="does not apply to dense search"):
        tiny_index.search("volunteers", mode="dense", candidates=10)


# ------------------------------------------------------------------ the sentence vectors' inverted file

def _scores_and_candidates(ix, centred: bool, c: int, allowed=None):
    """Each query's full sentence scores and the ranking's candidates, one query at a time (a batch's matrix
    product may round a score's last bit differently, and ties then break differently)."""
    for q in QUERIES:
        batch = signals.QueryBatch([q])
        batch.plain = ix.embedder.encode_queries([q])
        if centred:
            batch.centred = ix.centring.centre_queries(batch.plain, [detect_language(q)])
        yield np.asarray(signals._sentence(ix, batch)[0]), signals._sentence_candidates(ix, batch, c, allowed)[0]


@pytest.mark.parametrize("centred", [True, False], ids=["centred", "plain"])
def test_reading_every_sentence_cluster_offers_the_exact_top_chunks(real_hash_index, monkeypatch, centred):
    """With every cluster read, the sentence ranking's candidates are the top C of its full scores, equal scores
    in tie-break order (the hash embedder's repeated sentences tie), inside a filter too."""
    ix = real_hash_index
    clustered = ix.sentence_vectors.clustered(ix.chunks.languages(ix.documents))  # a copy: the fixture stays
    monkeypatch.setattr(ix, "sentence_vectors", clustered)
    monkeypatch.setattr(parts, "PROBES", len(clustered.clusters))
    for s, got in _scores_and_candidates(ix, centred, 40):
        assert np.array_equal(got, fusion.top_k(s, 40))
    zh = np.flatnonzero(ix.chunks.languages(ix.documents) == "zh")
    for s, got in _scores_and_candidates(ix, centred, 40, zh):
        assert np.array_equal(got, zh[fusion.top_k(s[zh], 40)])


def test_a_few_sentence_clusters_find_most_of_the_top_chunks(real_hash_index, monkeypatch):
    """The default number of clusters read (``parts.PROBES``) finds most of the ranking's top chunks, and a pooled
    search with the clusters agrees with exhaustive search more than one without (the scale benchmark measures
    both at 100k and 1M chunks)."""
    ix = real_hash_index
    clustered = ix.sentence_vectors.clustered(ix.chunks.languages(ix.documents))
    assert parts.PROBES < len(clustered.clusters) / 4
    monkeypatch.setattr(ix, "sentence_vectors", clustered)
    found = [len(set(got.tolist()) & set(fusion.top_k(s, 40).tolist())) / 40
             for s, got in _scores_and_candidates(ix, True, 40)]
    assert np.mean(found) >= 0.5  # 16 of ~265 clusters; the hash embedder's questions are far from every sentence
    exact = ix.search_batch(QUERIES, k=10, candidates=0)

    def recall():
        pooled = [ix.search(q, k=10, candidates=20) for q in QUERIES]
        return np.mean([len({h.chunk_id for h in a} & {h.chunk_id for h in b}) / 10 for a, b in zip(exact, pooled)])

    with_clusters = recall()
    monkeypatch.setattr(ix, "sentence_vectors", real_hash_index.sentence_vectors.__class__(
        clustered.matrix, clustered.spans, len(ix.chunks)))  # the same vectors, no inverted file
    assert with_clusters > recall()  # 0.99 against 0.95 when written


def _nearest_everywhere(ix) -> bool:
    sv = ix.sentence_vectors
    return np.array_equal(sv.clusters.assignment, vectors.nearest(sv.clusters.centroids, sv.matrix))


def test_sentence_clusters_are_built_above_the_threshold_saved_and_follow_changes(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(parts, "CLUSTERS_ABOVE", 3)
    ix = Index.build(tiny_corpus, model=HashEmbedder())
    clusters = ix.sentence_vectors.clusters
    assert clusters is not None and len(clusters.assignment) == len(ix.sentence_vectors)
    assert set(clusters.languages) == {"en", "zh"} and _nearest_everywhere(ix)
    loaded = Index.load(ix.save(tmp_path / "ix"), model=HashEmbedder())
    got = loaded.sentence_vectors.clusters
    assert np.array_equal(got.assignment, clusters.assignment) and np.array_equal(got.centroids, clusters.centroids)
    assert got.languages == clusters.languages
    for q in QUERIES:
        assert loaded.search(q, k=5, candidates=3) == ix.search(q, k=5, candidates=3)
    # a change keeps the centroids; every sentence, kept or new, is in its nearest cluster; saved and loaded alike
    loaded.add([Document(id="aa-new", text="Volunteers register online. They log their service hours.",
                         language="en")])
    assert np.array_equal(loaded.sentence_vectors.clusters.centroids, clusters.centroids)
    assert len(loaded.sentence_vectors.clusters.assignment) == len(loaded.sentence_vectors) > len(ix.sentence_vectors)
    assert _nearest_everywhere(loaded)
    loaded.delete([ix.chunks[0].doc_id])
    assert _nearest_everywhere(loaded)
    again = Index.load(loaded.save(), model=HashEmbedder())
    for q in QUERIES:
        assert again.search(q, k=5, candidates=3) == loaded.search(q, k=5, candidates=3)
    # an index without them gets them when a change takes it past the threshold
    monkeypatch.setattr(parts, "CLUSTERS_ABOVE", len(ix.chunks))
    small = Index.build(tiny_corpus, model=HashEmbedder())
    assert small.sentence_vectors.clusters is None
    small.add([Document(id="aa-new", text="Volunteers register online.", language="en")])
    assert small.sentence_vectors.clusters is not None and _nearest_everywhere(small)
    # and fitted again, with more centroids, once the sentences outgrow them fourfold
    fitted = len(small.sentence_vectors.clusters)
    assert not small.sentence_vectors.clusters.outgrown()
    grown = len(small.sentence_vectors)
    while len(small.sentence_vectors) <= 4 * grown:
        n = len(small.sentence_vectors)
        small.add([Document(id=f"grow-{n}", text=f"Volunteers log {n} hours. Stations open at {n}.",
                            language="en")])
    assert len(small.sentence_vectors.clusters) > fitted and not small.sentence_vectors.clusters.outgrown()
    assert _nearest_everywhere(small)


@pytest.mark.parametrize("seed", range(5))
def test_top_k_and_top_of_are_a_stable_sort_cut_short(seed):
    """The partial sorts behind pools (no full sort of a million scores) give what a stable full sort gives:
    best first, equal scores in position order (or in ``order``); ``top_of`` leaves out the minimum."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 400).astype(np.float32)  # many ties, and many at the minimum
    scores[rng.random(400) < 0.5] = 0
    for k in (1, 7, 50, 400, 500):
        assert np.array_equal(fusion.top_k(scores, k), np.argsort(-scores, kind="stable")[:k])
        order = rng.permutation(400)
        assert np.array_equal(fusion.top_k(scores, k, order), order[np.argsort(-scores[order], kind="stable")[:k]])
        above = np.flatnonzero(scores > scores.min())
        assert np.array_equal(pools.top_of(scores, k, None), above[np.argsort(-scores[above], kind="stable")[:k]])
        allowed = np.sort(rng.choice(400, 100, replace=False))
        inside = scores[allowed]
        keep = np.flatnonzero(inside > inside.min())
        assert np.array_equal(pools.top_of(scores, k, allowed),
                              allowed[keep[np.argsort(-inside[keep], kind="stable")[:k]]])


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_a_faiss_selector_keeps_exactly_its_rows(kind):
    import faiss

    from swsearch import vectors

    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    q = rng.standard_normal((8, 16)).astype(np.float32)
    if kind == "ivf":  # every list probed: exact, as flat
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(16), 16, 8, faiss.METRIC_INNER_PRODUCT)
        index.train(x)
        index.nprobe = 8
    else:
        index = faiss.IndexFlatIP(16) if kind == "flat" else faiss.IndexHNSWFlat(16, 16, faiss.METRIC_INNER_PRODUCT)
    index.add(x)
    for rows in (np.sort(rng.choice(3000, 700, replace=False)), np.array([2999]), np.array([0, 7, 8, 9]),
                 np.zeros(0, np.int64)):
        scores, ids = vectors.search(index, q, 5, vectors.selector(rows))
        assert set(ids[ids >= 0].tolist()) <= set(rows.tolist())
        # the same search as FAISS's hash-set selector (a graph may miss a lone allowed row with either)
        same = vectors.search(index, q, 5, faiss.IDSelectorBatch(np.ascontiguousarray(rows, dtype=np.int64)))
        assert np.array_equal(ids, same[1]) and np.array_equal(scores, same[0])
        if kind != "hnsw":  # exact: the best allowed rows, as masking every other row gives
            masked = q @ x.T
            masked[:, np.setdiff1d(np.arange(3000), rows)] = -np.inf
            want = np.argsort(-masked, axis=1, kind="stable")[:, :min(5, len(rows))]
            assert np.array_equal(ids[:, :min(5, len(rows))], want)


def test_filter_rows_are_every_chunk_of_the_documents_in_the_language(tiny_index):
    langs, docs = tiny_index.chunk_languages, np.array([c.doc_id for c in tiny_index.chunks])
    some = sorted(set(docs.tolist()))[::2]
    for doc_ids, language in ((None, "zh"), (None, "en"), (some, None), (some, "en"), (some, "zh"), ([], "zh")):
        want = np.flatnonzero(np.isin(docs, doc_ids if doc_ids is not None else docs)
                              & ((langs == language) if language else True))
        got = tiny_index._rows_for(doc_ids, language)
        assert np.array_equal(got, want), (doc_ids, language)
    with pytest.raises(ValueError):  # a language's rows are shared by every search: nobody may change them
        tiny_index._rows_for(None, "zh")[0] = 1
