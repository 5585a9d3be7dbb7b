"""Integration checks on the bundled corpus and the prebuilt default index that ships with the package."""

import numpy as np
import pytest

import swsearch
from swsearch.index import bundled_index_dir, corpus_fingerprint, embedding_input

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index():
    return swsearch.default_index()


def test_prebuilt_index_matches_the_corpus_and_the_installed_model(index):
    prebuilt = swsearch.Index.load(bundled_index_dir())
    assert prebuilt.config["corpus_fingerprint"] == corpus_fingerprint(swsearch.load_corpus())
    from swsearch.embed import get_embedder
    model = get_embedder(prebuilt.config["model"]["name"])
    assert prebuilt.config["model"]["fingerprint"] == model.fingerprint()
    # the default index is the prebuilt one, not a fresh build
    assert [c.id for c in index.chunks] == [c.id for c in prebuilt.chunks]


def test_prebuilt_vectors_are_what_the_model_gives_today(index):
    rows = np.linspace(0, len(index) - 1, 6).astype(int)
    stored = np.stack([index.faiss_index.reconstruct(int(r)) for r in rows])
    context = index.config["chunking"]["context"]
    inputs = [embedding_input(index.chunks[r], index.documents[index.chunks[r].doc_id]["title"], context)
              for r in rows]
    fresh = index.embedder.encode_documents(inputs)
    assert np.min(np.sum(stored * fresh, axis=1)) > 0.999


def test_every_chunk_has_exact_offsets_and_fits_the_model(index):
    docs = {d.id: d for d in swsearch.load_corpus()}
    context = index.config["chunking"]["context"]
    for c in index.chunks:
        assert docs[c.doc_id].text[c.start:c.end] == c.text
        text = embedding_input(c, docs[c.doc_id].title, context)
        assert index.embedder.count_tokens(text) <= index.embedder.max_tokens, c.id


def test_founding_year_of_the_association_is_rank_1(index):
    hit = index.search("When was the China Association of Social Workers founded?", k=1)[0]
    assert "1991" in hit.text and "China Association of Social Workers" in hit.text


def test_staffing_ratio_in_chinese_is_in_the_top_3(index):
    hits = index.search("社区工作者按每万城镇常住人口多少人配备", k=3)
    assert any("每万城镇常住人口拥有社区工作者18人" in h.text for h in hits)


def test_prebuilt_chunks_are_what_the_current_splitter_makes(index):
    from swsearch.index import _context_prefix
    from swsearch.split import split_text
    c = index.config["chunking"]
    docs = swsearch.load_corpus()
    expected = []
    for d in docs:
        expected += split_text(d.text, d.id, max_tokens=c["max_tokens"], paragraph_tokens=c["paragraph_tokens"],
                               count_tokens=index.embedder.count_tokens, context=_context_prefix(d.title, c["context"]))
    assert [(x.id, x.start, x.end, x.heading) for x in index.chunks] == \
        [(x.id, x.start, x.end, x.heading) for x in expected], "stale prebuilt index: run `make default-index`"
    from swsearch.split import sentence_units
    assert index.sentence_spans.tolist() == [list(u) for u in sentence_units(index.chunks)], \
        "stale prebuilt sentences: run `make default-index`"


def test_prebuilt_sentence_vectors_are_what_the_model_gives_today(index):
    rows = np.linspace(0, len(index.sentences) - 1, 6).astype(int)
    texts = []
    for r in rows:
        row, a, b = index.sentence_spans[r].tolist()
        c = index.chunks[row]
        texts.append(c.text[a - c.start:b - c.start])
    fresh = index.embedder.encode_documents(texts)
    assert np.min(np.sum(index.sentences[rows] * fresh, axis=1)) > 0.999


def test_hybrid_finds_chinese_answers_to_english_questions_that_plain_dense_misses(index):
    q = "petitioners must not fabricate facts or falsely accuse others"
    gold = "不得捏造、歪曲事实，不得诬告、陷害他人"
    assert any(gold in h.text for h in index.search(q, k=5))
    assert not any(gold in h.text for h in index.search(q, k=5, mode="dense", centroids=False))
