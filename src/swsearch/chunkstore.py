"""The chunk store: every chunk's id, document, offsets, heading and text as columns, saved as ``.npy`` files,
one JSON file and one UTF-8 text file.

A chunk is read whole only when a hit shows it. Loading a million chunks reads a few arrays, maps the text
file and checks every chunk with numpy, where one JSON line per chunk (the ``chunks.jsonl`` of indexes written
before this store) took seconds to parse, build as objects and check one by one. ``ChunkTable`` is a
``Sequence[Chunk]``, so ``index.chunks[row]`` and ``for c in index.chunks`` read as before.

Files: ``chunks.json`` (the documents' ids, the distinct headings, and the chunk ids only where one is not
``<document id>#<number>``), ``chunks.doc.npy`` (each chunk's document, an index into those ids),
``chunks.number.npy``, ``chunks.spans.npy`` (start, end in the document), ``chunks.heading.npy`` (an index
into the headings), ``chunks.text_offsets.npy`` (byte offsets) and ``chunks.text.bin`` (the texts, UTF-8).
"""

from __future__ import annotations

import json
import mmap
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np

from . import store
from .split import Chunk

JSON, DOC, NUMBER, SPANS, HEADING, OFFSETS, TEXT = (
    store.CHUNK_TABLE, "chunks.doc.npy", "chunks.number.npy", "chunks.spans.npy", "chunks.heading.npy",
    "chunks.text_offsets.npy", "chunks.text.bin")
FILES = (JSON, DOC, NUMBER, SPANS, HEADING, OFFSETS, TEXT)
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
        used = np.unique(self.doc[rows])
        remap = np.full(len(self.docs), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        text, offsets = _gather(self._text, self.offsets, rows)
        ids = None if self._ids is None else [self._ids[r] for r in rows.tolist()]
        return ChunkTable([self.docs[d] for d in used.tolist()], remap[self.doc[rows]], self.number[rows],
                          self.spans[rows], self.headings, self.heading[rows], text, offsets, ids)

    def concat(self, other: ChunkTable) -> ChunkTable:
        """These chunks, then ``other``'s."""
        codes = {d: i for i, d in enumerate(self.docs)}
        docs = list(self.docs)
        for d in other.docs:
            codes.setdefault(d, len(docs))
            if len(docs) < len(codes):
                docs.append(d)
        doc_map = np.array([codes[d] for d in other.docs], dtype=np.int64)
        heads = {h: i for i, h in enumerate(self.headings)}
        headings = list(self.headings)
        for h in other.headings:
            if h not in heads:
                heads[h] = len(headings)
                headings.append(h)
        head_map = np.array([heads[h] for h in other.headings], dtype=np.int64)
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

    def languages(self, documents: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
        """Each chunk's language (its document's), in row order."""
        langs = np.array([documents[d]["language"] for d in self.docs] or [""])
        return langs[self.doc] if len(self.docs) else np.array([], dtype=langs.dtype)

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
        if store.CHUNKS in files and JSON not in files:  # an index written before this store
            return cls.from_chunks(Chunk(id=r["id"], doc_id=r["doc_id"], text=r["text"], start=r["start"],
                                         end=r["end"], heading=r.get("heading", ""))
                                   for r in store.jsonl_load(files[store.CHUNKS]))
        meta = json.loads(bytes(files[JSON]).decode("utf-8"))
        docs, headings, ids = meta["docs"], meta["headings"], meta["ids"]
        if not (isinstance(docs, list) and isinstance(headings, list) and (ids is None or isinstance(ids, list))
                and all(isinstance(x, str) for x in (*docs, *headings, *(ids or ())))):
            raise ValueError("chunks.json does not hold lists of text")
        arrays = [store.npy_load(files[name]) for name in (DOC, NUMBER, SPANS, HEADING, OFFSETS)]
        if any(a.dtype.kind not in "iu" for a in arrays):
            raise ValueError("a chunk column that is not whole numbers")
        doc, number, spans, heading, offsets = (a.astype(np.int64, copy=False) for a in arrays)
        return cls(docs, doc, number, spans, headings, heading, files[TEXT], offsets, ids)

    def problems(self, documents: Mapping[str, Mapping[str, Any]]) -> list[str]:
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
        if any(d not in documents for d in self.docs):
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
        try:
            if np.any(self._char_counts() != ends - starts):
                problems.append("a chunk whose offsets do not fit its text")
        except UnicodeDecodeError:
            problems.append("chunks.text.bin is not UTF-8 text")
        chars = np.array([min(c, 1 << 62) if isinstance(c := documents[d].get("chars"), int) else -1
                          for d in self.docs] or [0], dtype=np.int64)[self.doc]
        if np.any((chars >= 0) & (ends > chars)):
            problems.append("a chunk ends after its document")
        return problems

    def _char_counts(self) -> np.ndarray:
        """Each chunk's length in characters, from its UTF-8 bytes (those that are not continuation bytes);
        UnicodeDecodeError where the text is not UTF-8."""
        counts = np.diff(self.offsets)
        data = np.frombuffer(self._text, dtype=np.uint8) if len(self._text) else np.zeros(0, np.uint8)
        row = 0
        while row < len(counts):
            end = int(np.searchsorted(self.offsets, self.offsets[row] + _CHECK_BLOCK, side="right")) - 1
            end = max(end, row + 1)
            a, b = int(self.offsets[row]), int(self.offsets[end])
            str(memoryview(self._text)[a:b], "utf-8")  # valid, or UnicodeDecodeError
            sums = np.zeros(b - a + 1, dtype=np.int32)  # a block is < 2**31 bytes
            np.cumsum((data[a:b] & 0xC0) == 0x80, out=sums[1:])
            local = self.offsets[row:end + 1] - a
            counts[row:end] -= sums[local[1:]] - sums[local[:-1]]
            row = end
        return counts
