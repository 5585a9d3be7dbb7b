"""The index's seam: search options checked once, ranking signals declared once, parts behind one interface."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from swsearch import Index, InputError, SearchOptions, fusion, signals
from swsearch.parts import ChunkVectors, SentenceVectors
from tests.conftest import HashEmbedder

Q = "volunteers hours recorded"


@pytest.mark.parametrize("kw, message", [
    ({"mode": "dense", "feedback": 2}, "feedback=2 does not apply to dense search"),
    ({"mode": "dense", "fusion": "convex"}, "fusion='convex' does not apply to dense search"),
    ({"mode": "dense", "sentences": False}, "sentences=False does not apply to dense search"),
    ({"mode": "lexical", "centroids": False}, "centroids=False does not apply to lexical search"),
    ({"mode": "lexical", "weights": {"lexical": 1}}, "does not apply to lexical search"),
    ({"mode": "dense", "translate": False}, "translate=False does not apply to dense search"),
    ({"mode": "fuzzy"}, "unknown search mode 'fuzzy'"),
    ({"feedback": -1}, "feedback must be a whole number"),
    ({"centroids": "yes"}, "centroids must be True or False"),
])
def test_an_option_that_does_not_apply_is_a_one_line_error(tiny_index, kw, message):
    with pytest.raises(InputError, match=message) as err:
        tiny_index.search(Q, **kw)
    assert "\n" not in str(err.value)


def test_options_object_and_keywords_search_alike(tiny_index):
    for kw in ({}, {"mode": "dense"}, {"mode": "lexical", "translate": False}, {"feedback": 2, "fusion": "convex"},
               {"centroids": False, "sentences": False}, {"language_pools": True}):
        assert tiny_index.search(Q, k=5, options=SearchOptions(**kw)) == tiny_index.search(Q, k=5, **kw)
    with pytest.raises(InputError, match="not both"):
        tiny_index.search(Q, options=SearchOptions(mode="dense"), mode="dense")
    with pytest.raises(InputError, match="SearchOptions"):
        tiny_index.search(Q, options={"mode": "dense"})


def test_resolve_fills_the_mode_s_defaults():
    opts = SearchOptions(fusion="convex").resolve("hybrid")
    assert (opts.mode, opts.centroids, opts.translate, opts.sentences, opts.feedback, opts.fusion,
            opts.language_pools) == ("hybrid", True, True, True, 0, "convex", False)
    assert SearchOptions().resolve("dense").mode == "dense"
    assert SearchOptions(mode="dense").given() == {"mode": "dense"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.mode = "dense"  # type: ignore[misc]


def test_weight_tables_and_checks_derive_from_the_signal_list():
    assert tuple(fusion.HYBRID_WEIGHTS) == signals.names() == tuple(fusion.CONVEX_WEIGHTS)
    assert fusion.HYBRID_WEIGHTS == {s.name: s.rrf_weight for s in signals.SIGNALS}
    assert all(set(s.needs) <= set(signals.NEEDS) for s in signals.SIGNALS)
    with pytest.raises(InputError, match="use dense, dense_centred, sentence, lexical, lexical_translated"):
        SearchOptions(weights={"bm25": 1.0})


def test_a_new_signal_is_one_declaration(tiny_index, monkeypatch):
    """A signal added to the list is computed, fused with its default weight and accepted in ``weights``."""
    lengths = np.array([len(c.text) for c in tiny_index.chunks], dtype=np.float64)

    def shortest(index, batch):
        return [-lengths for _ in batch.queries]

    extra = signals.Signal("short", 1.0, 1.0, ("vectors",), shortest, doc="shorter chunks first")
    monkeypatch.setattr(signals, "SIGNALS", (*signals.SIGNALS, extra))
    (lists,) = tiny_index.component_scores([Q])
    assert np.array_equal(lists["short"], -lengths)
    hits = tiny_index.search(Q, k=len(tiny_index), weights={"short": 1.0})  # this signal alone
    assert [h.chunk_id for h in hits] == [tiny_index.chunks[i].id for i in tiny_index.tie_order[
        np.argsort(lengths[tiny_index.tie_order], kind="stable")]]
    with_it = tiny_index.search(Q, k=3)
    monkeypatch.setattr(signals, "SIGNALS", signals.SIGNALS[:-1])
    assert [h.score for h in with_it] != [h.score for h in tiny_index.search(Q, k=3)]


def test_folding_dense_centred_into_dense_matches_search_without_centroids(tiny_index):
    (lists,) = tiny_index.component_scores([Q], centroids=False)
    assert "dense_centred" not in lists
    fused = fusion.fuse(lists, fusion.HYBRID_WEIGHTS, "rrf", tiny_index.tie_order)
    hits = tiny_index.search(Q, k=5, centroids=False)
    assert np.allclose([h.score for h in hits], np.sort(fused)[::-1][:5])


def test_parts_follow_a_change_as_a_build_would():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 8)).astype(np.float32)
    part = ChunkVectors.build(m, "flat")
    keep, new, order = np.array([0, 2, 3, 5]), m[[1]] * 2, np.array([4, 0, 1, 2, 3])
    changed = part.changed(keep, new, order)
    assert np.array_equal(changed.matrix(), np.concatenate([m[keep], new])[order])
    assert part.problems(6, 8) == [] and changed.problems(6, 8) == ["5 vectors for 6 chunks"]
    spans = np.array([[0, 0, 2], [0, 2, 4], [1, 0, 3], [2, 0, 1], [2, 1, 5]])
    sv = SentenceVectors(rng.standard_normal((5, 8)).astype(np.float16), spans, 3)
    assert sv.of_chunk(0) == slice(0, 2) and sv.of_chunk(2) == slice(3, 5)
    scores = np.arange(5.0)[None, :]
    assert np.array_equal(sv.best_per_chunk(scores), [[1.0, 2.0, 4.0]])
    moved = sv.changed(np.array([0, 2]), None, np.array([1, 0]))  # drop chunk 1, then swap the other two
    assert np.array_equal(moved.spans, [[0, 0, 1], [0, 1, 5], [1, 0, 2], [1, 2, 4]])
    assert np.array_equal(moved.matrix, sv.matrix[[3, 4, 0, 1]])
    # vectors of an index saved in float32 (before float16 storage) are rounded by a change, as a build rounds
    legacy = SentenceVectors(rng.standard_normal((5, 8)).astype(np.float32), spans, 3)
    assert legacy.matrix.dtype == np.float32
    assert np.array_equal(legacy.changed(np.array([0, 2]), None, np.array([1, 0])).matrix,
                          legacy.matrix[[3, 4, 0, 1]].astype(np.float16))
    assert moved.problems(2, 8) == [] and moved.problems(3, 8) == ["sentence vectors that do not match the chunks"]


def test_sentence_scores_alike_from_a_kept_float32_copy_or_block_by_block(monkeypatch):
    from swsearch import parts

    rng = np.random.default_rng(1)
    n = 20_000  # three of ``blocks_of``'s 8,192-row blocks
    spans = np.stack([np.arange(n) // 2, np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)], axis=1)
    matrix = rng.standard_normal((n, 8)).astype(np.float16)
    queries = rng.standard_normal((2, 8)).astype(np.float32)
    kept = SentenceVectors(matrix, spans, n // 2)
    whole = kept.scores(queries)
    assert kept._upcast is not None and np.allclose(whole, queries @ matrix.astype(np.float32).T, atol=1e-5)
    monkeypatch.setattr(parts, "UPCAST_KEPT_BYTES", 4 * 8 * 1_000)
    blocked = SentenceVectors(matrix, spans, n // 2)
    assert np.allclose(blocked.scores(queries), whole, atol=1e-6) and blocked._upcast is None
    assert np.array_equal(blocked.best_per_chunk(blocked.scores(queries)).argmax(axis=1),
                          kept.best_per_chunk(whole).argmax(axis=1))


def test_held_sentences_score_as_gathered_ones(tiny_index):
    sv = tiny_index.sentence_vectors
    held, plain = (SentenceVectors(sv.matrix, sv.spans, len(tiny_index)) for _ in range(2))
    held.hold(np.array([0, 2, 3, 5]))
    rows = np.array([len(sv) - 1, 0, 1, 2, 3, 4, 5])  # held and not, in no order
    q = tiny_index.embedder.encode_queries(["community workers"])[0]
    cq = tiny_index.centring.centre_queries(q[None, :], ["en"])[0]
    for centring, query in ((None, q), (tiny_index.centring, cq)):
        for _ in range(2):  # the second time from the held norms
            assert np.allclose(held.row_scores(query, rows, centring), plain.row_scores(query, rows, centring),
                               atol=1e-6)
    assert held._held_centred is not None and held._held_centred[0] is tiny_index.centring


def test_a_saved_index_is_its_parts_files(tmp_path, tiny_corpus):
    index = Index.build(tiny_corpus, model=HashEmbedder(), index_type="hnsw")
    files = {**index.chunk_vectors.to_files(), **index.sentence_vectors.to_files(), **index.lexical.to_files()}
    path = index.save(tmp_path / "ix")
    loaded = Index.load(path, model=HashEmbedder())
    assert set(files) <= {p.name for p in (path / loaded._source[1]).iterdir()}
    assert np.array_equal(loaded.chunk_vectors.matrix(), index.chunk_vectors.matrix())
    assert loaded.search(Q, k=5) == index.search(Q, k=5)
