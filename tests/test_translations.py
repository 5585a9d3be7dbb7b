import json

import pytest

from swsearch import IndexLoadError, translations
from swsearch.lexical import LexicalIndex, full_segmenter, tokenize, translation_tables

PAIRS = [(["合同", "当事人", "订立"], ["contract", "parti", "conclud"]),
         (["合同", "解除"], ["contract", "termin"]),
         (["合同", "当事人", "履行"], ["contract", "parti", "perform", "2024"]),
         (["侵权", "责任"], ["tort", "liabil"]),
         (["侵权", "责任", "当事人"], ["tort", "liabil", "parti"])]


def test_learn_keeps_words_that_occur_in_the_same_pairs():
    learned = translations.learn(PAIRS)
    assert learned["zh2en"]["合同"] == ["contract", "parti"]  # 3 pairs together of 3 and 3: Dice 1.0; 2 of 3 and 3
    assert learned["zh2en"]["侵权"][:2] == ["liabil", "tort"]  # both Dice 1.0: ties in sorted order
    assert learned["en2zh"]["parti"] == ["当事人", "合同"]  # Dice 1.0, then 2 of 3 and 3
    assert "解除" not in learned["zh2en"]  # one pair only: below min_pairs
    assert all("2024" not in stems for stems in learned["zh2en"].values())  # numbers are not translations
    assert "合同" not in translations.learn(PAIRS, min_pairs=4)["zh2en"]
    assert translations.learn(PAIRS, min_dice=0.7)["zh2en"]["合同"] == ["contract"]
    assert translations.learn(PAIRS, min_dice=1.01) == {"zh2en": {}, "en2zh": {}}
    assert translations.learn(PAIRS, top=1)["zh2en"]["侵权"] == ["liabil"]


def test_learned_entries_come_after_the_dictionary_s_and_only_for_the_corpus_words():
    gloss = {"合同": {"stems": [], "short": []}, "侵权": {"stems": ["infring"], "short": [[0, "infring"]]}}
    learned = {"zh2en": {"侵权": ["tort", "infring"], "合同": ["contract"], "婚姻": ["marriag"]},
               "en2zh": {"tort": ["侵权"], "contract": ["合同", "婚姻"], "marriag": ["婚姻"]}}
    tables = translation_tables({"合同": 3, "侵权": 2}, gloss, learned=learned)
    assert tables["zh2en"] == {"合同": ["contract"], "侵权": ["infring", "tort"]}
    assert tables["en2zh"] == {"infring": ["侵权"], "tort": ["侵权"], "contract": ["合同"]}
    without = translation_tables({"合同": 3, "侵权": 2}, gloss, learned={"zh2en": {}, "en2zh": {}})
    assert without == {"zh2en": {"侵权": ["infring"]}, "en2zh": {"infring": ["侵权"]}}


def test_the_shipped_entries_translate_a_query_both_ways():
    shipped = translations.shipped()
    assert translations.problem(shipped) is None and len(shipped["zh2en"]) > 100
    lex = LexicalIndex.build(["合同的当事人应当按照约定全面履行自己的义务。",
                              "The parties shall perform their obligations."])
    assert "contract" in lex.query_tokens("合同")[1]  # CC-CEDICT alone gives no English for 合同
    assert "合同" in lex.query_tokens("contract")[1]
    assert tokenize("合同", full_segmenter()) == ["合同"]


@pytest.mark.parametrize("content", ["not json", "[]", '{"zh2en": {}, "en2zh": {"x": "y"}}', '{"zh2en": {}}'])
def test_a_broken_shipped_file_is_one_line(tmp_path, monkeypatch, content):
    path = tmp_path / "translations.json"
    path.write_text(content, encoding="utf-8")
    monkeypatch.setattr(translations, "SHIPPED", path)
    translations.shipped.cache_clear()
    try:
        with pytest.raises(IndexLoadError, match="reinstall swsearch") as err:
            translations.shipped()
        assert "\n" not in str(err.value)
    finally:
        monkeypatch.undo()
        translations.shipped.cache_clear()


