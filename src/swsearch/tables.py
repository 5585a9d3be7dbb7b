"""The chunk and document tables: every chunk's and every document's fields as columns, saved as ``.npy``
files, one JSON file each and one UTF-8 text file.

A chunk or document is built whole only when a hit shows it. Loading a million chunks reads a few arrays,
maps the text file and checks every row with numpy, where one JSON line per chunk (the ``chunks.jsonl`` of
index formats 1 and 2) and one JSON object per document in the manifest took seconds to parse, build as
objects and check one by one. ``ChunkTable`` is a ``Sequence[Chunk]`` and ``DocumentTable`` a read-only
``Mapping`` from document id to its manifest entry, so ``index.chunks[row]`` and ``index.documents[id]`` read
as before.

Chunk files: ``chunks.json`` (the documents' ids, the distinct headings, and the chunk ids only where one is
not ``<document id>#<number>``), ``chunks.doc.npy`` (each chunk's document, an index into those ids),
``chunks.number.npy``, ``chunks.spans.npy`` (start, end in the document), ``chunks.heading.npy`` (an index
into the headings), ``chunks.text_offsets.npy`` (byte offsets) and ``chunks.text.bin`` (the texts, UTF-8).
Document files: ``documents.json`` (ids, titles, dates, sources, metadata and the language names),
``documents.language.npy`` (an index into those names), ``documents.chars.npy`` (-1: not recorded) and
``documents.sha256.npy`` (32 bytes a document).
"""

from __future__ import annotations

import json
import mmap
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, overload

import numpy as np

from . import store
from .split import Chunk

JSON, DOC, NUMBER, SPANS, HEADING, OFFSETS, TEXT = (
    store.CHUNK_TABLE, "chunks.doc.npy", "chunks.number.npy", "chunks.spans.npy", "chunks.heading.npy",
    "chunks.text_offsets.npy", "chunks.text.bin")
FILES = (JSON, DOC, NUMBER, SPANS, HEADING, OFFSETS, TEXT)
DOC_JSON, DOC_LANGUAGE, DOC_CHARS, DOC_SHA256 = (
    store.DOCUMENT_TABLE, "documents.language.npy", "documents.chars.npy", "documents.sha256.npy")
DOCUMENT_FILES = (DOC_JSON, DOC_LANGUAGE, DOC_CHARS, DOC_SHA256)
#: the text file is checked in blocks of this many bytes, so a check never holds a copy of all the text
_CHECK_BLOCK = 16 << 20
_NUMBERED = re.compile(r"(.*)#(\d+)", re.DOTALL)


def _int_array(values: Iterable[int] | np.ndarray, count: int | None = None) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(np.int64, copy=False)
    return np.fromiter(values, dtype=np.int64, count=-1 if count is None else count)


