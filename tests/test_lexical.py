import io

import numpy as np
import pytest

from swsearch import Index, InputError, store
from swsearch.lexical import LexicalIndex, en_tokens, full_segmenter, tokenize, translate

TEXTS = ["Cities staff 18 community workers per 10,000 urban residents.",
         "各地按照每万城镇常住人口拥有社区工作者18人的标准配备。",
         "人民调解委员会调解民间纠纷，不收取任何费用。",
         "Volunteers register online and their service hours are recorded."]


@pytest.fixture(scope="module")
def lex():
    return LexicalIndex.build(TEXTS)


def test_english_tokens_are_stemmed_without_stop_words():
    assert en_tokens("How are the Workers volunteering per 10,000 residents?") == ["worker", "volunt", "10000", "resid"]


def test_mixed_text_is_split_by_script():
    toks = tokenize("社区工作者 community workers", full_segmenter())
    assert "社区" in toks and "工作者" in toks and "communiti" in toks and "worker" in toks


def test_translation_goes_both_ways_and_handles_10000(lex):
    own, tr = lex.query_tokens("community workers per 10,000 residents")
    assert "社区" in tr and "万" in tr
    own, tr = lex.query_tokens("调解不收费用")
    assert "调解" in own and "mediat" in tr
    assert translate(["nonexistentword"], lex.tables) == []


def test_scores_rank_the_right_text_and_ignore_unknown_tokens(lex):
    own, tr = lex.query_tokens("people's mediation fees")
    scores = lex.scores(own + tr)
    assert int(np.argmax(scores)) == 2
    assert not lex.scores(["zzzz-unknown"]).any()


def test_the_saved_lexicon_segments_corpus_text_as_the_full_dictionary_did(lex):
    loaded = LexicalIndex.from_files(lex.to_files())
    for text in TEXTS[1:3]:
        assert loaded.query_tokens(text) == lex.query_tokens(text)
    q = "社区工作者按每万城镇常住人口多少人配备"
    own, _ = loaded.query_tokens(q)
    assert {"社区", "工作者", "城镇", "常住人口", "配备"} <= set(own)
    np.testing.assert_allclose(loaded.scores(own), lex.scores(own))


def test_modes_and_levers(tiny_index, tiny_corpus, hash_embedder):
    assert tiny_index.default_mode == "hybrid" and set(tiny_index.centroids) == {"en", "zh"}
    lexical = tiny_index.search("捏造 事实", k=1, mode="lexical")
    assert lexical[0].doc_id == "petition"
    cross = tiny_index.search("fabricate facts falsely accuse", k=1, mode="lexical")
    assert cross[0].doc_id == "petition"  # only the dictionary translation can find it
    no_tr = tiny_index.search("fabricate facts falsely accuse", k=4, mode="lexical", translate=False)
    assert all(h.score == 0 for h in no_tr)
    for mode in ("hybrid", "dense", "lexical"):
        hits = tiny_index.search("volunteer hours", k=2, mode=mode, doc_ids=["volunteers", "mediation"])
        assert {h.doc_id for h in hits} <= {"volunteers", "mediation"} and len(hits) == 2
    with pytest.raises(InputError, match="unknown search mode"):
        tiny_index.search("x", mode="semantic")
    dense_only = Index.build(tiny_corpus, model=hash_embedder, lexical=False)
    assert dense_only.default_mode == "dense"
    with pytest.raises(InputError, match="no lexical part"):
        dense_only.search("x", mode="hybrid")


