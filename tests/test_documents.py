import json
import os

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
    (b"caf\xe9 cr\xe8me br\xfbl\xe9e", r"latin1\.txt is not UTF-8"),
    (b"\xff\xfea\x00b", r"latin1\.txt is not UTF-16"),  # a UTF-16 byte order mark, then an odd byte count
])
def test_non_utf8_file_is_named(tmp_path, content, message):
    (tmp_path / "good.txt").write_text("fine text", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_corpus(tmp_path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_utf16_with_or_without_bom_is_read_as_text(tmp_path, encoding):
    text = "Volunteers are insured. 志愿者应当购买保险。"
    (tmp_path / "a.txt").write_bytes(text.encode(encoding))
    assert load_corpus(tmp_path)[0].text == text


def test_nul_bytes_are_dropped_and_lone_surrogates_refused(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"Volunteers\x00 are insured.\x00")
    assert load_corpus(tmp_path)[0].text == "Volunteers are insured."
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"id": "x\\ud800", "text": "fine"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"document 'x\\ud800': its id is not valid Unicode"):
        load_corpus(jsonl)
    jsonl.write_text('{"id": "x", "text": "bad \\udfff here"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="its text is not valid Unicode"):
        load_corpus(jsonl)


def test_manifest_files_stay_inside_the_corpus_folder(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the corpus", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "link.txt").symlink_to(outside)
    for name, message in (("/etc/passwd", "must be a relative path"), ("../secret.txt", "must be a relative path"),
                          ("link.txt", "leads outside")):
        (corpus / "manifest.json").write_text(json.dumps({"documents": [{"id": "a", "file": name}]}))
        with pytest.raises(InputError, match=message):
            load_corpus(corpus)
    os.mkfifo(corpus / "fifo.txt")
    (corpus / "manifest.json").write_text(json.dumps({"documents": [{"id": "a", "file": "fifo.txt"}]}))
    with pytest.raises(InputError, match="not a regular file"):  # refused at once, not read forever
        load_corpus(corpus)


def test_a_folder_skips_symlinks_that_lead_out_and_says_so(tmp_path, caplog):
    (tmp_path / "secret.txt").write_text("not part of the corpus", encoding="utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "real.txt").write_text("Volunteers are insured.", encoding="utf-8")
    (corpus / "out.txt").symlink_to(tmp_path / "secret.txt")
    (corpus / "in.txt").symlink_to(corpus / "sub" / "real.txt")  # inside: followed
    with caplog.at_level("WARNING", logger="swsearch"):
        docs = load_corpus(corpus)
    assert sorted(d.id for d in docs) == ["in", "sub/real"]
    assert [r.getMessage() for r in caplog.records if "symlink leads outside" in r.getMessage()] == [
        f"warning: skipped 1 file whose symlink leads outside {corpus}: out.txt"]


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


@pytest.mark.parametrize("text, language", [
    ("Community workers are paid the local average wage.", "en"),
    ("Community Workers Regulations Pay Scale Training Plan Annual Report", "en"),  # no function words: English
    ("社区工作者按每万城镇常住人口配备。", "zh"),
    ("Les travailleurs sociaux sont payés selon le salaire moyen de la ville et des régions.", "other"),
    ("Die Sozialarbeiter werden nach dem Durchschnittslohn bezahlt und das ist gut.", "other"),
    ("사회복지사는 지역 평균 임금을 받는다", "other"),
    ("社会福祉士は地域の平均賃金を受け取ります。", "other"),
    ("Социальные работники получают среднюю зарплату", "other"),
])
def test_languages_are_detected_from_scripts_and_function_words(text, language):
    assert detect_language(text) == language


def test_a_text_in_another_language_is_labelled_other_with_one_warning(caplog):
    from swsearch import Document, Index

    from .conftest import HashEmbedder

    docs = [*as_documents(["Les bénévoles sont assurés contre les accidents et la responsabilité civile "
                           "pendant le service."]),
            Document(id="en", text="Volunteers are insured against accidents during their service.")]
    with caplog.at_level("WARNING", logger="swsearch"):
        index = Index.build(docs, model=HashEmbedder())
    lines = [r.getMessage() for r in caplog.records if r.name == "swsearch"]
    assert len(lines) == 1 and "labelled 'other' (" in lines[0] and "\n" not in lines[0]
    other = next(d for d in index.documents.values() if d["id"] != "en")
    assert other["language"] == "other"
    assert [h.doc_id for h in index.search("bénévoles assurés", k=5, language="other")] == [other["id"]]


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path):
    name = os.fsdecode(b"caf\xe9.txt")  # a Latin-1 file name on a UTF-8 system
    (tmp_path / name).write_text("Volunteers are insured.", encoding="utf-8")
    with pytest.raises(InputError, match=r"document 'caf\\udce9': its id is not valid Unicode"):
        load_corpus(tmp_path)
