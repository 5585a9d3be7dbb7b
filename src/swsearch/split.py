"""Documents → chunks: sentences (English, Chinese) → paragraphs / articles with their heading path.

Rules, in order:
- Blank lines separate blocks. A short block that matches a heading shape (第X章, 一、总体要求, Chapter I,
  ``# Title``) is not a chunk: it goes on the heading stack that later chunks carry as ``heading``.
- In regulations, an article (第X条 / Article N) and the blocks after it up to the next article or
  heading form one unit, so an article and its numbered items stay together.
- A block or unit longer than the model allows is cut at sentence ends into balanced pieces; a block
  with no paragraph breaks at all (a web page captured as one line) is rebuilt into paragraphs the same
  way, starting a new paragraph at each short imperative topic sentence ("Strengthen research on ...").
- ``；`` / ``;``, then commas, then characters are used only for one sentence that alone is too long.
Every chunk satisfies ``document.text[chunk.start:chunk.end] == chunk.text``. ``sentence_units`` lists each
chunk's sentences, which the index embeds too so that a chunk can also score by its best sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

HEADING_SEP = " › "
_ZH_NUM = "一二三四五六七八九十百千零〇两"

# (pattern, level) for blocks that are headings on their own line.
_HEADING_LINE = [
    (re.compile(r"^#{1,6}\s+\S"), None),  # markdown: level = number of #
    (re.compile(rf"^第[{_ZH_NUM}\d]+编"), 0),
    (re.compile(rf"^第[{_ZH_NUM}\d]+章"), 1),
    (re.compile(rf"^第[{_ZH_NUM}\d]+节"), 2),
    (re.compile(rf"^[{_ZH_NUM}]+[、．.]"), 1),
    (re.compile(rf"^[（(][{_ZH_NUM}]+[）)]"), 2),
    (re.compile(r"^\d+[.．、]\s*\S"), 3),
    (re.compile(r"^[（(]\d+[）)]"), 3),
    (re.compile(r"^(?:Part|PART)\s+[IVXLC\d]+\b"), 0),
    (re.compile(r"^(?:Chapter|CHAPTER)\s+[IVXLC\d]+\b"), 1),
    (re.compile(r"^(?:Section|SECTION)\s+[IVXLC\d]+\b"), 2),
    (re.compile(r"^(?:Preamble|PREAMBLE|Annex|Appendix)\b"), 1),
    (re.compile(r"^[IVX]+\.\s+\S"), 1),
]
_ARTICLE = re.compile(rf"^(?P<label>第[{_ZH_NUM}\d]+条|Article\s+\d+)")
# Inline item markers whose first sentence is a short title: "1.明确人员范围。..." or "（一）坚持党的全面领导。..."
_ITEM = [
    (re.compile(rf"^[{_ZH_NUM}]+[、．]"), 1),
    (re.compile(rf"^[（(][{_ZH_NUM}]+[）)]"), 2),
    (re.compile(r"^\d+[.．、](?!\d)"), 3),
    (re.compile(r"^[（(]\d+[）)]"), 3),
]
_LIST_ITEM = re.compile(rf"^(?:[（(][{_ZH_NUM}\d]+[）)]|\d+[.．、](?!\d)|[{_ZH_NUM}]+、|\([a-z]\)|[-*•]\s)")
_TERMINAL = re.compile(r"[。！？.!?；;]\s*$")

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "no", "nos", "art", "arts", "sec", "vol", "fig", "e.g", "i.e",
    "etc", "vs", "cf", "al", "jr", "sr", "inc", "ltd", "co", "corp", "gen", "gov", "rev", "u.s", "u.k",
    "approx", "dept", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}
_EN_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ZH_BOUNDARY = re.compile(r"[。！？!?]+[”’」』）)]*|\n")
_CLAUSE = re.compile(r"[；;]|[，,、:：]")
# Short imperative sentences that open a new topic in policy prose ("Strengthen research on ...").
_TOPIC_VERBS = {
    "strengthen", "deepen", "improve", "promote", "build", "establish", "enhance", "develop", "advance",
    "adhere", "uphold", "focus", "explore", "implement", "optimize", "optimise", "accelerate", "support",
    "encourage", "ensure", "consolidate", "expand", "cultivate", "guide", "innovate", "insist", "persist",
    "standardize", "standardise", "perfect", "reinforce", "carry", "give", "make", "increase", "refine",
}


@dataclass(frozen=True)
class Chunk:
    """A searchable unit: a paragraph or article with its place in the document."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    heading: str = ""


TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """A conservative token estimate for when no model tokenizer is given (≈ subword tokenizers)."""
    cjk = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff]", text))
    words = len(re.findall(r"[A-Za-z]+|\d+", text))
    other = len(re.findall(r"[^\sA-Za-z\d\u3400-\u9fff\uf900-\ufaff]", text))
    return 2 + math.ceil(1.1 * cjk + 1.4 * words + other)


