"""Metadata survives indexing and filters searches: equality, membership, ranges, dates compared as dates."""

from __future__ import annotations

import json

import pytest

import swsearch
from swsearch import Document, Index, InputError
from swsearch.filters import compile_where, parse_cli_filters

from .conftest import HashEmbedder
from .test_cli import run

DOCS = [
    Document(id="a", text="Community workers are paid the local average wage.", date="2019-05-01",
             metadata={"department": "civil affairs", "pages": 12, "final": True, "tags": ["pay", "workers"]}),
    Document(id="b", text="Volunteers register online and their hours are recorded.", date="2021-03-15",
             metadata={"department": "volunteers office", "pages": 3, "final": False, "tags": ["volunteers"]}),
    Document(id="c", text="志愿者参与危险活动前，应当为志愿者购买人身意外伤害保险。", language="zh", date="2024-01-20",
             metadata={"department": "civil affairs", "pages": 40}),
    Document(id="d", text="Training for community workers happens every three years."),  # no date, no metadata
]


def keep(where) -> list[str]:
    from swsearch.filters import document_fields
    from swsearch.index import _document_meta
    test = compile_where(where)
    return [d.id for d in DOCS if test(document_fields(_document_meta(d)))]


def test_conditions():
    assert keep({"department": "civil affairs"}) == ["a", "c"]
    assert keep({"department": ["volunteers office", "nobody"]}) == ["b"]
    assert keep({"department": {"!=": "civil affairs"}}) == ["b"]  # d has no department: never matches
    assert keep({"pages": {">": 10}}) == ["a", "c"]
    assert keep({"pages": {">=": "12", "<": 40}}) == ["a"]  # a string that reads as a number (CLI) compares as one
    assert keep({"final": True}) == ["a"] and keep({"final": "false"}) == ["b"]
    assert keep({"tags": "pay"}) == ["a"]  # a list field matches a value it holds
    assert keep({"language": "zh"}) == ["c"] and keep({"id": {"in": ["a", "d"]}}) == ["a", "d"]
    assert keep({"department": "civil affairs", "language": "en"}) == ["a"]  # every condition must hold


def test_dates_compare_as_dates_at_the_operands_precision():
    assert keep({"date": {">=": "2020-01-01"}}) == ["b", "c"]
    assert keep({"date": {">=": "2021"}}) == ["b", "c"] and keep({"date": {"<=": "2021"}}) == ["a", "b"]
    assert keep({"date": {">": "2021-03"}}) == ["c"] and keep({"date": "2021-03"}) == ["b"]
    assert keep({"date": {"<": "2019-5-2"}}) == ["a"]  # not string order: 2019-5-2 is a date after 2019-05-01


@pytest.mark.parametrize("where, message", [
    ({"date": {">=": "2020-13-01"}}, "not a date"),
    ({"date": "yesterday"}, "not a date"),
    ({"pages": {"~": 3}}, "unknown operator"),
    ({"pages": {"in": 3}}, "needs a list"),
    ({"pages": {}}, "no conditions"),
    ({"pages": {">": [1, 2]}}, "compares with"),
    ({"pages": {"==": {"x": 1}}}, "compares with"),
    ("department=civil affairs", "must be a mapping"),
])
def test_bad_filters_are_one_line_errors(where, message):
    with pytest.raises(InputError, match=message) as err:
        keep(where)
    assert "\n" not in str(err.value)


def test_cli_filters_parse():
    assert parse_cli_filters(["kind=official document"]) == {"kind": {"==": "official document"}}
    assert parse_cli_filters(["k=a", "k=b", "k=c"]) == {"k": {"in": ["a", "b", "c"]}}
    assert parse_cli_filters(["pages>=3", "pages<10"], since="2020", until="2021-06") == {
        "pages": {">=": "3", "<": "10"}, "date": {">=": "2020", "<=": "2021-06"}}
    for bad in (["novalue"], ["=x"], ["a>=1", "a>=2"]):
        with pytest.raises(InputError):
            parse_cli_filters(bad)
    with pytest.raises(InputError, match="not a date"):
        parse_cli_filters([], since="2020-02-30")


def test_metadata_survives_indexing_saving_and_adding(tmp_path):
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "p1", "title": "Pay", "text": "Community workers are paid the local average wage.",
         "department": "civil affairs", "year": 2019},
        {"id": "p2", "title": "Hours", "text": "Volunteers register online and their hours are recorded.",
         "department": "volunteers office", "year": 2021}]), encoding="utf-8")
    index = Index.build(jsonl, model=HashEmbedder())
    hit = index.search("community workers wage", k=1)[0]
    assert hit.metadata == {"department": "civil affairs", "year": 2019}
    loaded = Index.load(index.save(tmp_path / "ix"), model=HashEmbedder())
    assert [h.to_dict() for h in loaded.search("wage", k=2)] == [h.to_dict() for h in index.search("wage", k=2)]
    assert {h.doc_id for h in loaded.search("allowance wage hours", k=3, where={"year": {">": 2020}})} == {"p2"}
    grown = loaded.add([Document(id="p3", text="Mediators receive an allowance.", metadata={"year": 2024})])
    assert {h.doc_id for h in grown.search("allowance wage hours", k=3, where={"year": {">": 2020}})} == {"p2", "p3"}
    assert grown.search("allowance", k=1, doc_ids="p3")[0].metadata == {"year": 2024}
    with pytest.raises(InputError, match="not plain JSON"):
        Index.build([Document(id="x", text="Some text here.", metadata={"when": object()})], model=HashEmbedder())


def test_where_is_exact_and_combines_with_the_other_filters():
    index = Index.build(DOCS, model=HashEmbedder())
    hits = index.search("community workers", k=10, where={"department": "civil affairs"})
    assert {h.doc_id for h in hits} == {"a", "c"}  # every matching chunk, never fewer, nothing else
    assert len(hits) == sum(c.doc_id in ("a", "c") for c in index.chunks)
    assert [h.doc_id for h in index.search("workers", k=10, where={"department": "civil affairs"},
                                           language="zh")] == ["c"]
    assert [h.doc_id for h in index.search("workers", k=10, where={"department": "civil affairs"},
                                           doc_ids=["a", "b"])] == ["a"]
    assert index.search("workers", k=10, where={"department": "nobody"}) == []
    for mode in ("dense", "lexical"):
        assert {h.doc_id for h in index.search("workers", k=10, mode=mode, where={"date": {"<": "2020"}})} == {"a"}
    with pytest.raises(InputError, match="unknown document id"):
        index.search("workers", where={"pages": 3}, doc_ids=["zzz"])


def test_the_bundled_corpus_can_be_filtered_on_its_metadata():
    index = swsearch.default_index()
    hits = index.search("volunteer service", k=20, where={"kind": "official document", "date": {">=": "2020"}})
    assert hits and all(h.metadata["kind"] == "official document" and h.metadata["date"] >= "2020" for h in hits)
    issuers = {h.metadata.get("issuer") for h in index.search("constitution", k=5, where={"language": "en"})}
    assert issuers and None not in issuers


def test_cli_where_since_until():
    proc = run("query", "volunteer service", "-k", "5", "--where", "kind=official document", "--since", "2020",
               "--until", "2022-12-31", "--json", check_rc=0)
    results = json.loads(proc.stdout)["results"]
    assert results and all("2020" <= r["metadata"]["date"] <= "2022-12-31" for r in results)
    bad = run("query", "volunteer", "--since", "2020-02-30", check_rc=2)
    assert bad.stderr.strip().count("\n") == 0 and "not a date" in bad.stderr
