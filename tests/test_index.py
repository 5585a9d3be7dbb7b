import os

import numpy as np
import pytest

from swsearch import Document, Index, InputError


def test_search_returns_typed_hits_with_exact_text(tiny_index, tiny_corpus):
    hits = tiny_index.search("community workers per 10,000 urban residents", k=2)
    assert [h.rank for h in hits] == [1, 2]
    top = hits[0]
    assert top.doc_id == "workers" and top.language == "en" and top.title == "Community workers"
    assert "18 community workers" in top.text
    assert len(tiny_index.documents["workers"]["sha256"]) == 64
    assert hits[0].score >= hits[1].score


def test_filters_are_exact_top_k_among_matching_chunks(tiny_index):
    zh = tiny_index.search("community workers", k=50, language="zh")
    assert zh and all(h.language == "zh" for h in zh)
    assert len(zh) == sum(1 for c in tiny_index.chunks if c.doc_id in ("petition", "mediation"))
    one = tiny_index.search("workers", k=1, doc_ids=["mediation"])
    assert len(one) == 1 and one[0].doc_id == "mediation"
    both = tiny_index.search("workers", k=10, doc_ids=["mediation", "volunteers"], language="en")
    assert both and {h.doc_id for h in both} == {"volunteers"}
    assert tiny_index.search("x", k=3, doc_ids=["petition"], language="en") == []


def test_search_batch_equals_single_searches(tiny_index):
    queries = ["volunteer hours", "信访 捏造 事实"]
    batch = tiny_index.search_batch(queries, k=3)
    assert batch == [tiny_index.search(q, k=3) for q in queries]


@pytest.mark.parametrize("kwargs, message", [
    ({"query": "   "}, "query is empty"),
    ({"query": "caf\udce9"}, "not valid UTF-8"),
    ({"query": "x", "k": 0}, "at least 1"),
    ({"query": "x", "language": "fr"}, "unknown language"),
    ({"query": "x", "doc_ids": ["nope"]}, "unknown document id"),
    ({"query": "x", "feedback": -1}, "feedback must be a whole number"),
    ({"query": "\x00\x00 "}, "query is empty"),
    ({"query": "community workers " * 300}, "5,400 characters long; a query may have up to 4,000"),
])
def test_bad_search_input_is_refused(tiny_index, kwargs, message):
    with pytest.raises(InputError, match=message):
        tiny_index.search(**kwargs)


def test_nul_bytes_never_reach_the_model(hash_embedder):
    """A model stops reading at a NUL byte: queries and embedded texts have them as spaces."""
    class Recording(type(hash_embedder)):
        seen: list[str] = []

        def encode_documents(self, texts, **kw):
            Recording.seen += list(texts)
            return super().encode_documents(texts, **kw)

        def encode_queries(self, texts, **kw):
            Recording.seen += list(texts)
            return super().encode_queries(texts, **kw)

    index = Index.build([Document(id="a", text="Volunteers\x00are insured. They register.")], model=Recording())
    assert index.chunks[0].text == "Volunteers\x00are insured. They register."  # offsets into the text as given
    index.search("insured\x00volunteers", k=1)
    assert Recording.seen and not any("\x00" in t for t in Recording.seen)
    assert "Volunteers are insured. They register." in Recording.seen and "insured volunteers" in Recording.seen


def test_build_from_documents_and_strings(hash_embedder):
    idx = Index.build([Document(id="a", text="Alpha paragraph.", title="A"), "第二个文档。"], model=hash_embedder)
    assert set(idx.documents) == {"a", "doc1"}
    assert idx.documents["doc1"]["language"] == "zh"
    with pytest.raises(InputError, match="unknown index type"):
        Index.build(["x"], model=hash_embedder, index_type="annoy")


