"""The chunk and document tables: what goes in comes back, in every order a change makes, and crafted columns
are caught."""

from __future__ import annotations

import numpy as np
import pytest

from swsearch.documents import LANGUAGES
from swsearch.index import _fingerprint_of, tie_key_of
from swsearch.split import Chunk
from swsearch.tables import ChunkTable, DocumentTable


def _documents(chars: dict[str, int | None], language: str = "zh") -> DocumentTable:
    """A document table of these ids with these lengths (None: not recorded)."""
    return DocumentTable.from_dicts({"id": d, "title": "", "language": language, "sha256": "00" * 32,
                                     **({} if n is None else {"chars": n})} for d, n in chars.items())


def _chunks(odd: bool) -> list[Chunk]:
    text = "社会工作 mixed with English, é and 𝔘 (four bytes)"
    out = []
    for doc in ("b#2", "a", "中文文件"):
        for n in (0, 1, 10, 2):
            out.append(Chunk(id=f"{doc}#{n}", doc_id=doc, text=f"{n} {text}", start=100 * n,
                             end=100 * n + len(f"{n} {text}"), heading="" if n else f"{doc} › part"))
    if odd:  # ids that are not <document id>#<number>: kept as given
        out += [Chunk(id="a#07", doc_id="a", text="x", start=0, end=1), Chunk(id="free", doc_id="a", text="y", start=1,
                                                                             end=2)]
    return out


@pytest.mark.parametrize("odd", [False, True])
def test_columns_round_trip_through_their_files(odd):
    chunks = _chunks(odd)
    table = ChunkTable.from_chunks(chunks)
    assert list(table) == chunks and table == chunks and len(table) == len(chunks)
    assert table[-1] == chunks[-1] and table[2:5] == chunks[2:5]
    loaded = ChunkTable.from_files(table.to_files())
    assert loaded == chunks
    assert loaded.problems(_documents({d: 10_000 for d in ("a", "b#2", "中文文件")})) == []
    assert (table._ids is not None) == odd  # ids are stored only when one cannot be derived


@pytest.mark.parametrize("odd", [False, True])
def test_take_concat_and_tie_order_match_the_same_lists(odd):
    chunks = _chunks(odd)
    table = ChunkTable.from_chunks(chunks)
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(chunks))[: len(chunks) - 3]
    assert table.take(rows) == [chunks[r] for r in rows]
    extra = [Chunk(id="z#0", doc_id="z", text="new", start=0, end=3, heading="h"), chunks[0]]
    joined = table.take(rows).concat(ChunkTable.from_chunks(extra))
    expected = [chunks[r] for r in rows] + extra
    assert joined == expected
    again = joined.take(np.arange(len(expected))[::-1])  # saved as a build of the same chunks would save it
    assert again.to_files() == ChunkTable.from_chunks(expected[::-1]).to_files()
    keys = [tie_key_of(c.id, c.doc_id) for c in expected]
    assert joined.tie_order().tolist() == sorted(range(len(keys)), key=keys.__getitem__)
    assert joined.ids == [c.id for c in expected] and joined.doc_ids == [c.doc_id for c in expected]
    by_doc = joined.rows_by_document()
    assert {d: [expected[r].doc_id for r in rs] for d, rs in by_doc.items()} == {
        d: [d] * sum(c.doc_id == d for c in expected) for d in by_doc}


def test_offsets_that_do_not_fit_the_text_are_named():
    table = ChunkTable.from_chunks(_chunks(False))
    docs = {d: None for d in table.docs}
    spans = table.spans.copy()
    spans[3, 1] += 1  # one character longer than its text
    bad = ChunkTable(table.docs, table.doc, table.number, spans, table.headings, table.heading,
                     table.to_files()["chunks.text.bin"], table.offsets)
    assert bad.problems(_documents(docs)) == ["a chunk whose offsets do not fit its text"]
    assert bad.problems(_documents({**docs, "a": 5}))[-1] == "a chunk ends after its document"
    assert table.problems(_documents({"a": None})) == ["chunks of documents the manifest does not list"]


def _entries() -> list[dict]:
    out = []
    for i, (doc_id, lang) in enumerate((("z", "en"), ("a", "zh"), ("m#1", "other"), ("中文", "zh"))):
        entry = {"id": doc_id, "title": f"title {i}", "language": lang, "date": f"2024-01-0{i}" if i else None,
                 "source": None if i % 2 else f"https://example.org/{i}", "sha256": f"{i:02x}" * 32, "chars": 10 * i}
        if i % 2:
            entry["metadata"] = {"kind": ["law", i], "note": None}
        out.append(entry)
    return out


def test_documents_round_trip_as_the_entries_they_were():
    entries = _entries()
    table = DocumentTable.from_dicts(entries)
    assert list(table) == sorted(d["id"] for d in entries) and len(table) == 4 and "a" in table and "b" not in table
    assert dict(table) == {d["id"]: d for d in entries}
    loaded = DocumentTable.from_files(table.to_files())
    assert loaded.entries() == sorted(entries, key=lambda d: d["id"]) and loaded.problems(LANGUAGES) == []
    assert loaded.fingerprint() == _fingerprint_of(entries)  # what a build of the same documents records
    assert loaded.language_of(["中文", "z"]).tolist() == ["zh", "en"] and loaded.chars_of(["m#1"]).tolist() == [20]


def test_a_document_change_gives_the_table_of_the_resulting_entries():
    entries = _entries()
    table = DocumentTable.from_dicts(entries)
    new = [{**entries[0], "title": "replaced"}, {"id": "b", "title": "", "language": "en", "date": None,
                                                 "source": None, "sha256": "ff" * 32, "chars": 3}]
    changed = table.changed({"a"}, new)
    expected = [new[0], new[1], *(d for d in entries[2:])]
    assert changed.entries() == sorted(expected, key=lambda d: d["id"])
    assert changed.fingerprint() == _fingerprint_of(expected)
    assert table.changed({"z", "a"}, []).entries() == sorted(entries[2:], key=lambda d: d["id"])
    only_zh = table.changed({"z", "m#1"}, [])  # saved as a build of the same documents would save it
    assert only_zh.to_files() == DocumentTable.from_dicts([entries[1], entries[3]]).to_files()


def test_a_byte_that_is_not_utf8_shows_as_a_replacement_character():
    """Texts are decoded only when shown (a load counts characters from the bytes, it does not decode them)."""
    one = ChunkTable.from_chunks([Chunk(id="a#0", doc_id="a", text="xabc", start=0, end=4)])
    bad = ChunkTable(one.docs, one.doc, one.number, one.spans, one.headings, one.heading, b"\xffabc", one.offsets)
    assert bad.problems(_documents({"a": None}, "en")) == [] and bad[0].text == "\ufffdabc"