def _spans(text: str, start: int, end: int, boundary: re.Pattern[str], *, english: bool) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` after each boundary match; return stripped (start, end) spans."""
    cuts = [start]
    for m in boundary.finditer(text, start, end):
        if english and m.group() == ".":  # "Dr. Sun", "Art. 41", "e.g. this" are not sentence ends
            word = re.search(r"([A-Za-z.]+)$", text[max(start, m.start() - 12):m.start()])
            if word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1):
                continue
        cuts.append(m.end())
    cuts.append(end)
    out = []
    for a, b in zip(cuts, cuts[1:]):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets in ``text[start:end]``; Chinese and English punctuation both count."""
    end = len(text) if end is None else end
    spans = []
    for a, b in _spans(text, start, end, _ZH_BOUNDARY, english=False):
        spans.extend(_spans(text, a, b, _EN_BOUNDARY, english=True))
    return spans


class _Splitter:
    def __init__(self, text: str, count: TokenCounter, max_tokens: int, paragraph_tokens: int,
                 context: Callable[[str], str]):
        self.text = text
        self.count = count
        self.max_tokens = max_tokens
        self.paragraph_tokens = min(paragraph_tokens, max_tokens)
        self.context = context

    def fits(self, a: int, b: int, heading: str) -> bool:
        # no model token is 64 characters long, so a longer span cannot fit: answering without tokenising it
        # keeps a 50 MB line linear (some tokenisers are slower than linear on one huge span); at worst a
        # pathological span is cut finer than needed, never truncated
        if b - a > self.max_tokens * 64:
            return False
        return self.count(self.context(heading) + self.text[a:b]) <= self.max_tokens

    def tokens(self, a: int, b: int) -> int:
        return self.count(self.text[a:b])

    def atoms(self, a: int, b: int, heading: str) -> list[tuple[int, int]]:
        """Sentences of [a, b); a sentence too long on its own is cut at clauses, then at characters."""
        out: list[tuple[int, int]] = []
        for s, e in sentence_spans(self.text, a, b):
            if self.fits(s, e, heading):
                out.append((s, e))
                continue
            clauses = _spans(self.text, s, e, _CLAUSE, english=False)
            for cs, ce in clauses:
                if self.fits(cs, ce, heading):
                    out.append((cs, ce))
                else:
                    out.extend(self.hard_cut(cs, ce, heading))
        return out

    def hard_cut(self, a: int, b: int, heading: str) -> list[tuple[int, int]]:
        """Cut [a, b) into the longest prefixes that fit. The search window starts at 8 characters per token
        and doubles only while it still fits, so each piece costs tokenising about its own length (a
        50 MB line with no punctuation is linear, not quadratic, in its length)."""
        pieces = []
        while a < b:
            window = max(self.max_tokens * 8, 64)
            while a + window < b and self.fits(a, a + window, heading):
                window *= 2
            lo, hi = a + 1, min(b, a + window)
            while lo < hi:  # longest prefix that fits
                mid = (lo + hi + 1) // 2
                if self.fits(a, mid, heading):
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append((a, lo))
            a = lo
            while a < b and self.text[a].isspace():
                a += 1
        return pieces

    def pack(self, atoms: list[tuple[int, int]], heading: str) -> list[tuple[int, int]]:
        """Group consecutive atoms into balanced pieces of about ``paragraph_tokens`` that all fit."""
        if not atoms:
            return []
        sizes = [self.tokens(a, b) for a, b in atoms]
        total = sum(sizes)
        n = max(1, math.ceil(total / self.paragraph_tokens))
        pieces: list[list[tuple[int, int]]] = []
        i = 0
        remaining = total
        while i < len(atoms):
            left = n - len(pieces)
            goal = remaining / max(left, 1)
            group, acc = [atoms[i]], sizes[i]
            i += 1
            while i < len(atoms) and (left <= 1 or acc + sizes[i] / 2 <= goal) \
                    and self.fits(group[0][0], atoms[i][1], heading):
                group.append(atoms[i])
                acc += sizes[i]
                i += 1
            remaining -= acc
            pieces.append(group)
        return [(g[0][0], g[-1][1]) for g in pieces]


def _heading_level(block: str) -> int | None:
    """Level of a block that is a heading line, or None for body text."""
    first_line = block.split("\n", 1)[0].strip()
    if "\n" in block.strip() or _ARTICLE.match(first_line):
        return None
    if _TERMINAL.search(first_line):
        # "（四）社会工作知识普及工程。": an item title closed by a full stop is still a heading line
        one_sentence = len(re.findall(r"[。！？.!?；;]", first_line)) == 1 and first_line.endswith("。")
        if not (one_sentence and len(first_line) <= 25 and re.search(r"[\u4e00-\u9fff]", first_line)):
            return None
    limit = 60 if re.search(r"[\u4e00-\u9fff]", first_line) else 120
    if len(first_line) > limit:
        return None
    for pattern, level in _HEADING_LINE:
        if pattern.match(first_line):
            return len(first_line) - len(first_line.lstrip("#")) - 1 if level is None else level
    return None


def _item_label(block: str) -> tuple[int, str] | None:
    """(level, label) for a body block opened by an item marker with a short title sentence."""
    for pattern, level in _ITEM:
        m = pattern.match(block)
        if m:
            title = re.match(r"^[^。！？.!?；;：:\n]{1,40}[。：:]", block[m.end():])
            label = block[:m.end()] + (title.group()[:-1] if title else "")
            return level, label.strip()
    return None


def _is_topic_sentence(sentence: str) -> bool:
    words = sentence.split()
    return 3 <= len(words) <= 25 and words[0].lower().strip(",") in _TOPIC_VERBS and sentence.endswith(".")


def _norm(heading: str) -> str:
    return re.sub(r"[\s\u3000]+", " ", heading.strip().lstrip("#").strip())


def split_text(text: str, doc_id: str, *, max_tokens: int = 256, paragraph_tokens: int = 160,
               count_tokens: TokenCounter | None = None,
               context: Callable[[str], str] | None = None) -> list[Chunk]:
    """Split one cleaned text into chunks that each fit ``max_tokens`` of ``count_tokens``.

    ``context(heading)`` is whatever the embedder will put in front of the chunk (title, heading); it is
    counted against the limit so that no chunk is truncated by the model.
    """
    count = count_tokens or approx_tokens
    ctx = context or (lambda heading: "")
    sp = _Splitter(text, count, max_tokens, paragraph_tokens, ctx)

    blocks = [(m.start(), m.end()) for m in re.finditer(r"\S(?:.*?\S)?(?=\n[ \t\u3000]*\n|\s*$)", text, re.S)]
    stack: list[tuple[int, str]] = []
    units: list[tuple[int, int, str]] = []  # (start, end, heading)
    in_article = False
    for a, b in blocks:
        block = text[a:b]
        level = _heading_level(block)
        if level is not None:
            stack = [h for h in stack if h[0] < level] + [(level, _norm(block))]
            in_article = False
            continue
        article = _ARTICLE.match(block)
        item = _item_label(block) if not article else None
        if article:
            stack = [h for h in stack if h[0] < 4] + [(4, article.group("label"))]
            in_article = True
        elif item:
            if in_article and _LIST_ITEM.match(block):  # an article's numbered items stay with it
                units[-1] = (units[-1][0], b, units[-1][2])
                continue
            stack = [h for h in stack if h[0] < item[0]] + [item]
        elif in_article or (units and text[units[-1][0]:units[-1][1]].rstrip().endswith(("：", ":"))
                            and _LIST_ITEM.match(block)):
            units[-1] = (units[-1][0], b, units[-1][2])
            continue
        units.append((a, b, HEADING_SEP.join(h for _, h in stack)))

    pieces: list[tuple[int, int, str]] = []
    for a, b, heading in units:
        one_line = "\n" not in text[a:b]
        if sp.fits(a, b, heading) and not (one_line and sp.tokens(a, b) > 3 * sp.paragraph_tokens):
            pieces.append((a, b, heading))
            continue
        atoms = sp.atoms(a, b, heading)
        # A long run-on block is rebuilt into paragraphs, each topic sentence opening a new one.
        groups: list[tuple[str, list[tuple[int, int]]]] = [(heading, [])]
        for s, e in atoms:
            sentence = text[s:e]
            if _is_topic_sentence(sentence) and groups[-1][1]:
                topic = HEADING_SEP.join(x for x in (heading, sentence.rstrip(".")) if x)
                groups.append((topic, []))
            groups[-1][1].append((s, e))
        for h, group in groups:
            pieces.extend((s, e, h) for s, e in sp.pack(group, h))

    pieces = _merge_tiny(pieces, sp)
    return [Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, text=text[a:b], start=a, end=b, heading=h)
            for i, (a, b, h) in enumerate(pieces)]


def _merge_tiny(pieces: list[tuple[int, int, str]], sp: _Splitter, min_tokens: int = 12) -> list[tuple[int, int, str]]:
    """Fold a very short piece ("同志们：") into the next one under the same heading when it fits."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(pieces):
        a, b, h = pieces[i]
        if i + 1 < len(pieces) and sp.tokens(a, b) < min_tokens:
            na, nb, nh = pieces[i + 1]
            if nh == h and sp.fits(a, nb, h):
                pieces[i + 1] = (a, nb, h)
                i += 1
                continue
        out.append((a, b, h))
        i += 1
    return out


def sentence_units(chunks: Iterable[Chunk]) -> list[tuple[int, int, int]]:
    """(chunk row, start, end) of every sentence of every chunk, offsets into the chunk's document.

    Each chunk gets at least one unit (the whole chunk when no sentence is found), in chunk order, so a
    chunk's sentences are one contiguous run of rows.
    """
    units: list[tuple[int, int, int]] = []
    for row, c in enumerate(chunks):
        spans = sentence_spans(c.text) or [(0, len(c.text))]
        units.extend((row, c.start + a, c.start + b) for a, b in spans)
    return units


def split_documents(documents: Iterable, **kwargs) -> list[Chunk]:
    """Split each document (anything with ``id`` and ``text``); keyword arguments go to :func:`split_text`."""
    chunks: list[Chunk] = []
    for doc in documents:
        chunks.extend(split_text(doc.text, doc.id, **kwargs))
    return chunks