def test_context_modes_change_what_is_embedded_not_the_chunks(tiny_corpus):
    from .conftest import HashEmbedder

    class Recording(HashEmbedder):
        def __init__(self):
            super().__init__()
            self.seen: list[str] = []

        def encode_documents(self, texts, **kw):
            self.seen += list(texts)
            return super().encode_documents(texts, **kw)

    plain_model, ctx_model = Recording(), Recording()
    plain = Index.build(tiny_corpus, model=plain_model, context="none", sentences=False)
    ctx = Index.build(tiny_corpus, model=ctx_model, context="title+heading", sentences=False)
    assert [c.text for c in plain.chunks] == [c.text for c in ctx.chunks]
    assert plain.config["chunking"]["context"] == "none" and ctx.config["chunking"]["context"] == "title+heading"
    assert plain_model.seen == [c.text for c in plain.chunks]  # none: the chunk alone
    for chunk, seen in zip(ctx.chunks, ctx_model.seen):  # title+heading: title › heading, newline, then the chunk
        title = ctx.documents[chunk.doc_id]["title"]
        assert seen.endswith("\n" + chunk.text) and seen.startswith(title) and title
        if chunk.heading:
            assert chunk.heading in seen
    assert not np.allclose(plain.chunk_vectors.matrix(), ctx.chunk_vectors.matrix())


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_other_faiss_index_types_search_and_round_trip(tmp_path, hash_embedder, index_type):
    docs = [Document(id=f"d{i}", text=f"document number {i} talks about topic {i % 7}.") for i in range(200)]
    idx = Index.build(docs, model=hash_embedder, index_type=index_type)
    assert idx.config["index_type"] == index_type
    hits = idx.search("topic 3", k=5)
    assert len(hits) == 5
    loaded = Index.load(idx.save(tmp_path / "ix"), model=hash_embedder)
    assert loaded.search("topic 3", k=5) == hits
    filtered = loaded.search("topic", k=3, doc_ids=["d5", "d6"])
    assert {h.doc_id for h in filtered} <= {"d5", "d6"} and filtered


