import json

import pytest

from swsearch import InputError, load_corpus
from swsearch.documents import as_documents, detect_language


def test_bundled_corpus_has_manifest_metadata():
    docs = load_corpus()
    assert len(docs) == 19
    by_id = {d.id: d for d in docs}
    art = by_id["00_social_work_system_and_mechanism_2024_en"]
    assert art.language == "en" and art.date == "2024-11-18" and art.source.startswith("http")
    zh = by_id["03_regulations_on_petition_work_2022_zh"]
    assert zh.language == "zh" and zh.title == "信访工作条例"
    assert by_id["90_constitution_prc_2018_en"].language == "en"


def test_language_detection():
    assert detect_language("社区工作者队伍建设 2024 Plan") == "zh"
    assert detect_language("Community workers are paid monthly.") == "en"


def test_folder_titles_from_heading_first_line_or_file_name(tiny_corpus):
    (tiny_corpus / "empty.txt").write_text("   \n", encoding="utf-8")
    docs = {d.id: d for d in load_corpus(tiny_corpus)}
    assert set(docs) == {"workers", "volunteers", "petition", "mediation"}
    assert docs["volunteers"].title == "Volunteer service"
    assert docs["workers"].title == "Community workers"
    assert docs["petition"].language == "zh" and docs["workers"].language == "en"


def test_jsonl_and_beir_loaders(tmp_path):
    plain = tmp_path / "docs.jsonl"
    plain.write_text(json.dumps({"id": "a", "title": "T", "text": "Hello there.", "date": "2024-01-01",
                                 "tags": ["x"]}) + "\n\n", encoding="utf-8")
    doc = load_corpus(plain)[0]
    assert (doc.id, doc.title, doc.text, doc.date, doc.metadata) == ("a", "T", "Hello there.", "2024-01-01",
                                                                      {"tags": ["x"]})
    beir = tmp_path / "corpus.jsonl"
    beir.write_text(json.dumps({"_id": "4983", "title": "Microstructural development", "text": "Alterations of "
                                "the architecture.", "metadata": {}}) + "\n", encoding="utf-8")
    doc = load_corpus(beir)[0]
    assert doc.id == "4983" and doc.title == "Microstructural development" and doc.language == "en"


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00bad", "is not UTF-8"),
])
def test_non_utf8_file_is_named(tmp_path, content, message):
    (tmp_path / "good.txt").write_text("fine text", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes(content)
    with pytest.raises(InputError, match=r"latin1\.txt is not UTF-8"):
        load_corpus(tmp_path)


def test_empty_inputs_are_refused(tmp_path):
    with pytest.raises(InputError, match="no readable text"):
        load_corpus(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_corpus(tmp_path / "missing")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match="bad.jsonl:1"):
        load_corpus(bad)
    with pytest.raises(InputError, match="empty"):
        as_documents([])
