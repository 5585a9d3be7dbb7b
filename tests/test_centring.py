"""Language centring on the query side: the same scores as centring a copy of the vectors, and dense search
through FAISS that is exact (flat) without ever building that copy."""

from __future__ import annotations

import random

import numpy as np
import pytest

import swsearch.index as index_module
from swsearch import Document, Index, vectors
from swsearch.centroids import Centring, blocks_of
from swsearch.documents import detect_language

from .conftest import HashEmbedder

EN = "community workers wage training volunteer service record hours register protect information city rural " \
     "grid party committee petition mediation subsidy injury relief talent education salary elderly child".split()
ZH = list("社区工作者薪酬培训志愿服务记录时长登记保护信息城市农村网格党委信访调解补贴伤残救助人才教育老人儿童")


def _corpus(n: int = 120, seed: int = 7) -> list[Document]:
    """Documents of very different lengths, so the centred norms vary a lot and plain and centred orders differ."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        words = [rnd.choice(EN) for _ in range(rnd.randint(2, 40))]
        docs.append(Document(id=f"en{i:03d}", text=" ".join(words) + ".", language="en"))
        chars = [rnd.choice(ZH) for _ in range(rnd.randint(2, 60))]
        docs.append(Document(id=f"zh{i:03d}", text="".join(chars) + "。", language="zh"))
    return docs


QUERIES = ["community workers wage", "volunteer record hours", "社区工作者薪酬", "信访调解", "rural 党委 grid",
           "elderly child education", "志愿服务时长登记"]


@pytest.fixture(scope="module")
def bilingual():
    return Index.build(_corpus(), model=HashEmbedder(), lexical=False, sentences=False)


def _by_definition(index: Index, queries: list[str], k: int, rows=None) -> list[list[tuple[str, float]]]:
    """Centred dense search as first written: a centred copy of every vector, scored in full."""
    matrix = index.faiss_index.reconstruct_n(0, index.faiss_index.ntotal)
    langs = index.chunk_languages
    centred = matrix - np.stack([index.centroids[lang] for lang in langs])
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    q = index.embedder.encode_queries(queries)
    q = index.centring.centre_queries(q, [detect_language(x) for x in queries])
    out = []
    for scores in q @ centred.T:
        if rows is not None:
            masked = np.full(len(scores), -np.inf, dtype=np.float32)
            masked[rows] = scores[rows]
            scores = masked
        top = np.lexsort((index.tie_position, -scores))[:k]
        out.append([(index.chunks[r].id, float(scores[r])) for r in top if np.isfinite(scores[r])])
    return out


def _assert_same(got, want) -> None:
    for g, w in zip(got, want):
        assert [h.chunk_id for h in g] == [x[0] for x in w]
        assert np.allclose([h.score for h in g], [x[1] for x in w], atol=1e-5)


def test_query_side_scores_equal_centring_a_copy():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    langs = np.array(["en"] * 20 + ["zh"] * 30)
    cents = {"en": v[:20].mean(axis=0), "zh": v[20:].mean(axis=0)}
    c = Centring(cents, langs)
    norms = c.norms(blocks_of(v, size=7), c.chunk_codes)  # blocks smaller than the matrix: the norms join up
    raw = rng.normal(size=(3, 8)).astype(np.float32)
    q = c.centre_queries(raw, ["en", "zh", "fr"])
    copy = v - np.stack([cents[lang] for lang in langs])
    copy /= np.linalg.norm(copy, axis=1, keepdims=True)
    assert np.allclose(c.scores(q, q @ v.T, c.chunk_codes, norms), q @ copy.T, atol=1e-6)
    on_mean = raw[2] - (cents["en"] + cents["zh"]) / 2  # a language the index lacks: centred on the mean
    assert np.allclose(q[2], on_mean / np.linalg.norm(on_mean), atol=1e-6)


@pytest.mark.parametrize("k", [1, 5, 40, 500])
def test_dense_search_through_faiss_is_exact(bilingual, k):
    got = bilingual.search_batch(QUERIES, k, mode="dense")
    _assert_same(got, _by_definition(bilingual, QUERIES, k))
    assert all(len(g) == min(k, len(bilingual)) for g in got)


@pytest.mark.parametrize("k", [1, 3, 40])
def test_candidate_pools_from_faiss_are_exact(bilingual, monkeypatch, k):
    """The path for approximate indexes, run on a flat index (FAISS search exact, its memory not viewed)."""
    monkeypatch.setattr(index_module.vectors, "flat_view", lambda index: None)
    _assert_same(bilingual.search_batch(QUERIES, k, mode="dense"), _by_definition(bilingual, QUERIES, k))
    zh_rows = np.flatnonzero(bilingual.chunk_languages == "zh")
    _assert_same(bilingual.search_batch(QUERIES, k, mode="dense", language="zh"),
                 _by_definition(bilingual, QUERIES, k, zh_rows))


def test_the_candidate_pool_grows_until_it_is_provably_enough(bilingual, monkeypatch):
    """With the smallest first pool (2k) the bound is not met at once for some queries; results stay exact."""
    monkeypatch.setattr(index_module, "DENSE_POOL_EXTRA", 0)
    monkeypatch.setattr(index_module.vectors, "flat_view", lambda index: None)
    calls = []
    real = vectors.search

    def spy(faiss_index, queries, k, allowed=None):
        calls.append(k)
        return real(faiss_index, queries, k, allowed)

    monkeypatch.setattr(index_module.vectors, "search", spy)
    got = bilingual.search_batch(QUERIES, 3, mode="dense")
    _assert_same(got, _by_definition(bilingual, QUERIES, 3))
    assert max(calls) > 6, calls  # some pool grew beyond its first size of 2k


def test_filters_apply_inside_the_faiss_search(bilingual):
    zh_rows = np.flatnonzero(bilingual.chunk_languages == "zh")
    _assert_same(bilingual.search_batch(QUERIES, 10, mode="dense", language="zh"),
                 _by_definition(bilingual, QUERIES, 10, zh_rows))
    ids = ["en005", "zh017", "zh099"]
    rows = np.flatnonzero(np.isin([c.doc_id for c in bilingual.chunks], ids))
    got = bilingual.search_batch(QUERIES, 10, mode="dense", doc_ids=ids)
    _assert_same(got, _by_definition(bilingual, QUERIES, 10, rows))
    assert {h.doc_id for g in got for h in g} <= set(ids)


def test_dense_search_never_copies_the_vectors(bilingual, tmp_path):
    loaded = Index.load(bilingual.save(tmp_path / "ix"), model=HashEmbedder())
    _assert_same(loaded.search_batch(QUERIES, 5, mode="dense"), _by_definition(bilingual, QUERIES, 5))
    assert loaded.chunk_vectors._matrix is None  # scored in FAISS's own memory; no matrix was reconstructed
    loaded.search_batch(QUERIES, 5)  # hybrid too reads the flat index in place
    assert loaded.chunk_vectors._matrix is None


def test_the_flat_view_shares_faiss_memory_and_is_read_only(bilingual):
    view = vectors.flat_view(bilingual.faiss_index)
    assert np.array_equal(view, bilingual.faiss_index.reconstruct_n(0, bilingual.faiss_index.ntotal))
    assert not view.flags.owndata and not view.flags.writeable
    hnsw = vectors.build_index(view[:300].copy(), "hnsw")
    assert np.array_equal(vectors.flat_view(hnsw), view[:300])  # HNSW's flat storage, read in place too
    assert vectors.flat_view(vectors.build_index(view[:300].copy(), "ivf")) is None


def test_an_ann_index_serves_centred_dense_search():
    docs = _corpus(60, seed=3)
    exact = Index.build(docs, model=HashEmbedder(), lexical=False, sentences=False)
    hnsw = Index.build(docs, model=HashEmbedder(), lexical=False, sentences=False, index_type="hnsw")
    assert vectors.index_type_of(hnsw.faiss_index) == "hnsw"
    a, b = exact.search_batch(QUERIES, 10, mode="dense"), hnsw.search_batch(QUERIES, 10, mode="dense")
    recall = np.mean([len({h.chunk_id for h in x} & {h.chunk_id for h in y}) / len(x) for x, y in zip(a, b)])
    assert recall >= 0.9


def test_a_flat_view_outlives_its_index_and_its_index_s_growth():
    """The view keeps FAISS's memory alive, and adding documents builds a new flat index, never moving it."""
    import gc

    index = Index.build(_corpus(20), model=HashEmbedder(), lexical=False, sentences=False)
    expected = index.faiss_index.reconstruct_n(0, index.faiss_index.ntotal)
    view = index.chunk_vectors.matrix()
    del index
    gc.collect()
    junk = [np.ones((len(expected), 64), np.float32) * i for i in range(20)]  # reuse freed memory if any
    assert np.array_equal(view, expected) and junk
    grown = Index.build(_corpus(20), model=HashEmbedder(), lexical=False, sentences=False)
    before = grown.chunk_vectors.matrix()
    grown.add([Document(id="zz-new", text="community workers wage training", language="en")])
    assert np.array_equal(before, expected) and len(grown.chunk_vectors.matrix()) == len(expected) + 1