def test_default_index_is_built_once_per_corpus_and_model_then_reused(hash_embedder, home):
    from swsearch import load_corpus
    from swsearch.index import _cache_index_dir, corpus_fingerprint, default_index
    path = _cache_index_dir(corpus_fingerprint(load_corpus()), hash_embedder.fingerprint())
    assert not path.exists()
    first = default_index(hash_embedder)  # not the shipped model: built and cached under SWSEARCH_HOME
    assert path.is_relative_to(home) and (path / "manifest.json").is_file()
    stamp = (path / "manifest.json").stat().st_mtime_ns
    second = default_index(hash_embedder)
    assert (path / "manifest.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert [c.id for c in second.chunks] == [c.id for c in first.chunks]


def test_segment_max_is_each_chunks_best_sentence():
    from swsearch.fusion import segment_max

    scores = np.array([[0.1, 0.5, 0.2, 0.9, 0.3, 0.0], [1.0, 0.0, 0.0, -1.0, -2.0, 0.5]])
    starts = np.array([0, 2, 3, 5])  # chunks of 2, 1, 2 and 1 sentences
    assert segment_max(scores, starts).tolist() == [[0.5, 0.2, 0.9, 0.0], [1.0, 0.0, -1.0, 0.5]]


def test_sentence_vectors_are_each_sentence_embedded(tiny_index, hash_embedder):
    from swsearch.split import sentence_spans

    spans = tiny_index.sentence_spans
    assert len(tiny_index.sentences) == len(spans) > len(tiny_index)
    texts = []
    for row, a, b in spans.tolist():
        c = tiny_index.chunks[row]
        assert (a - c.start, b - c.start) in sentence_spans(c.text) or (a, b) == (c.start, c.end)
        texts.append(c.text[a - c.start:b - c.start])
    # one-sentence chunks reuse their chunk vector: still the same as embedding the sentence itself; stored as
    # float16, rounded once from the embedder's float32
    assert tiny_index.sentences.dtype == np.float16
    assert np.array_equal(tiny_index.sentences, hash_embedder.encode_documents(texts).astype(np.float16))


def test_sentence_lever_switches_off_at_build_and_search(tiny_corpus, hash_embedder, tiny_index):
    plain = Index.build(tiny_corpus, model=hash_embedder, sentences=False)
    assert plain.sentences is None and plain.config["search"]["sentences"] is False
    assert tiny_index.config["search"]["sentences"] is True
    q = "volunteers personal information hours recorded"
    on, off = tiny_index.search(q, k=7), tiny_index.search(q, k=7, sentences=False)
    assert [h.chunk_id for h in off] == [h.chunk_id for h in plain.search(q, k=7)]
    from swsearch import fusion  # the sentence ranking takes part in the fusion, with its weight
    lists = tiny_index.component_scores([q])[0]
    assert "sentence" in lists
    for use, hits in ((True, on), (False, off)):
        part = {name: v for name, v in lists.items() if use or name != "sentence"}
        fused = fusion.fuse_rankings(part, None, "rrf", tiny_index.tie_order, languages=tiny_index.chunk_languages)
        assert np.allclose([h.score for h in hits], np.sort(fused)[::-1][:7])


def test_the_translated_ranking_weighs_more_when_the_sentence_ranking_agrees(tiny_index):
    from swsearch import fusion

    q = "volunteers personal information hours recorded"  # its translation's best chunk is the sentence ranking's
    (lists,) = tiny_index.component_scores([q])
    order, langs = tiny_index.tie_order, tiny_index.chunk_languages
    assert fusion.translation_agreed(lists, langs, order)
    agreed = {**fusion.HYBRID_WEIGHTS, "lexical_translated": fusion.AGREED_TRANSLATED_WEIGHT}
    for kw, weights in (({}, agreed), ({"agreement": False}, fusion.HYBRID_WEIGHTS)):
        hits = tiny_index.search(q, k=len(tiny_index), **kw)
        fused = fusion.fuse(lists, weights, "rrf", order)
        assert np.allclose([h.score for h in hits], np.sort(fused)[::-1])
    # explicit weights are taken as given, even the defaults
    same = tiny_index.search(q, k=5, weights=fusion.HYBRID_WEIGHTS)
    assert [h.score for h in same] == [h.score for h in tiny_index.search(q, k=5, agreement=False)]
    assert [h.score for h in same] != [h.score for h in tiny_index.search(q, k=5)]
    # the translated ranking's best chunk must be among the sentence ranking's AGREEMENT_TOP best in its language:
    # put that many others of that language above it and the two no longer agree; one fewer and they still do
    top = int(np.argmax(lists["lexical_translated"]))
    others = np.flatnonzero((langs == langs[top]) & (np.arange(len(langs)) != top))
    assert len(others) >= fusion.AGREEMENT_TOP
    for n, agreed in ((fusion.AGREEMENT_TOP, False), (fusion.AGREEMENT_TOP - 1, True)):
        moved = {**lists, "sentence": np.where(np.isin(np.arange(len(langs)), others[:n]), 10.0, lists["sentence"])}
        assert fusion.translation_agreed(moved, langs, order) is agreed
        assert fusion.translation_agreed(moved, langs, order, top=n + 1) is True
        assert fusion.translation_agreed(moved, langs, order, top=n) is False
    assert not fusion.translation_agreed({**lists, "lexical_translated": np.zeros(len(langs))}, langs, order)
    assert not fusion.translation_agreed({k: v for k, v in lists.items() if k != "sentence"}, langs, order)


def test_auto_fusion_is_convex_only_where_no_chunk_searched_is_in_the_query_s_language(tiny_index, tiny_corpus,
                                                                                       hash_embedder):
    from swsearch import Index, fusion
    from swsearch.documents import detect_language

    def scored(hits):
        return [(h.chunk_id, round(h.score, 9)) for h in hits]

    en, zh = "volunteers personal information hours recorded", "志愿者 个人 信息"
    n = len(tiny_index)
    # filtered to the other language: convex, the default weights (and never with explicit ones)
    for q, other in ((en, "zh"), (zh, "en")):
        auto = tiny_index.search(q, k=n, language=other)
        assert scored(auto) == scored(tiny_index.search(q, k=n, language=other, fusion="convex"))
        assert scored(auto) != scored(tiny_index.search(q, k=n, language=other, fusion="rrf"))
        assert scored(tiny_index.search(q, k=n, language=other, weights=fusion.HYBRID_WEIGHTS)) == scored(
            tiny_index.search(q, k=n, language=other, fusion="rrf", weights=fusion.HYBRID_WEIGHTS))
    # the query's own language among the chunks searched (no filter, or filtered to it): RRF, as before
    for q, own in ((en, "en"), (zh, "zh")):
        assert scored(tiny_index.search(q, k=n)) == scored(tiny_index.search(q, k=n, fusion="rrf"))
        assert scored(tiny_index.search(q, k=n, language=own)) == scored(
            tiny_index.search(q, k=n, language=own, fusion="rrf"))
    # a filter by document that keeps only the other language counts the same as a language filter
    zh_docs = sorted({h.doc_id for h in tiny_index.search(en, k=n, language="zh")})
    assert scored(tiny_index.search(en, k=n, doc_ids=zh_docs)) == scored(
        tiny_index.search(en, k=n, doc_ids=zh_docs, fusion="convex"))
    # a one-language index searched in the other language, with no filter at all
    for name in ("petition.txt", "mediation.txt"):
        (tiny_corpus / name).unlink()
    english = Index.build(tiny_corpus, model=hash_embedder)
    assert scored(english.search(zh, k=3)) == scored(english.search(zh, k=3, fusion="convex"))
    assert scored(english.search(en, k=3)) == scored(english.search(en, k=3, fusion="rrf"))
    # the rule itself
    assert fusion.fusion_method("auto", None, zh, frozenset({"en"})) == "convex"
    assert fusion.fusion_method("auto", None, zh, frozenset({"en", "zh"})) == "rrf"
    assert fusion.fusion_method("auto", {"dense": 1.0}, zh, frozenset({"en"})) == "rrf"
    french = "Les bénévoles et les heures de service sont enregistrés dans le système"
    assert detect_language(french) == "other"  # a language without translation: RRF
    assert fusion.fusion_method("auto", None, french, frozenset({"zh"})) == "rrf"
    assert fusion.fusion_method("auto", None, zh, frozenset()) == "rrf"
    assert fusion.fusion_method("rrf", None, zh, frozenset({"en"})) == "rrf"
    assert fusion.fusion_method("convex", None, en, frozenset({"en"})) == "convex"
    assert fusion.languages_present(np.array(["en", "zh", "en"])) == frozenset({"en", "zh"})


def test_a_search_where_no_chunk_is_in_the_query_s_language_also_ranks_by_the_translated_query(
        tiny_index, tiny_corpus, hash_embedder, monkeypatch):
    from swsearch import Index, fusion
    from swsearch.lexical import translation_text

    ix, n = tiny_index, len(tiny_index)
    en = "volunteers personal information hours recorded"
    translated = ix.lexical.query_tokens(en)[1]
    assert translated  # the dictionary has Chinese for these words
    embedded: list[list[str]] = []
    real = ix.embedder.encode_queries
    monkeypatch.setattr(ix.embedder, "encode_queries",
                        lambda texts, **kw: embedded.append(list(texts)) or real(texts, **kw))

    def scored(hits):
        return [(h.chunk_id, round(h.score, 9)) for h in hits]

    # filtered to the other language: the translation is embedded as a query and fused by convex combination
    hits = ix.search(en, k=n, language="zh")
    assert embedded == [[en], [translation_text(translated)]]  # the query, then its translation
    lists = ix.component_scores([en])[0]
    assert "dense_translated" not in lists  # the index holds English: an unfiltered search does not use it
    lists["dense_translated"] = ix.chunk_vectors.scores(real([translation_text(translated)]))[0]
    expected = fusion.convex(lists, fusion.CONVEX_WEIGHTS)
    zh_rows = np.flatnonzero(ix.chunk_languages == "zh")
    best = zh_rows[np.argsort(-expected[zh_rows], kind="stable")]
    assert [h.chunk_id for h in hits] == [ix.chunks[r].id for r in best]
    assert np.allclose([h.score for h in hits], expected[best], rtol=0, atol=1e-9)
    # it changes the ranking's scores, and weight 0 (or RRF, whose weight is 0) leaves it out
    without = ix.search(en, k=n, language="zh", fusion="convex",
                        weights={**fusion.CONVEX_WEIGHTS, "dense_translated": 0.0})
    assert scored(without) != scored(hits)
    embedded.clear()
    ix.search(en, k=n, language="zh", fusion="rrf")
    ix.search(en, k=n)  # the query's own language among the chunks: as before
    ix.search(en, k=n, language="en")
    ix.search(en, k=n, language="zh", translate=False)  # no dictionary translation, no translated query
    assert embedded == [[en]] * 4
    # a one-language index searched in the other language: the ranking is one of its components (a Chinese
    # index: its tables translate English words into its Chinese ones)
    for name in ("volunteers.md", "workers.txt"):
        (tiny_corpus / name).unlink()
    chinese = Index.build(tiny_corpus, model=hash_embedder)
    q = "mediators complaints petition"
    assert chinese.lexical.query_tokens(q)[1]
    one = chinese.component_scores([q])[0]
    assert "dense_translated" in one and "dense_translated" not in chinese.component_scores(["信访 调解"])[0]
    fused = fusion.convex(one, fusion.CONVEX_WEIGHTS)
    top = np.argsort(-fused, kind="stable")[:3]
    assert np.allclose([h.score for h in chinese.search(q, k=3)], fused[top], rtol=0, atol=1e-9)
    zh = "志愿者 个人 信息"
    # the rule
    assert fusion.translated_query_used("convex", None, zh, frozenset({"en"}))
    assert not fusion.translated_query_used("rrf", None, zh, frozenset({"en"}))
    assert not fusion.translated_query_used("convex", None, zh, frozenset({"en", "zh"}))
    assert not fusion.translated_query_used("convex", None, zh, frozenset())
    assert not fusion.translated_query_used("convex", {"dense": 1.0}, zh, frozenset({"en"}))
    assert fusion.translated_query_used("rrf", {"dense_translated": 1.0}, zh, frozenset({"en"}))
    assert fusion.may_translate_query("auto", None) and fusion.may_translate_query("convex", None)
    assert not fusion.may_translate_query("rrf", None) and fusion.may_translate_query("rrf", {"dense_translated": 2})


def test_an_unfiltered_search_reads_the_chunk_languages_once_per_index(tiny_index, monkeypatch):
    from swsearch import fusion

    seen = []
    real = fusion.languages_present
    monkeypatch.setattr(fusion, "languages_present", lambda langs: seen.append(len(langs)) or real(langs))
    for _ in range(3):  # auto fusion asks which languages a hit can be in: for every chunk, once
        tiny_index.search("volunteers personal information")
    assert seen == [len(tiny_index)]
    zh_docs = sorted({c.doc_id for c, lang in zip(tiny_index.chunks, tiny_index.chunk_languages) if lang == "zh"})
    by_docs = tiny_index.search("volunteers personal information", doc_ids=zh_docs)  # a filter: its own rows
    assert len(seen) == 2 and seen[1] == sum(tiny_index.chunk_languages == "zh") and by_docs
    zh = tiny_index.search("volunteers personal information", language="zh")  # the filter's language, no pass
    assert len(seen) == 2 and [h.doc_id for h in zh] == [h.doc_id for h in by_docs]


def test_the_translated_ranking_weighs_more_when_its_best_match_is_strong_on_its_own(tiny_index, monkeypatch):
    from swsearch import fusion

    q = "volunteers personal information hours recorded"
    (lists,) = tiny_index.component_scores([q])
    order, langs, n = tiny_index.tie_order, tiny_index.chunk_languages, len(tiny_index)
    best = float(np.max(lists["lexical_translated"]))
    assert best > 0
    # the threshold is evidence x ln(chunks), strictly above; both sides of it
    assert fusion.translation_evident(lists, n, best / np.log(n) * 0.99)
    assert not fusion.translation_evident(lists, n, best / np.log(n) * 1.01)
    assert not fusion.translation_evident({**lists, "lexical_translated": np.zeros(n)}, n, 0.0)
    assert not fusion.translation_evident({k: v for k, v in lists.items() if k != "lexical_translated"}, n, 0.0)
    # without the sentence ranking's agreement, evidence alone weighs the translated ranking up in search ...
    disagree = {**lists, "sentence": np.where(langs == langs[int(np.argmax(lists["lexical_translated"]))], -1.0, 1.0)}
    assert not fusion.translation_agreed(disagree, langs, order)
    agreed = {**fusion.HYBRID_WEIGHTS, "lexical_translated": fusion.AGREED_TRANSLATED_WEIGHT}
    for evidence, weights in ((best / np.log(n) * 0.99, agreed), (best / np.log(n) * 1.01, fusion.HYBRID_WEIGHTS)):
        monkeypatch.setattr(fusion, "TRANSLATED_EVIDENCE", evidence)
        got = fusion.fuse_rankings(disagree, None, "rrf", order, languages=langs)
        assert np.array_equal(got, fusion.fuse(disagree, weights, "rrf", order))
    # ... and through search itself, for a query whose two rankings do not agree; agreement=False turns it off
    q2 = "social work talent"
    (lists2,) = tiny_index.component_scores([q2])
    best2 = float(np.max(lists2["lexical_translated"]))
    assert best2 > 0 and not fusion.translation_agreed(lists2, langs, order)
    for evidence, kw, weights in ((best2 / np.log(n) * 0.99, {}, agreed),
                                  (best2 / np.log(n) * 1.01, {}, fusion.HYBRID_WEIGHTS),
                                  (best2 / np.log(n) * 0.99, {"agreement": False}, fusion.HYBRID_WEIGHTS)):
        monkeypatch.setattr(fusion, "TRANSLATED_EVIDENCE", evidence)
        hits = tiny_index.search(q2, k=n, **kw)
        assert np.allclose([h.score for h in hits], np.sort(fusion.fuse(lists2, weights, "rrf", order))[::-1])
    assert not np.allclose(fusion.fuse(lists2, agreed, "rrf", order), fusion.fuse(lists2, fusion.HYBRID_WEIGHTS,
                                                                                   "rrf", order))
    # a candidate pool's scores are a few rows: the threshold still counts the corpus's chunks, not the pool's
    top = int(np.argmax(lists["lexical_translated"]))
    pool = np.sort(np.concatenate([[top], np.flatnonzero((langs == langs[top]) & (np.arange(n) != top))[:3]]))
    part = {name: v[pool] for name, v in lists.items()}
    part["sentence"] = np.where(pool == top, -1.0, 1.0)  # the three others rank above it: no agreement
    monkeypatch.setattr(fusion, "TRANSLATED_EVIDENCE", float(np.max(part["lexical_translated"])) / np.log(n) * 1.01)
    assert fusion.translation_evident(part, len(pool)) and not fusion.translation_evident(part, n)
    local = np.arange(len(pool))
    assert len(pool) == 4 and not fusion.translation_agreed(part, langs[pool], local)
    small = fusion.fuse_rankings(part, None, "rrf", local, languages=langs[pool], corpus_size=n)
    assert np.array_equal(small, fusion.fuse(part, fusion.HYBRID_WEIGHTS, "rrf", local))
    wrong = fusion.fuse_rankings(part, None, "rrf", local, languages=langs[pool])  # len(order): the pool's size
    assert np.array_equal(wrong, fusion.fuse(part, agreed, "rrf", local))


def test_agreement_breaks_ties_in_tie_order():
    from swsearch import fusion

    langs = np.array(["en", "zh", "zh", "zh"])
    lists = {"lexical_translated": np.array([0.0, 2.0, 2.0, 1.0]), "sentence": np.array([0.9, 0.1, 0.5, 0.2])}
    assert fusion.translation_agreed(lists, langs, np.array([0, 2, 1, 3]), top=1)  # 2 comes first among the tied
    assert not fusion.translation_agreed(lists, langs, np.array([0, 1, 2, 3]), top=1)
    # tied sentence scores: chunk 1 ranks second of zh in one tie order and third in the other
    tied = {"lexical_translated": np.array([0.0, 2.0, 0.0, 0.0]), "sentence": np.array([0.9, 0.2, 0.2, 0.5])}
    assert fusion.translation_agreed(tied, langs, np.array([0, 1, 2, 3]), top=2)
    assert not fusion.translation_agreed(tied, langs, np.array([0, 2, 1, 3]), top=2)


def test_a_chunk_scores_by_its_best_sentence(hash_embedder):
    from swsearch.fusion import segment_max

    # the long paragraph has one sentence about the query among many others; the short one half-matches
    long = ("Mediators receive an allowance for lost working time. " + " ".join(
        f"Clause {w} covers unrelated topic {w} in detail." for w in ("alpha", "beta", "gamma", "delta", "epsilon")))
    docs = [Document(id="long", text=long, language="en"),
            Document(id="short", text="Mediators meet in the hall for working groups.", language="en")]
    index = Index.build(docs, model=hash_embedder, lexical=False)
    q = hash_embedder.encode_queries(["mediators allowance for lost working time"])
    by_chunk = (q @ index.chunk_vectors.matrix().T)[0]
    by_sentence = segment_max(q @ index.sentences.T, index.sentence_vectors.starts)[0]
    assert [index.chunks[int(np.argmax(s))].doc_id for s in (by_chunk, by_sentence)] == ["short", "long"]


def test_feedback_moves_the_query_towards_its_best_chunks(tiny_index):
    from swsearch import fusion
    from swsearch.options import SearchOptions

    q = "volunteers hours recorded"
    assert tiny_index.search(q, k=7, feedback=0) == tiny_index.search(q, k=7)
    base = tiny_index._fused_scores([q], SearchOptions(feedback=0).resolve("hybrid"), 32)[0][0][1]
    fed = tiny_index._fused_scores([q], SearchOptions(feedback=2).resolve("hybrid"), 32)[0][0][1]
    # by hand: the centred query plus the mean of its 2 best chunks, ranked against chunks and sentences
    per_chunk = np.stack([tiny_index.centroids[lang] for lang in tiny_index.chunk_languages])
    centred = fusion.centre(tiny_index.chunk_vectors.matrix(), per_chunk)  # centred copies, as the definition has them
    centred_sentences = fusion.centre(tiny_index.sentences, per_chunk[tiny_index.sentence_spans[:, 0]])
    qc = fusion.centre(tiny_index.embedder.encode_queries([q]), tiny_index.centroids["en"][None, :])[0]
    top = np.argsort(-base, kind="stable")[:2]
    q2 = fusion.centre(qc + centred[top].mean(axis=0), np.zeros_like(qc))
    lists = {"feedback": centred @ q2,
             "feedback_sentence": fusion.segment_max(centred_sentences @ q2, tiny_index.sentence_vectors.starts)}
    assert np.allclose(fed - base, fusion.rrf(lists, fusion.FEEDBACK_WEIGHTS), atol=1e-6)
    hits = tiny_index.search(q, k=7, feedback=2)
    assert [h.score for h in hits] == sorted(fed, reverse=True)


def test_fusion_helpers_by_hand():
    from swsearch import fusion

    a, b = np.array([3.0, 1.0, 2.0]), np.array([0.0, 10.0, 5.0])
    za = (a - 2.0) / np.sqrt(2 / 3)
    zb = (b - 5.0) / np.sqrt(50 / 3)
    assert np.allclose(fusion.standardize(a), za)
    assert np.array_equal(fusion.standardize(np.full(4, 7.0)), np.zeros(4))  # a flat ranking adds nothing
    assert np.allclose(fusion.convex({"a": a, "b": b}, {"a": 2.0, "b": 1.0}), 2 * za + zb)
    assert np.allclose(fusion.fuse({"a": a, "b": b}, {"a": 1.0}, "rrf"), 1 / (fusion.RRF_K + np.array([1, 3, 2])))
    with pytest.raises(ValueError, match="unknown fusion"):
        fusion.fuse({"a": a}, {"a": 1.0}, "max")
    with pytest.raises(ValueError, match="positive weight"):
        fusion.convex({"a": a}, {"a": 0.0})


def test_component_scores_reproduce_hybrid_search_for_both_fusions(tiny_index):
    from swsearch import fusion

    q = "volunteers hours recorded"
    (lists,) = tiny_index.component_scores([q])
    assert set(lists) <= set(fusion.HYBRID_WEIGHTS) and {"dense", "dense_centred", "sentence", "lexical"} <= set(lists)
    assert all(s.shape == (len(tiny_index),) for s in lists.values())
    for method, weights in (("rrf", fusion.HYBRID_WEIGHTS), ("convex", fusion.CONVEX_WEIGHTS)):
        fused = fusion.fuse(lists, weights, method)
        hits = tiny_index.search(q, k=len(tiny_index), fusion=method)
        assert [h.chunk_id for h in hits] == [tiny_index.chunks[i].id for i in np.argsort(-fused, kind="stable")]
        assert np.allclose([h.score for h in hits], np.sort(fused)[::-1])
    # weights override the defaults: BM25 alone ranks the matching chunks exactly as lexical mode does
    q2 = "volunteers register and protect personal information; pay and training"
    matching = int((tiny_index.component_scores([q2])[0]["lexical"] > 0).sum())
    assert matching >= 2
    only_bm25 = tiny_index.search(q2, k=matching, weights={"lexical": 1.0})
    lexical = tiny_index.search(q2, k=matching, mode="lexical")
    assert [h.chunk_id for h in only_bm25] == [h.chunk_id for h in lexical]


@pytest.mark.parametrize("kw, message", [
    ({"fusion": "max"}, "unknown fusion 'max'"),
    ({"weights": {"bm25": 1.0}}, "unknown ranking 'bm25'"),
    ({"weights": {"dense": -1}}, "from 0 to 1e6"),
    ({"weights": {"dense": float("nan")}}, "from 0 to 1e6"),
    ({"weights": [("dense", 1.0)]}, "must map ranking names"),
    ({"weights": {"dense": 0, "lexical": 0}}, "weight 0"),
    ({"weights": {}}, "weight 0"),
    ({"agreement": "yes"}, "agreement must be True or False"),
    ({"agreement": False, "mode": "dense"}, "does not apply to dense search"),
])
def test_bad_fusion_arguments_are_one_line_input_errors(tiny_index, kw, message):
    with pytest.raises(InputError, match=message) as err:
        tiny_index.search("volunteers", **kw)
    assert "\n" not in str(err.value)


def test_within_groups_by_hand():
    from swsearch import fusion

    s = np.array([0.9, 0.2, 0.5, 0.4, 0.1])
    groups = [np.array([0, 1, 4]), np.array([2, 3])]
    assert np.array_equal(fusion.within_groups(s, groups, "rrf"), [-1, -2, -1, -2, -3])
    z = fusion.within_groups(s, groups, "convex")
    assert np.allclose(z[[2, 3]], [1, -1]) and np.allclose(z[[0, 1, 4]], fusion.standardize(s[[0, 1, 4]]))


def test_language_pools_put_each_language_on_its_own_scale(tiny_index):
    q = "volunteers hours recorded"
    plain = tiny_index.search(q, k=2, weights={"dense": 1.0})
    pooled = tiny_index.search(q, k=2, weights={"dense": 1.0}, language_pools=True)
    assert plain[0].chunk_id == tiny_index.search(q, k=1, mode="dense", centroids=False)[0].chunk_id
    assert {h.language for h in pooled} == {"en", "zh"}  # each language's best chunk ranks first in its pool
    for method in ("rrf", "convex"):
        hits = tiny_index.search(q, k=3, fusion=method, language_pools=True)
        assert len(hits) == 3 and {h.language for h in hits[:2]} == {"en", "zh"}
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_bounds_on_build_and_search_inputs(tiny_corpus, hash_embedder, tiny_index, monkeypatch):
    from swsearch import Index, InputError
    from swsearch.embed.base import threads_for
    for bad in ({"max_tokens": 0}, {"paragraph_tokens": 0}, {"batch_size": -1}, {"paragraph_tokens": 1.5}):
        with pytest.raises(InputError, match="must be a whole number of at least 1"):
            Index.build(tiny_corpus, model=hash_embedder, **bad)
    assert tiny_index.search("volunteers", doc_ids=[]) == []  # no document allowed: no result, no error
    with pytest.raises(InputError, match="from 0 to 1e6"):
        tiny_index.search("volunteers", fusion="convex", weights={"dense": 1e308})
    assert [len(r) for r in tiny_index.search_batch((q for q in ["volunteers", "信访"]), k=2)] == [2, 2]
    monkeypatch.setenv("SWSEARCH_QUERY_THREADS", "100000")
    assert threads_for(1) == (os.cpu_count() or 1)
