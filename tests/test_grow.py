"""An index that changes: add, upsert and delete rank exactly like a fresh build of the same documents, a
built index ranks like the same index loaded from disk, and ties do not depend on insertion order."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import swsearch
from swsearch import Document, Index, IndexWriteError, InputError
from swsearch.index import bundled_index_dir

from .conftest import REPO, SHARED, TINY_DOCS, HashEmbedder

TINY_QUERIES = ["community workers per 10,000 residents", "volunteer personal information", "信访人不得捏造事实",
                "调解员误工补贴", "average wage", "training every three years", "志愿者"]


def _docs() -> list[Document]:
    return swsearch.load_corpus(None)


def _questions() -> list[str]:
    out = []
    for path in (SHARED / "data" / "policy_dev_queries.jsonl",
                 REPO / "benchmarks" / "data" / "policy_own_queries.jsonl"):
        out += [json.loads(line)["query"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def assert_same_ranking(a: Index, b: Index, queries: list[str], k: int = 10, **options) -> None:
    """Identical top-k ids in every query; scores equal to 1e-5 (near-ties may swap only where equal to 1e-6)."""
    for qa, qb, q in zip(a.search_batch(queries, k, **options), b.search_batch(queries, k, **options), queries):
        ids_a, ids_b = [h.chunk_id for h in qa], [h.chunk_id for h in qb]
        sa, sb = np.array([h.score for h in qa]), np.array([h.score for h in qb])
        assert np.allclose(sa, sb, atol=1e-5), q
        if ids_a != ids_b:  # only a swap of scores equal to 1e-6 is allowed
            for x, y, s in zip(ids_a, ids_b, sa):
                if x != y:
                    assert np.sum(np.abs(sa - s) < 1e-6) > 1, (q, ids_a, ids_b)


@pytest.fixture(scope="module")
def corpus_docs():
    return _docs()


@pytest.fixture(scope="module")
def full(real_hash_index):
    return real_hash_index


# ---------------------------------------------------------------------- tiny: every operation
def _tiny_documents(corpus):
    return swsearch.load_corpus(corpus)


def test_add_ranks_like_a_build_of_everything(tiny_corpus, hash_embedder):
    docs = _tiny_documents(tiny_corpus)
    grown = Index.build(docs[:2], model=hash_embedder).add(docs[2:])
    fresh = Index.build(docs, model=hash_embedder)
    assert [c.id for c in grown.chunks] == [c.id for c in fresh.chunks]
    assert grown.chunks.to_files() == fresh.chunks.to_files()  # the tables save as a build's, byte for byte
    assert grown.documents.to_files() == fresh.documents.to_files()
    assert np.array_equal(grown.sentence_spans, fresh.sentence_spans)
    assert grown.lexical.tables == fresh.lexical.tables and grown.lexical.lexicon == fresh.lexical.lexicon
    assert grown.config["corpus_fingerprint"] == fresh.config["corpus_fingerprint"]
    for mode in ("hybrid", "dense", "lexical"):
        assert_same_ranking(grown, fresh, TINY_QUERIES, mode=mode)


def test_adding_to_an_hnsw_index_grows_its_graph_in_tie_order(hash_embedder):
    """Documents that sort before the ones there: the graph is grown and relabelled, not rebuilt, and holds the
    same vectors in the same rows as a build of everything; HNSW search finds what exact search finds."""
    docs = [Document(id=f"d{i:03d}", text=f"document number {i} talks about topic {i % 7} and item {i % 11}.")
            for i in range(300)]
    grown = Index.build(docs[40:], model=hash_embedder, index_type="hnsw").add(docs[:40])  # d000.. sort first
    fresh = Index.build(docs, model=hash_embedder, index_type="hnsw")
    assert [c.id for c in grown.chunks] == [c.id for c in fresh.chunks]
    assert np.array_equal(grown.chunk_vectors.matrix(), fresh.chunk_vectors.matrix())
    assert grown.chunk_vectors.faiss_index.ntotal == 300
    q = hash_embedder.encode_queries(["topic 3 item 5", "document number 12", "topic 6", "item 4", "number 200"])
    exact = q @ fresh.chunk_vectors.matrix().T
    tenth = np.sort(exact, axis=1)[:, -10]

    def recall(index):  # the share of its top 10 that score at least the exact tenth best (ties count)
        _, rows = index.chunk_vectors.search(q, 10)
        return np.mean([np.mean(e[r] >= t - 1e-6) for e, r, t in zip(exact, rows, tenth)])

    assert recall(grown) >= min(0.9, recall(fresh))


def test_deleting_from_an_hnsw_index_cuts_the_nodes_out_of_its_graph(hash_embedder, tmp_path, monkeypatch):
    """A few documents deleted (and one replaced): the graph keeps its other nodes and links, holds the same
    vectors in the same rows as a build of the rest, finds what exact search finds, and saves and loads."""
    from swsearch import parts, vectors

    docs = [Document(id=f"d{i:03d}", text=f"document number {i} talks about topic {i % 7} and item {i % 11}.")
            for i in range(300)]
    gone = [f"d{i:03d}" for i in (0, 5, 77, 150, 299)]
    monkeypatch.setattr(parts, "REMOVE_IN_PLACE", 0.02)
    cut = vectors.keep_entries
    calls = []
    monkeypatch.setattr(vectors, "keep_entries", lambda index, keep: (calls.append(len(keep)), cut(index, keep)))
    built = Index.build(docs, model=hash_embedder, index_type="hnsw")
    shrunk = built.delete(gone).upsert([Document(id="d010", text="a replaced document about topic 3.")])
    rest = [d for d in docs if d.id not in gone and d.id != "d010"]
    fresh = Index.build([*rest, Document(id="d010", text="a replaced document about topic 3.")],
                        model=hash_embedder, index_type="hnsw")
    assert calls == [295, 294]  # cut out of the graph both times, not rebuilt
    assert [c.id for c in shrunk.chunks] == [c.id for c in fresh.chunks]
    assert np.array_equal(shrunk.chunk_vectors.matrix(), fresh.chunk_vectors.matrix())
    q = hash_embedder.encode_queries(["topic 3 item 5", "document number 12", "topic 6", "item 4", "number 200"])
    exact = q @ fresh.chunk_vectors.matrix().T
    tenth = np.sort(exact, axis=1)[:, -10]

    def recall(index):
        _, rows = index.chunk_vectors.search(q, 10)
        assert rows.min() >= 0 and rows.max() < len(fresh)
        return np.mean([np.mean(e[r] >= t - 1e-6) for e, r, t in zip(exact, rows, tenth)])

    assert recall(shrunk) >= min(0.9, recall(fresh))
    loaded = Index.load(shrunk.save(tmp_path / "ix"), model=hash_embedder)
    assert loaded.search("topic 3 item 5", k=10) == shrunk.search("topic 3 item 5", k=10)


def test_delete_ranks_like_a_build_without(tiny_corpus, hash_embedder):
    docs = _tiny_documents(tiny_corpus)
    shrunk = Index.build(docs, model=hash_embedder).delete([d.id for d in docs[1:3]])
    fresh = Index.build([docs[0], docs[3]], model=hash_embedder)
    assert set(shrunk.documents) == set(fresh.documents)
    assert shrunk.chunks.to_files() == fresh.chunks.to_files()
    assert shrunk.documents.to_files() == fresh.documents.to_files()
    assert shrunk.lexical.tables == fresh.lexical.tables and shrunk.lexical.lexicon == fresh.lexical.lexicon
    assert_same_ranking(shrunk, fresh, TINY_QUERIES)


def test_deleted_text_never_comes_back(tiny_corpus, hash_embedder, tmp_path):
    docs = _tiny_documents(tiny_corpus)
    index = Index.build(docs, model=hash_embedder)
    gone = next(d for d in docs if "信访" in d.text)
    index.delete(gone.id)
    reloaded = Index.load(index.save(tmp_path / "ix"), model=hash_embedder)
    for ix in (index, reloaded):
        for mode in ("hybrid", "dense", "lexical"):
            hits = ix.search("信访人不得捏造、歪曲事实", k=20, mode=mode)
            assert hits and all(h.doc_id != gone.id for h in hits)
    with pytest.raises(InputError, match="unknown document id"):
        index.search("x", doc_ids=[gone.id])


def test_upsert_replaces_by_id(tiny_corpus, hash_embedder):
    docs = _tiny_documents(tiny_corpus)
    old = next(d for d in docs if "18 community workers" in d.text)
    changed = Document(id=old.id, text="Cities now staff 20 community workers per 10,000 residents.",
                       title=old.title, language="en")
    index = Index.build(docs, model=hash_embedder).upsert([changed])
    fresh = Index.build([d for d in docs if d is not old] + [changed], model=hash_embedder)
    assert_same_ranking(index, fresh, TINY_QUERIES)
    assert any("20 community workers" in h.text for h in index.search("community workers", k=3))
    assert not any("18 community workers" in c.text for c in index.chunks)


def test_bad_changes_are_one_line_errors(tiny_corpus, hash_embedder):
    docs = _tiny_documents(tiny_corpus)
    index = Index.build(docs, model=hash_embedder)
    with pytest.raises(InputError, match="already in the index; use upsert"):
        index.add([docs[0]])
    with pytest.raises(InputError, match="unknown document id 'nope'"):
        index.delete(["nope"])
    with pytest.raises(InputError, match="empty index"):
        index.delete([d.id for d in docs])
    with pytest.raises(InputError, match="more than once"):
        index.add([Document(id="x", text="a"), Document(id="x", text="b")])
    assert len(index.documents) == 4  # nothing changed by the refused calls


def test_save_back_refuses_to_undo_another_writer(tiny_corpus, hash_embedder, tmp_path):
    docs = _tiny_documents(tiny_corpus)
    path = Index.build(docs[:2], model=hash_embedder).save(tmp_path / "ix")
    first = Index.load(path, model=hash_embedder)
    second = Index.load(path, model=hash_embedder)
    first.add(docs[2:3]).save()
    second.add(docs[3:])
    with pytest.raises(IndexWriteError, match="changed since this index was loaded"):
        second.save()
    assert set(Index.load(path).documents) == {d.id for d in docs[:3]}


def test_bundled_index_is_read_only(tmp_path):
    index = Index.load(bundled_index_dir())
    index._changed = True  # as after a change; the refusal must not depend on what changed
    with pytest.raises(IndexWriteError, match="bundled index is read-only"):
        index.save()


# ---------------------------------------------------------------------- the real corpus (hash embedder)
def test_real_corpus_add_and_delete_rank_like_builds(corpus_docs, full, tmp_path):
    questions = _questions()
    first, second = corpus_docs[::2], corpus_docs[1::2]  # interleaved ids: added rows go between the old ones
    a = Index.build(first, model=HashEmbedder())
    # through disk, as `swsearch add` works: the stored tokens and glossary carry the derived parts
    grown = Index.load(a.save(tmp_path / "a"), model=HashEmbedder()).add(second)
    grown = Index.load(grown.save(), model=HashEmbedder())
    assert [c.id for c in grown.chunks] == [c.id for c in full.chunks]
    assert np.array_equal(grown.sentences, full.sentences) and np.array_equal(grown.sentence_spans, full.sentence_spans)
    assert grown.lexical.tables == full.lexical.tables and grown.lexical.lexicon == full.lexical.lexicon
    assert_same_ranking(grown, full, questions)
    assert grown.search_batch(questions, 10) == full.search_batch(questions, 10)  # in fact bit-identical
    shrunk = Index.build(corpus_docs, model=HashEmbedder()).delete([d.id for d in second])
    assert shrunk.lexical.tables == a.lexical.tables
    assert_same_ranking(shrunk, a, questions)


def test_built_and_loaded_index_rank_identically(full, tmp_path):
    questions = _questions()
    loaded = Index.load(full.save(tmp_path / "ix"), model=HashEmbedder())
    for mode in ("hybrid", "lexical", "dense"):
        built_hits = full.search_batch(questions, 10, mode=mode)
        loaded_hits = loaded.search_batch(questions, 10, mode=mode)
        assert built_hits == loaded_hits  # ids, order and scores, exactly
    for q in questions:
        assert full.lexical.query_tokens(q) == loaded.lexical.query_tokens(q)


def test_document_order_does_not_change_the_ranking(corpus_docs, full):
    shuffled = list(corpus_docs)
    random.Random(7).shuffle(shuffled)
    other = Index.build(shuffled, model=HashEmbedder())
    assert_same_ranking(other, full, _questions())
    assert_same_ranking(other, full, _questions(), mode="lexical")


def test_ties_follow_chunk_ids_not_rows(tiny_corpus, hash_embedder):
    docs = _tiny_documents(tiny_corpus)
    a = Index.build(docs, model=hash_embedder)
    b = Index.build(list(reversed(docs)), model=hash_embedder)
    # a query no chunk matches lexically: every BM25 score is 0, a tie across all chunks
    for mode in ("lexical", "hybrid"):
        assert [h.chunk_id for h in a.search("zzzz qqqq", k=20, mode=mode)] == \
               [h.chunk_id for h in b.search("zzzz qqqq", k=20, mode=mode)]
    assert TINY_DOCS  # the fixture's corpus is what the test ranks


@pytest.mark.parametrize("remove_entry_point", [False, True])
def test_cutting_nodes_out_of_an_hnsw_graph_leaves_a_well_formed_graph(remove_entry_point):
    """Every kept list holds only kept nodes, packed before its -1s; the entry point is a kept node of the top
    level; the vectors are the kept ones in order; search finds what exact search finds."""
    import faiss

    from swsearch import vectors

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = vectors.build_index(x, "hnsw")
    entry = faiss.downcast_index(index).hnsw.entry_point
    dead = set(rng.choice(2000, 40, replace=False).tolist()) - {entry} | ({entry} if remove_entry_point else set())
    keep = np.array(sorted(set(range(2000)) - dead))
    vectors.keep_entries(index, keep)
    hnsw = faiss.downcast_index(index).hnsw
    m = len(keep)
    assert index.ntotal == m and np.array_equal(vectors.flat_view(index), x[keep])
    offsets = faiss.vector_to_array(hnsw.offsets).astype(np.int64)
    links = faiss.vector_to_array(hnsw.neighbors)
    levels = faiss.vector_to_array(hnsw.levels)
    cum = faiss.vector_to_array(hnsw.cum_nneighbor_per_level).astype(np.int64)
    assert len(offsets) == m + 1 and len(levels) == m and len(links) == offsets[-1]
    assert links.max() < m
    for node in range(m):
        for level in range(levels[node]):
            seg = links[offsets[node] + cum[level]:offsets[node] + cum[level + 1]]
            filled = seg >= 0
            assert not np.any(filled[1:] & ~filled[:-1])  # no link after a -1
    assert levels[hnsw.entry_point] - 1 == hnsw.max_level == levels.max() - 1
    q = rng.standard_normal((50, 16)).astype(np.float32)
    _, rows = index.search(q, 10)
    exact = np.argsort(-(q @ x[keep].T), axis=1)[:, :10]
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact)]) >= 0.9