def test_save_writes_what_shipped_reads(tmp_path, monkeypatch):
    path = tmp_path / "t.json"
    monkeypatch.setattr(translations, "SHIPPED", path)
    try:
        translations.save(translations.learn(PAIRS), {"fitted_on": "five pairs"}, path)
        assert translations.shipped() == translations.learn(PAIRS)
        assert json.loads(path.read_text(encoding="utf-8"))["fitted_on"] == "five pairs"
    finally:
        monkeypatch.undo()
        translations.shipped.cache_clear()


def test_with_learned_remakes_the_tables_a_build_makes():
    lex = LexicalIndex.build(["合同的当事人应当全面履行义务。", "侵权责任", "The parties perform the contract."])
    assert lex.with_learned(translations.shipped()).tables == lex.tables
    plain = lex.with_learned({"zh2en": {}, "en2zh": {}})
    assert "contract" in lex.query_tokens("合同")[1] and "contract" not in plain.query_tokens("合同")[1]
    assert plain.scores(["contract"]).tolist() == lex.scores(["contract"]).tolist()  # BM25 shared
    with pytest.raises(ValueError, match="learned translations not a"):
        lex.with_learned({"zh2en": {}})


def test_an_index_s_own_translations_are_learned_saved_kept_and_dropped(tiny_corpus, tmp_path):
    from swsearch import Document, Index, InputError

    from .conftest import HashEmbedder, made_up_term_pairs

    index = Index.build(tiny_corpus, model=HashEmbedder())
    assert index.lexical.query_tokens("zorbl")[1] == [] and index.translations_record is None
    index.fit_translations(made_up_term_pairs())
    assert "误工" in index.lexical.query_tokens("zorbl")[1]
    assert "信访" in index.lexical.query_tokens("petition")[1]
    hit = index.search("zorbl", k=1, mode="lexical")[0]
    assert "误工" in hit.text
    record = index.translations_record
    assert record["pairs"] == 4 and record["chinese_words"] >= 2 and index.info()["translations"] == record
    path = index.save(tmp_path / "ix")
    loaded = Index.load(path, model=HashEmbedder())
    assert loaded.translations_record == record and loaded.lexical.tables == index.lexical.tables
    assert loaded.search("zorbl", k=3) == index.search("zorbl", k=3)
    loaded.add([Document(id="extra", text="调解员的误工补贴按日计算。", language="zh")]).save()
    again = Index.load(path, model=HashEmbedder())
    assert again.translations_record == record and "误工" in again.lexical.query_tokens("zorbl")[1]
    again.drop_translations().save()
    dropped = Index.load(path, model=HashEmbedder())
    assert dropped.translations_record is None and "translations" not in dropped.info()
    assert dropped.lexical.query_tokens("zorbl")[1] == []
    assert dropped.lexical.tables == Index.build(tiny_corpus, model=HashEmbedder()).add(
        [Document(id="extra", text="调解员的误工补贴按日计算。", language="zh")]).lexical.tables  # the shipped ones
    with pytest.raises(InputError, match="no learned translations of its own"):
        dropped.drop_translations()
    with pytest.raises(InputError, match="gave no translation"):
        dropped.fit_translations([{"zh": "误工", "en": "zorbl"}])  # one pair: below min_pairs
    with pytest.raises(InputError, match="fewer than two"):
        dropped.fit_translations([{"zh": "误工"}])
    with pytest.raises(InputError, match="min_dice must be"):
        dropped.fit_translations(made_up_term_pairs(), min_dice=0)
    dense_only = Index.build(tiny_corpus, model=HashEmbedder(), lexical=False)
    with pytest.raises(InputError, match="no lexical part"):
        dense_only.fit_translations(made_up_term_pairs())


def test_a_crafted_learned_translations_file_is_refused(tiny_corpus, tmp_path):
    import hashlib

    from swsearch import Index, store

    from .conftest import HashEmbedder, made_up_term_pairs

    path = Index.build(tiny_corpus, model=HashEmbedder()).fit_translations(made_up_term_pairs()).save(tmp_path / "ix")
    manifest = json.loads((path / "manifest.json").read_text())
    data = b'{"zh2en": {"x": "not a list"}, "en2zh": {}}'
    (store.data_dir(path) / "learned_translations.json").write_bytes(data)
    manifest["files"]["learned_translations.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="learned translations zh2en is not a map") as err:
        Index.load(path, model=HashEmbedder())
    assert "\n" not in str(err.value)