def test_queries_leave_no_files_behind(lex, tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    loaded = LexicalIndex.from_files(lex.to_files())
    loaded.query_tokens("社区工作者按每万城镇常住人口多少人配备")
    assert list(tmp_path.iterdir()) == []


def test_saved_files_are_the_same_in_every_process():
    """Token ids do not follow Python's per-process string hashing, so a rebuild gives identical files."""
    import os
    import subprocess
    import sys

    code = ("import hashlib, json\nfrom swsearch.lexical import LexicalIndex\n"
            f"files = LexicalIndex.build({TEXTS!r}).to_files()\n"
            "print(json.dumps({n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())}))")
    digests = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert digests[0] == digests[1] and "bm25.vocab.json" in digests[0]


def test_scores_do_not_depend_on_token_numbering(lex):
    import bm25s

    plain = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    plain.index([tokenize(t, full_segmenter()) for t in TEXTS], show_progress=False)
    for query in ("community workers", "调解 费用", "volunteer hours 社区"):
        own, tr = lex.query_tokens(query)
        known = [t for t in own + tr if t in plain.vocab_dict]
        np.testing.assert_allclose(lex.scores(own + tr), plain.get_scores(known), rtol=1e-6)


def test_queries_need_no_temp_dir_and_jieba_caches_under_swsearch_home(tiny_index, tmp_path, monkeypatch, home):
    """A full or missing TMPDIR does not break a query; jieba's marshal cache is never in the system temp."""
    import tempfile

    from swsearch import Index
    from swsearch.lexical import ChineseSegmenter

    saved = tiny_index.save(tmp_path / "ix")
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    for name in ("TemporaryDirectory", "mkdtemp", "mkstemp", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, full)  # as if the temp directory were full
    loaded = Index.load(saved, model=tiny_index.embedder)
    assert [h.chunk_id for h in loaded.search("信访人不得捏造事实", k=3)] == \
        [h.chunk_id for h in tiny_index.search("信访人不得捏造事实", k=3)]
    seg = ChineseSegmenter()
    seg.words("社区工作者")
    assert seg.tk.tmp_dir == str(home / "jieba") and list((home / "jieba").glob("jieba*.cache"))


@pytest.mark.parametrize("corpus", ["bundled", "random", "one", "large vocabulary"])
def test_the_numpy_bm25_build_writes_what_bm25s_writes(corpus):
    """lexical._bm25s_class builds the score matrix in numpy; the files must be bm25s's own, byte for byte."""
    import random

    import bm25s

    from swsearch import default_index
    from swsearch.lexical import _bm25s_class

    if corpus == "bundled":
        tokens = default_index().lexical.tokens
    elif corpus == "random":
        rng = random.Random(5)
        words = [f"w{i}" for i in range(300)]
        tokens = [[rng.choice(words[: rng.randint(1, 300)]) for _ in range(rng.randint(0, 60))] for _ in range(500)]
    elif corpus == "large vocabulary":  # more than 2**16 words: the radix order takes its second pass
        rng = random.Random(6)
        tokens = [[f"w{rng.randrange(70_000)}" for _ in range(rng.randint(0, 120))] for _ in range(2_000)]
        tokens[7] = [f"w{i}" for i in range(70_000)]  # every word occurs
    else:
        tokens = [["only", "one", "one", "chunk"]]
    vocab = {t: i for i, t in enumerate(sorted({t for toks in tokens for t in toks}))}
    ids = [[vocab[t] for t in toks] for toks in tokens]
    built = []
    for cls in (bm25s.BM25, _bm25s_class()):
        r = cls(k1=1.5, b=0.75, method="lucene")
        r.index(bm25s.tokenization.Tokenized(ids=ids, vocab=dict(vocab)), show_progress=False)  # it adds ""
        built.append(r)
    a, b = (r.scores for r in built)
    assert a["num_docs"] == b["num_docs"] and a["data"].size > 0
    for key in ("data", "indices", "indptr"):
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key
    assert built[0].vocab_dict == built[1].vocab_dict


@pytest.mark.parametrize("rows", ["interleaved", "shuffled", "no term frequencies", "wrong term frequencies"])
@pytest.mark.parametrize("stored", [True, False])
def test_a_change_on_the_stored_token_ids_gives_what_a_build_of_the_tokens_gives(stored, rows):
    """with_rows renumbers the stored token ids instead of building token lists; every array, the vocabulary,
    lexicon, tables, glossary and tokens must be what from_tokens makes of the same chunks."""
    from swsearch.lexical import _bm25s_class

    texts = [f"{t} {i}" for i in range(12) for t in TEXTS]
    lex = LexicalIndex.build(texts)
    if stored:  # as loaded from disk: only the encoded form
        files = lex.to_files()
        if rows == "no term frequencies":  # saved before they were kept: pairs sorted again
            del files[LexicalIndex.TERM_FREQUENCIES]
        if rows == "wrong term frequencies":  # a crafted file: they do not add up to the token counts (but no
            tf = np.load(io.BytesIO(files[LexicalIndex.TERM_FREQUENCIES]))  # more than a chunk's tokens: loads)
            files[LexicalIndex.TERM_FREQUENCIES] = store.npy_bytes(tf.astype(np.int64) + 1)
        lex = LexicalIndex.from_files(files)
        assert lex._tokens is None
    elif rows == "no term frequencies":
        lex.retriever.term_frequencies = None
    elif rows == "wrong term frequencies":
        lex.retriever.term_frequencies = lex.retriever.term_frequencies + 1
    keep = np.array([i for i in range(len(texts)) if i % 5 != 2])
    new = ["新的社区志愿者 registered hours", "", "调解 mediation 10,000 residents"]
    rng = np.random.default_rng(0)
    if rows == "shuffled":  # kept rows reordered too: the pairs are sorted again
        order = rng.permutation(len(keep) + len(new))
    else:  # what a change does: kept rows in their order, new ones among them (pairs updated in place)
        order = np.argsort(np.concatenate([np.arange(len(keep)) * 2.0, rng.random(len(new)) * 2 * len(keep)]),
                           kind="stable")
    taken = []
    original = lex._changed_pairs
    lex._changed_pairs = lambda *a: taken.append(original(*a) is not None) or original(*a)
    changed = lex.with_rows(keep, new, order)
    assert changed._tokens is None and changed._encoded is not None  # the numpy path ran
    assert taken == [rows in ("interleaved", "wrong term frequencies")]  # which way the pairs were made
    tokens = [[*lex.tokens[i]] for i in keep] + [tokenize(t, full_segmenter()) for t in new]
    tokens = [tokens[i] for i in order]
    fresh = LexicalIndex.from_tokens(tokens, dict(lex.glossary), {}, 1, k1=1.5, b=0.75)
    assert isinstance(fresh.retriever, _bm25s_class())
    for key in ("data", "indices", "indptr"):
        a, b = changed.retriever.scores[key], fresh.retriever.scores[key]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), key
    assert changed.retriever.scores["num_docs"] == fresh.retriever.scores["num_docs"]
    assert changed.retriever.vocab_dict == fresh.retriever.vocab_dict
    assert changed.tokens == tokens
    rebuilt = LexicalIndex.build([texts[i] for i in keep] + new)  # rows in another order: same statistics
    assert changed.glossary == rebuilt.glossary
    assert sorted(changed.retriever.scores["data"].tolist()) == sorted(rebuilt.retriever.scores["data"].tolist())
    assert changed.lexicon == rebuilt.lexicon and changed.tables == rebuilt.tables
    for query in ("community workers", "调解", "志愿者 hours"):
        own, tr = changed.query_tokens(query)
        assert np.array_equal(np.sort(changed.scores(own + tr)), np.sort(rebuilt.scores(own + tr)))


def test_translation_text_writes_each_word_once_chinese_together_english_apart():
    from swsearch.lexical import translation_text

    assert translation_text(["法律", "法院", "法律", "规定"]) == "法律法院规定"
    assert translation_text(["civil", "subject", "civil"]) == "civil subject"
    assert translation_text(["万", "law", "民法", "法律"]) == "万 law 民法法律"
    assert translation_text([]) == ""
