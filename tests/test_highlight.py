"""Each hit names its best-matching sentence: by sentence vectors when the index has them, else by the query's
words; the terminal output shows it (bold on a terminal) and JSON carries it."""

from __future__ import annotations

import pytest

from swsearch import Document, Index
from swsearch.cli import _print_hits

from .conftest import HashEmbedder

TEXT = ("Mediators meet in the hall on Mondays. Volunteers must be insured against accidents before risky work. "
        "The weather was fine that year.")
DOCS = [Document(id="a", text=TEXT, language="en"),
        Document(id="b", text="Petitions are answered within sixty days. 信访人不得捏造事实。", language="en"),
        Document(id="c", language="zh",
                 text="人民调解员从事调解工作。志愿者参与危险活动前，应当为志愿者购买人身意外伤害保险。")]


def _check(hit, expected: str) -> None:
    assert hit.highlight is not None
    a, b = hit.highlight
    doc = {d.id: d.text for d in DOCS}[hit.doc_id]
    assert doc[a:b] == hit.highlight_text  # document offsets
    assert hit.start <= a < b <= hit.end
    assert expected in hit.highlight_text


@pytest.mark.parametrize("options", [{}, {"mode": "dense"}, {"mode": "dense", "centroids": False},
                                     {"mode": "lexical"}])
def test_the_best_sentence_is_named_in_every_mode(options):
    index = Index.build(DOCS, model=HashEmbedder())
    hit = index.search("volunteers insured against accidents", k=1, doc_ids="a", **options)[0]
    _check(hit, "insured")
    hit = index.search("捏造事实", k=1, doc_ids="b", **options)[0]
    _check(hit, "捏造")


def test_without_sentence_vectors_the_query_words_decide():
    index = Index.build(DOCS, model=HashEmbedder(), sentences=False)
    _check(index.search("insured accidents", k=1, doc_ids="a")[0], "insured")
    _check(index.search("意外伤害保险", k=1, doc_ids="c")[0], "保险")
    bare = Index.build(DOCS, model=HashEmbedder(), sentences=False, lexical=False)
    hit = bare.search("insured accidents", k=1)[0]
    assert hit.highlight is None and hit.highlight_text == "" and hit.to_dict()["highlight"] is None


def test_highlights_are_the_same_built_or_loaded(tmp_path):
    index = Index.build(DOCS, model=HashEmbedder())
    loaded = Index.load(index.save(tmp_path / "ix"), model=HashEmbedder())
    for q in ("volunteers insured", "捏造", "mediators hall", "调解工作"):
        assert [h.to_dict() for h in index.search(q, k=3)] == [h.to_dict() for h in loaded.search(q, k=3)]


def test_terminal_output_marks_the_sentence_only_on_a_terminal(capsys):
    index = Index.build(DOCS, model=HashEmbedder())
    hits = index.search("volunteers insured against accidents", k=1, doc_ids="a")
    _print_hits("q", hits, 200, bold=True)
    out = capsys.readouterr().out
    assert "\033[1mVolunteers must be insured against accidents before risky work.\033[0m The weather" in out
    _print_hits("q", hits, 60, bold=True)  # wrapped: bold closes at each line end and opens again
    out = capsys.readouterr().out
    assert out.count("\033[1m") == out.count("\033[0m") >= 1  # every line that opens bold closes it
    _print_hits("q", hits, 200, bold=False)
    plain = capsys.readouterr().out
    assert "\033" not in plain and "Volunteers must be insured" in plain


def test_a_late_sentence_is_shown_even_in_a_long_chunk(capsys):
    long = " ".join(f"Clause {i} covers an unrelated topic in some detail." for i in range(40))
    docs = [Document(id="long", text=long + " Volunteers must be insured against accidents.", language="en")]
    index = Index.build(docs, model=HashEmbedder(), max_tokens=1000, paragraph_tokens=1000)
    hit = index.search("volunteers insured accidents", k=1)[0]
    assert "insured" in hit.highlight_text
    _print_hits("q", [hit], 60, bold=False)
    out = capsys.readouterr().out
    assert "insured against accidents" in out and "…" in out and len(out.splitlines()) <= 10