def _gather(blob: bytes | mmap.mmap, offsets: np.ndarray, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The texts of ``rows`` as one new blob with its offsets; runs of consecutive rows (nearly all of them
    after an add or a delete) are copied as one slice each."""
    lengths = np.diff(offsets)[rows]
    out_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    if not len(rows):
        return b"", out_offsets
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    firsts = np.concatenate([[0], breaks])
    lasts = np.concatenate([breaks, [len(rows)]]) - 1
    view = memoryview(blob)
    parts = [view[offsets[rows[a]]:offsets[rows[b] + 1]] for a, b in zip(firsts.tolist(), lasts.tolist())]
    return b"".join(parts), out_offsets


def _appended(names: list[str], more: list[str]) -> tuple[list[str], np.ndarray]:
    """``names`` followed by those of ``more`` not in it, and where each of ``more`` now is."""
    codes = {name: i for i, name in enumerate(names)}
    out = list(names)
    for name in more:
        if name not in codes:
            codes[name] = len(out)
            out.append(name)
    return out, np.array([codes[name] for name in more], dtype=np.int64)


def _renumbered(names: list[str], codes: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The names ``codes`` use, in order of first use, and the codes into that list: what ``from_chunks``
    makes of the same rows, so a changed table saves as a build of its chunks does."""
    used, first = np.unique(codes, return_index=True)
    used = used[np.argsort(first)]
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return [names[i] for i in used.tolist()], remap[codes]


class ChunkTable(Sequence[Chunk]):
    """Every chunk of an index as columns, in row order (the rows every other part is keyed by)."""

    def __init__(self, docs: list[str], doc: np.ndarray, number: np.ndarray, spans: np.ndarray,
                 headings: list[str], heading: np.ndarray, text: bytes | mmap.mmap, offsets: np.ndarray,
                 ids: list[str] | None = None):
        self.docs = docs  #: document ids; ``doc`` indexes this list
        self.doc = doc
        self.number = number  #: the number in ``<document id>#<number>``; -1 where ``ids`` holds another id
        self.spans = spans  #: (n, 2) start and end of each chunk in its document
        self.headings = headings
        self.heading = heading
        self._text = text
        self.offsets = offsets
        self._ids = ids

    # ------------------------------------------------------------------ making one
    @classmethod
    def from_chunks(cls, chunks: Iterable[Chunk]) -> ChunkTable:
        """A table of these chunks, in their order."""
        chunks = list(chunks)
        docs: dict[str, int] = {}
        headings: dict[str, int] = {}
        numbers, explicit = [], False
        for c in chunks:
            docs.setdefault(c.doc_id, len(docs))
            headings.setdefault(c.heading, len(headings))
            m = _NUMBERED.fullmatch(c.id)
            if m and m.group(1) == c.doc_id and str(int(m.group(2))) == m.group(2):
                numbers.append(int(m.group(2)))
            else:
                numbers.append(-1)
                explicit = True
        encoded = [c.text.encode("utf-8") for c in chunks]
        offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        n = len(chunks)
        spans = np.array([(c.start, c.end) for c in chunks], dtype=np.int64).reshape(n, 2)
        return cls(list(docs), _int_array((docs[c.doc_id] for c in chunks), n), _int_array(numbers, n), spans,
                   list(headings), _int_array((headings[c.heading] for c in chunks), n), b"".join(encoded),
                   offsets, [c.id for c in chunks] if explicit else None)

    def take(self, rows: np.ndarray) -> ChunkTable:
        """The chunks at ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        docs, doc = _renumbered(self.docs, self.doc[rows])
        headings, heading = _renumbered(self.headings, self.heading[rows])
        text, offsets = _gather(self._text, self.offsets, rows)
        ids = None if self._ids is None else [self._ids[r] for r in rows.tolist()]
        return ChunkTable(docs, doc, self.number[rows], self.spans[rows], headings, heading, text, offsets, ids)

    def concat(self, other: ChunkTable) -> ChunkTable:
        """These chunks, then ``other``'s."""
        docs, doc_map = _appended(self.docs, other.docs)
        headings, head_map = _appended(self.headings, other.headings)
        ids = None
        if self._ids is not None or other._ids is not None:
            ids = self.ids + other.ids
        return ChunkTable(docs, np.concatenate([self.doc, doc_map[other.doc]]),
                          np.concatenate([self.number, other.number]), np.concatenate([self.spans, other.spans]),
                          headings, np.concatenate([self.heading, head_map[other.heading]]),
                          bytes(memoryview(self._text)) + bytes(memoryview(other._text)),
                          np.concatenate([self.offsets, self.offsets[-1] + other.offsets[1:]]), ids)

    # ------------------------------------------------------------------ reading it
    def __len__(self) -> int:
        return len(self.doc)

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError("chunk row out of range")
        start, end = self.spans[row].tolist()
        return Chunk(id=self.id_of(row), doc_id=self.docs[self.doc[row]], text=self.text_of(row), start=start,
                     end=end, heading=self.headings[self.heading[row]])

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same chunks in the same order (a ``list[Chunk]`` included)."""
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking and compared by value, like a list

    def id_of(self, row: int) -> str:
        if self._ids is not None:
            return self._ids[row]
        return f"{self.docs[self.doc[row]]}#{self.number[row]}"

    def text_of(self, row: int) -> str:
        a, b = self.offsets[row:row + 2].tolist()
        return self._text[a:b].decode("utf-8", errors="replace")

    @property
    def ids(self) -> list[str]:
        """Every chunk id, in row order."""
        if self._ids is not None:
            return list(self._ids)
        return [f"{self.docs[d]}#{n}" for d, n in zip(self.doc.tolist(), self.number.tolist())]

    @property
    def doc_ids(self) -> list[str]:
        """Each chunk's document id, in row order."""
        return [self.docs[d] for d in self.doc.tolist()]

    def of_documents(self, doc_ids: Iterable[str]) -> np.ndarray:
        """A boolean mask of the rows of these documents."""
        codes = {d: i for i, d in enumerate(self.docs)}
        wanted = [codes[d] for d in doc_ids if d in codes]
        return np.isin(self.doc, np.array(wanted, dtype=np.int64))

    def rows_by_document(self) -> dict[str, np.ndarray]:
        """Each document's rows, ascending."""
        order = np.argsort(self.doc, kind="stable")
        bounds = np.searchsorted(self.doc[order], np.arange(len(self.docs) + 1))
        return {d: order[bounds[i]:bounds[i + 1]] for i, d in enumerate(self.docs) if bounds[i] < bounds[i + 1]}

    def languages(self, documents: DocumentTable) -> np.ndarray:
        """Each chunk's language (its document's), in row order."""
        return documents.language_of(self.docs)[self.doc]

    def tie_order(self) -> np.ndarray:
        """Rows by (document id, chunk number, id): the order equal scores rank in (see ``Index.tie_order``)."""
        if self._ids is not None:
            from .index import tie_key_of
            keys = [tie_key_of(i, d) for i, d in zip(self._ids, self.doc_ids)]
            return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
        rank = np.empty(len(self.docs), dtype=np.int64)
        rank[sorted(range(len(self.docs)), key=self.docs.__getitem__)] = np.arange(len(self.docs))
        return np.lexsort((self.number, rank[self.doc])).astype(np.int64)

    # ------------------------------------------------------------------ files
    def to_files(self) -> dict[str, bytes]:
        meta = {"docs": self.docs, "headings": self.headings, "ids": self._ids}
        return {JSON: json.dumps(meta, ensure_ascii=False).encode("utf-8"), DOC: store.npy_bytes(self.doc),
                NUMBER: store.npy_bytes(self.number), SPANS: store.npy_bytes(self.spans),
                HEADING: store.npy_bytes(self.heading), OFFSETS: store.npy_bytes(self.offsets),
                TEXT: bytes(memoryview(self._text))}

    @classmethod
    def from_files(cls, files: Mapping[str, Any]) -> ChunkTable:
        """The table the files hold (ValueError, KeyError or TypeError when they are not a table's files; what
        does not fit together is ``problems``'s to say)."""
        if store.CHUNKS in files and JSON not in files:  # index formats 1 and 2: one JSON line per chunk
            return cls.from_chunks(Chunk(id=r["id"], doc_id=r["doc_id"], text=r["text"], start=r["start"],
                                         end=r["end"], heading=r.get("heading", ""))
                                   for r in store.jsonl_load(files[store.CHUNKS]))
        meta = json.loads(bytes(files[JSON]).decode("utf-8"))
        docs, headings, ids = meta["docs"], meta["headings"], meta["ids"]
        if not (_text_list(docs) and _text_list(headings) and (ids is None or _text_list(ids))):
            raise ValueError("chunks.json does not hold lists of text")
        arrays = [store.npy_load(files[name]) for name in (DOC, NUMBER, SPANS, HEADING, OFFSETS)]
        if any(a.dtype.kind not in "iu" for a in arrays):
            raise ValueError("a chunk column that is not whole numbers")
        doc, number, spans, heading, offsets = (a.astype(np.int64, copy=False) for a in arrays)
        return cls(docs, doc, number, spans, headings, heading, files[TEXT], offsets, ids)

    def problems(self, documents: DocumentTable) -> list[str]:
        """What in a loaded table does not fit together or with the manifest's ``documents``: shapes, ranges,
        ids, offsets against the texts, chunks after the end of their document (numpy, block by block)."""
        n = len(self.doc)
        if not (self.doc.ndim == self.number.ndim == self.heading.ndim == 1 and self.spans.shape == (n, 2)
                and len(self.number) == len(self.heading) == n and self.offsets.shape == (n + 1,)
                and (self._ids is None or len(self._ids) == n)):
            return ["the chunk columns differ in length"]
        if n and (self.doc.min() < 0 or self.doc.max() >= len(self.docs) or self.heading.min() < 0
                  or self.heading.max() >= len(self.headings)):
            return ["a chunk points to a document or heading that chunks.json does not list"]
        problems = []
        if len(set(self.docs)) != len(self.docs):
            problems.append("chunks.json lists a document twice")
        try:
            documents.rows_of(self.docs)
        except KeyError:
            problems.append("chunks of documents the manifest does not list")
            return problems
        if self._ids is None:
            if n and self.number.min() < 0:
                problems.append("a chunk without an id")
            key = np.lexsort((self.number, self.doc))
            if np.any((np.diff(self.doc[key]) == 0) & (np.diff(self.number[key]) == 0)):
                problems.append("a chunk id appears twice")
        elif len(set(self._ids)) != n:
            problems.append("a chunk id appears twice")
        starts, ends = self.spans[:, 0], self.spans[:, 1]
        if self.offsets[0] != 0 or np.any(np.diff(self.offsets) < 0) or self.offsets[-1] != len(self._text):
            problems.append("the chunk text offsets do not fit chunks.text.bin")
            return problems
        if np.any(starts < 0) or np.any(ends < starts):
            problems.append("a chunk with malformed offsets")
            return problems
        if np.any(self._char_counts() != ends - starts):
            problems.append("a chunk whose offsets do not fit its text")
        chars = documents.chars_of(self.docs)[self.doc]
        if np.any((chars >= 0) & (ends > chars)):
            problems.append("a chunk ends after its document")
        return problems

    def _char_counts(self) -> np.ndarray:
        """Each chunk's length in characters, from its UTF-8 bytes (those that are not continuation bytes).
        The bytes are not decoded here (0.85 s of a 1.13M-chunk load): a chunk is decoded when shown, and a
        byte that is not UTF-8 shows as U+FFFD."""
        counts = np.diff(self.offsets)
        data = np.frombuffer(self._text, dtype=np.uint8) if len(self._text) else np.zeros(0, np.uint8)
        row = 0
        while row < len(counts):
            end = int(np.searchsorted(self.offsets, self.offsets[row] + _CHECK_BLOCK, side="right")) - 1
            end = max(end, row + 1)
            a, b = int(self.offsets[row]), int(self.offsets[end])
            # continuation bytes per chunk: one sum per non-empty chunk, each running to the next one's start
            full = np.flatnonzero(counts[row:end]) + row
            if len(full):
                cont = ((data[a:b] & 0xC0) == 0x80).view(np.uint8)  # summed as bytes: 3x faster than bools
                counts[full] -= np.add.reduceat(cont, self.offsets[full] - a, dtype=np.int32)
            row = end
        return counts


def _text_list(value: Any, n: int | None = None, nullable: bool = False) -> bool:
    """Whether ``value`` is a list of strings (or nulls, where ``nullable``), ``n`` of them when given: JSON
    holds no str subclass."""
    return isinstance(value, list) and (n is None or len(value) == n) and set(map(type, value)) <= (
        {str, type(None)} if nullable else {str})


class DocumentTable(Mapping[str, dict]):
    """Every document of an index as columns, sorted by id: a read-only mapping from id to the entry a
    format-2 manifest listed (id, title, language, date, source, sha256, chars and metadata when it has some)."""

    def __init__(self, ids: list[str], titles: list[str], languages: list[str], language: np.ndarray,
                 dates: list[str | None], sources: list[str | None], sha256: np.ndarray, chars: np.ndarray,
                 metadata: list[dict | None]):
        self.ids = ids
        self.titles = titles
        self.languages = languages  #: the language names; ``language`` indexes this list
        self.language = language
        self.dates = dates
        self.sources = sources
        self.sha256 = sha256  #: (n, 32) uint8
        self.chars = chars  #: -1 where a format-1 manifest did not record it
        self.metadata = metadata
        self._rows: dict[str, int] | None = None

    @classmethod
    def from_dicts(cls, entries: Iterable[Mapping[str, Any]]) -> DocumentTable:
        """A table of manifest entries (``_document_meta``'s dicts), sorted by id."""
        entries = sorted(entries, key=lambda d: d["id"])
        names = sorted({d["language"] for d in entries})
        code = {name: i for i, name in enumerate(names)}
        n = len(entries)
        sha = np.frombuffer(b"".join(bytes.fromhex(d["sha256"]) for d in entries), dtype=np.uint8).reshape(n, 32)
        return cls([d["id"] for d in entries], [d.get("title", "") for d in entries], names,
                   np.array([code[d["language"]] for d in entries], dtype=np.int64).reshape(n),
                   [d.get("date") for d in entries], [d.get("source") for d in entries], sha,
                   np.array([min(d.get("chars", -1), 1 << 62) for d in entries], dtype=np.int64).reshape(n),
                   [d.get("metadata") or None for d in entries])

    # ------------------------------------------------------------------ the mapping
    def _row_of(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {d: i for i, d in enumerate(self.ids)}
        return self._rows

    def __getitem__(self, doc_id: str) -> dict:
        return self.entry(self._row_of()[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row_of()

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def entry(self, row: int) -> dict:
        """Document ``row`` as its manifest entry (a new dict)."""
        out = {"id": self.ids[row], "title": self.titles[row], "language": self.languages[self.language[row]],
               "date": self.dates[row], "source": self.sources[row], "sha256": self.sha256[row].tobytes().hex()}
        if self.chars[row] >= 0:
            out["chars"] = int(self.chars[row])
        if self.metadata[row]:
            out["metadata"] = dict(self.metadata[row])
        return out

    def entries(self) -> list[dict]:
        """Every document's manifest entry, in id order."""
        return [self.entry(i) for i in range(len(self))]

    def rows_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The rows of these documents (KeyError for one the table does not hold). A chunk table lists its
        documents in id order too, so usually these are all the rows, recognised without a lookup."""
        if list(doc_ids) == self.ids:
            return np.arange(len(self.ids), dtype=np.int64)
        rows = self._row_of()
        return np.array([rows[d] for d in doc_ids], dtype=np.int64).reshape(len(doc_ids))

    def language_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The languages of these documents, as an array of names."""
        return np.array(self.languages or [""])[self.language[self.rows_of(doc_ids)]]

    def chars_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The recorded lengths of these documents (-1: not recorded)."""
        return self.chars[self.rows_of(doc_ids)]

    def changed(self, remove: set[str], entries: Iterable[Mapping[str, Any]]) -> DocumentTable:
        """Without the documents ``remove``, with ``entries`` (new manifest entries, replacing any same id)."""
        entries = list(entries)
        drop = remove | {d["id"] for d in entries}
        kept = self._take([i for i, d in enumerate(self.ids) if d not in drop])
        return kept._merged(DocumentTable.from_dicts(entries)) if entries else kept

    def _take(self, rows: list[int]) -> DocumentTable:
        pick = np.array(rows, dtype=np.int64)
        used = np.unique(self.language[pick])  # the names are sorted, so their codes are too
        remap = np.full(len(self.languages), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return DocumentTable([self.ids[i] for i in rows], [self.titles[i] for i in rows],
                             [self.languages[i] for i in used.tolist()], remap[self.language[pick]],
                             [self.dates[i] for i in rows], [self.sources[i] for i in rows], self.sha256[pick],
                             self.chars[pick], [self.metadata[i] for i in rows])

    def _merged(self, other: DocumentTable) -> DocumentTable:
        """Both tables' rows (no id in both), sorted by id."""
        names = sorted(set(self.languages) | set(other.languages))
        code = {name: i for i, name in enumerate(names)}
        language = np.concatenate([np.array([code[x] for x in self.languages], dtype=np.int64)[self.language],
                                   np.array([code[x] for x in other.languages], dtype=np.int64)[other.language]])
        ids = self.ids + other.ids
        order = sorted(range(len(ids)), key=ids.__getitem__)
        pick = np.array(order, dtype=np.int64)
        both = (self.titles + other.titles, self.dates + other.dates, self.sources + other.sources,
                self.metadata + other.metadata)
        titles, dates, sources, metadata = ([column[i] for i in order] for column in both)
        return DocumentTable([ids[i] for i in order], titles, names, language[pick], dates, sources,
                             np.concatenate([self.sha256, other.sha256])[pick],
                             np.concatenate([self.chars, other.chars])[pick], metadata)

    def fingerprint(self) -> str:
        """sha256 over (id, language, title, text sha256) of every document in id order (``corpus_fingerprint``)."""
        import hashlib
        hexes = self.sha256.tobytes().hex()
        langs = [self.languages[c] for c in self.language.tolist()]
        lines = "".join([f"{doc_id}\0{lang}\0{title}\0{hexes[64 * i:64 * i + 64]}\n"
                         for i, (doc_id, lang, title) in enumerate(zip(self.ids, langs, self.titles))])
        return hashlib.sha256(lines.encode()).hexdigest()

    # ------------------------------------------------------------------ files
    def to_files(self) -> dict[str, bytes]:
        meta = {"ids": self.ids, "titles": self.titles, "dates": self.dates, "sources": self.sources,
                "metadata": self.metadata, "languages": self.languages}
        return {DOC_JSON: json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf-8"),
                DOC_LANGUAGE: store.npy_bytes(self.language), DOC_CHARS: store.npy_bytes(self.chars),
                DOC_SHA256: store.npy_bytes(self.sha256)}

    @classmethod
    def from_files(cls, files: Mapping[str, Any]) -> DocumentTable:
        """The table the files hold; ValueError (or KeyError, TypeError) naming what is malformed."""
        meta = json.loads(bytes(files[DOC_JSON]).decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("documents.json is not an object")
        ids = meta["ids"]
        n = len(ids) if isinstance(ids, list) else -1
        if not (_text_list(ids) and _text_list(meta["titles"], n) and _text_list(meta["dates"], n, nullable=True)
                and _text_list(meta["sources"], n, nullable=True) and _text_list(meta["languages"])
                and isinstance(meta["metadata"], list) and len(meta["metadata"]) == n
                and set(map(type, meta["metadata"])) <= {dict, type(None)}):
            raise ValueError("documents.json does not hold one id, title, date, source and metadata per document")
        language, chars, sha = (store.npy_load(files[name]) for name in (DOC_LANGUAGE, DOC_CHARS, DOC_SHA256))
        if language.dtype.kind not in "iu" or chars.dtype.kind not in "iu" or sha.dtype != np.uint8:
            raise ValueError("a document column of the wrong type")
        return cls(ids, meta["titles"], meta["languages"], language.astype(np.int64, copy=False), meta["dates"],
                   meta["sources"], sha, chars.astype(np.int64, copy=False), meta["metadata"])

    def problems(self, known_languages: Sequence[str]) -> list[str]:
        """What in a loaded table does not fit together: shapes, ranges, order and languages."""
        n = len(self.ids)
        if self.language.shape != (n,) or self.chars.shape != (n,) or self.sha256.shape != (n, 32):
            return ["the document columns differ in length"]
        problems = []
        if n and (self.language.min() < 0 or self.language.max() >= len(self.languages)):
            problems.append("a document whose language documents.json does not list")
        unknown = sorted(set(self.languages) - set(known_languages))
        if unknown:
            problems.append(f"documents in language {unknown[0]!r:.40}; this swsearch knows "
                            f"{', '.join(known_languages)}")
        if not all(map(operator.lt, self.ids, islice(self.ids, 1, None))):
            problems.append("document ids that are not unique and sorted")
        if n and self.chars.min() < -1:
            problems.append("a document with a negative length")
        return problems
