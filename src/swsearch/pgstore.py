"""PostgreSQL + pgvector as a second store: one index shared by many processes and machines.

An index location is a directory or a ``postgresql://`` URL; ``?index=NAME`` picks one of several indexes in a
database (each lives in its own schema, ``swsearch_NAME``; default ``default``). Everything is in tables:

- ``chunks`` (text, offsets, heading, language, token count, ``vector`` column with an HNSW index) and
  ``sentences`` (each chunk's sentences with their vectors, HNSW too), ``documents`` (metadata as jsonb);
- ``postings`` (token, chunk, term frequency): BM25 is computed in SQL from them at query time, with bm25s's
  formula ("lucene" idf and length normalisation), so its statistics are never stale after a change; ``terms``
  (each token's document frequency and total count), kept by every write in the same transaction;
- ``centroids`` (each language's mean vector, recomputed in SQL by every write) and ``words`` (jieba frequency
  and CC-CEDICT gloss of the corpus's Chinese words), from which the lexicon and translation tables are
  derived exactly as ``lexical.LexicalIndex.from_tokens`` derives them;
- ``subspace`` (the index's own language subspace, ``PgIndex.fit_subspace``: one row per direction; its record
  is ``meta``'s ``subspace``);
- ``meta`` (the index's configuration, as a manifest holds it, and a version that every write increments) and
  ``changes`` (which documents each of the last ``CHANGES_KEPT`` versions touched), so a reader whose snapshot
  is a few writes old reads again only those documents' rows.

Every search runs in one read-only REPEATABLE READ transaction: the scores, the chunks they name and the
hits' texts all come from one snapshot, so a reader sees a document with all its chunks or none, whatever a
writer does meanwhile. Every write is one transaction behind an advisory lock: writers take turns, and a
writer killed mid-batch loses only that batch. Ranking signals and fusion are ``signals``/``fusion``'s own:
the dense, centred and sentence scores are pgvector inner products, centring uses the same algebra as
``centroids.py`` (``|v - m|^2 = |v|^2 - 2 v.m + |m|^2``), so the two stores rank alike. Above
``pools.POOLS_ABOVE`` chunks a search fuses candidate pools as the FAISS store does (``PgIndex._pool``): the
dense candidates from the HNSW indexes, the lexical ones from a top-C BM25 in SQL.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from . import filters, fusion, pools, signals
from .documents import LANGUAGES, Document, as_documents, detect_language
from .errors import IndexLoadError, IndexWriteError, InputError, MissingExtraError
from .options import SearchOptions, resolve_call
from .parts import wants_clusters
from .pools import top_of
from .split import Chunk
from .subspace import RANK as SUBSPACE_RANK
from .subspace import fit_for_index
from .subspace import for_model as language_subspace
from .translations import MIN_DICE, MIN_PAIRS, TOP, record_of
from .translations import fit as fit_translations

SCHEMES = ("postgresql://", "postgres://")
FORMAT = "swsearch-postgres"
FORMAT_VERSION = 1
DEFAULT_NAME = "default"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: versions the change log keeps: a reader at most this many writes behind reloads only what they touched
CHANGES_KEPT = 1000
#: the signals this store computes in SQL (every one ``signals.SIGNALS`` declares today)
SQL_SIGNALS = ("dense", "dense_centred", "sentence", "lexical", "lexical_translated", "dense_translated")


def is_url(location: str | Path | None) -> bool:
    """True when ``location`` names a database rather than a directory."""
    return isinstance(location, str) and location.startswith(SCHEMES)


@dataclass(frozen=True)
class Location:
    """A database URL split into what libpq reads and the index name; ``shown`` has no credentials."""

    conninfo: str
    name: str
    shown: str

    @property
    def schema(self) -> str:
        return f"swsearch_{self.name}"


def parse_url(url: str) -> Location:
    """``postgresql://user:pw@host:port/db?index=NAME&sslmode=…`` → a ``Location`` (``index`` stripped)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == "index"]
    name = names[-1] if names else DEFAULT_NAME
    if not _NAME.fullmatch(name):
        raise InputError(f"index name {name[:50]!r} in the database URL must be 1-40 lowercase letters, digits or "
                         "underscores, starting with a letter (e.g. ?index=policies)")
    rest = [(k, v) for k, v in query if k != "index"]
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    host = parts.hostname or dict(rest).get("host", "localhost")
    shown = f"postgresql://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}?index={name}"
    return Location(conninfo, name, shown)


def _connect(loc: Location):
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError:
        raise MissingExtraError("a postgresql:// index needs psycopg and pgvector; install them with: "
                                "pip install 'swsearch[postgres]'") from None
    try:
        conn = psycopg.connect(loc.conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.replace(loc.conninfo, loc.shown)
        raise IndexLoadError(f"cannot connect to {loc.shown} ({_redact(first)}); check the URL, that the server "
                             "runs and that the user may log in") from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            if cur.fetchone() is None:
                try:
                    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except psycopg.Error:
                    conn.close()
                    raise IndexLoadError(f"{loc.shown} has no pgvector extension and this user may not create it; "
                                         "run CREATE EXTENSION vector; in that database as its owner") from None
        register_vector(conn)
    except psycopg.Error as exc:
        conn.close()
        raise IndexLoadError(f"{loc.shown}: {_redact(str(exc).splitlines()[0])}") from None
    return conn


def _redact(text: str) -> str:
    """No password in a message, whatever the driver put there."""
    return re.sub(r"(password\s*=\s*)\S+|(://[^:/@\s]*:)[^@\s]*@", lambda m: (m.group(1) or m.group(2)) + "***"
                  + ("" if m.group(1) else "@"), text)


#: the centred score of rows ``t`` (chunks or sentences) joined to their language's centroid ``m``, for the
#: centred query ``%(cq)s``: (cq.v - cq.m) / |v - m|, with |v - m|^2 = |v|^2 - 2 v.m + |m|^2 (``<#>`` is
#: pgvector's negative inner product). |v|^2 is read, not taken as 1: sentence vectors are rounded to float16
#: (``parts.SENTENCE_DTYPE``), off unit length by ~1e-4, and the FAISS store centres them exactly
_CENTRED = ("((-(t.embedding <#> %(cq)s)) - (-(m.mean <#> %(cq)s))) / "
            "sqrt(greatest((t.embedding <#> t.embedding) * -1 + 2 * (t.embedding <#> m.mean)"
            " + (m.mean <#> m.mean) * -1, 1e-24))")


def _bigints(values: Any) -> str:
    """Chunk keys as one ``bigint[]`` literal (cast with ``::bigint[]``): thousands of them go to the server
    about twice as fast as a list the driver adapts one by one."""
    return "{" + ",".join(map(str, np.asarray(values, dtype=np.int64).tolist())) + "}"


def _array(v: Any) -> np.ndarray:
    """A vector column's value as float32 (pgvector's ``Vector``, or a plain sequence)."""
    return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)


# ---------------------------------------------------------------------- writing
def _ddl(schema: str, dim: int) -> list[str]:
    s = schema
    return [
        f"CREATE SCHEMA {s}",
        f"CREATE TABLE {s}.meta (key text PRIMARY KEY, value jsonb NOT NULL)",
        f"CREATE TABLE {s}.documents (id text PRIMARY KEY, language text NOT NULL, meta jsonb NOT NULL)",
        f"""CREATE TABLE {s}.chunks (pk bigserial PRIMARY KEY, id text UNIQUE NOT NULL,
            doc_id text NOT NULL REFERENCES {s}.documents(id) ON DELETE CASCADE, language text NOT NULL,
            start_at integer NOT NULL, end_at integer NOT NULL, heading text NOT NULL, text text NOT NULL,
            length integer NOT NULL, embedding vector({dim}) NOT NULL)""",
        f"CREATE INDEX ON {s}.chunks (doc_id)",
        f"""CREATE TABLE {s}.sentences (pk bigserial PRIMARY KEY,
            chunk_pk bigint NOT NULL REFERENCES {s}.chunks(pk) ON DELETE CASCADE, language text NOT NULL,
            start_at integer NOT NULL, end_at integer NOT NULL, embedding vector({dim}) NOT NULL)""",
        f"CREATE INDEX ON {s}.sentences (chunk_pk)",
        f"""CREATE TABLE {s}.postings (token text NOT NULL,
            chunk_pk bigint NOT NULL REFERENCES {s}.chunks(pk) ON DELETE CASCADE, tf integer NOT NULL,
            length integer NOT NULL, PRIMARY KEY (token, chunk_pk) INCLUDE (tf, length))""",
        f"CREATE INDEX ON {s}.postings (chunk_pk)",
        f"CREATE TABLE {s}.terms (token text PRIMARY KEY, df bigint NOT NULL, total bigint NOT NULL)",
        f"CREATE TABLE {s}.changes (version bigint NOT NULL, doc_id text NOT NULL)",
        f"CREATE INDEX ON {s}.changes (version)",
        f"CREATE TABLE {s}.words (word text PRIMARY KEY, freq bigint NOT NULL, gloss jsonb)",
        f"CREATE TABLE {s}.centroids (language text PRIMARY KEY, mean vector({dim}) NOT NULL)",
        _subspace_ddl(s, dim),
    ]


def _subspace_ddl(schema: str, dim: int) -> str:
    """The table of the index's own language subspace (made by a fit on an index written before it existed)."""
    return (f"CREATE TABLE IF NOT EXISTS {schema}.subspace (position integer PRIMARY KEY, "
            f"direction vector({dim}) NOT NULL)")


def _write_subspace(cur, loc: Location, basis: np.ndarray | None, record: dict | None) -> None:
    """Replace the index's own language subspace (None: drop it) inside the caller's transaction."""
    s = loc.schema
    cur.execute(f"DELETE FROM {s}.subspace")
    cur.execute(f"DELETE FROM {s}.meta WHERE key = 'subspace'")
    if basis is not None:
        with cur.copy(f"COPY {s}.subspace (position, direction) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(np.ascontiguousarray(basis, dtype=np.float32)):
                copy.write_row((i, v))
        cur.execute(f"INSERT INTO {s}.meta VALUES ('subspace', %s)", (json.dumps(record),))


def _ann_ddl(schema: str) -> list[str]:
    """The HNSW indexes (inner product), made after a bulk load: building them once is faster than row by row."""
    return [f"CREATE INDEX ON {schema}.chunks USING hnsw (embedding vector_ip_ops)",
            f"CREATE INDEX ON {schema}.sentences USING hnsw (embedding vector_ip_ops)"]


def _lock(cur, loc: Location) -> None:
    """Writers of one index take turns (the second waits for the first's transaction to end)."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (loc.schema,))


def _own_schema(cur, loc: Location) -> dict | None:
    """The index's configuration when ``loc``'s schema is a swsearch index, None when there is no such schema;
    an error for a schema of that name that swsearch did not write (never dropped or changed)."""
    cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (loc.schema,))
    if cur.fetchone() is None:
        return None
    cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'meta'",
                (loc.schema,))
    config = None
    if cur.fetchone() is not None:
        cur.execute(f"SELECT value FROM {loc.schema}.meta WHERE key = 'config'")
        row = cur.fetchone()
        config = row[0] if row else None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise IndexWriteError(f"schema {loc.schema} in {loc.shown} was not written by swsearch; it is left alone: "
                              "choose another name with ?index=NAME")
    return config


def _bump_version(cur, schema: str) -> None:
    """The index's next version: every reader reloads (or reads the change log) at its next search."""
    cur.execute(f"UPDATE {schema}.meta SET value = to_jsonb(value::text::bigint + 1) WHERE key = 'version'")


def _write_learned(cur, loc: Location, learned: dict | None) -> None:
    """Replace the index's own learned translations (``meta``'s ``learned_translations``; None: none)."""
    cur.execute(f"DELETE FROM {loc.schema}.meta WHERE key = 'learned_translations'")
    if learned is not None:
        cur.execute(f"INSERT INTO {loc.schema}.meta VALUES ('learned_translations', %s)", (json.dumps(learned),))


def _refresh_derived(cur, loc: Location, log: bool) -> None:
    """Recompute the language centroids (two or more languages, else none) and bump the version; ``log``: the
    index keeps a change log, whose versions older than ``CHANGES_KEPT`` writes are dropped."""
    s = loc.schema
    cur.execute(f"DELETE FROM {s}.centroids")
    cur.execute(f"SELECT count(DISTINCT language) FROM {s}.chunks")
    if cur.fetchone()[0] >= 2:
        cur.execute(f"INSERT INTO {s}.centroids SELECT language, avg(embedding) FROM {s}.chunks GROUP BY language")
    _bump_version(cur, s)
    if log:  # readers further behind than this reload everything
        cur.execute(f"DELETE FROM {s}.changes WHERE version <= (SELECT value::text::bigint FROM {s}.meta "
                    "WHERE key = 'version') - %s", (CHANGES_KEPT,))


def _insert(cur, loc: Location, documents: Sequence[Mapping[str, Any]], chunks: Sequence[Chunk],
            languages: Sequence[str], vecs: np.ndarray, spans: np.ndarray | None, sent_vecs: np.ndarray | None,
            tokens: Sequence[Sequence[str]], words: Mapping[str, tuple[int, Any]], terms: bool,
            log: bool) -> None:
    """Insert documents with their chunks, sentences, postings and new words (inside the caller's transaction);
    ``terms``: the index keeps per-token statistics; ``log``: record the documents in the change log."""
    from collections import Counter

    s = loc.schema
    if log:
        _log_change(cur, loc, [d["id"] for d in documents])
    with cur.copy(f"COPY {s}.documents (id, language, meta) FROM STDIN") as copy:
        for d in documents:
            copy.write_row((d["id"], d["language"], json.dumps(d, ensure_ascii=False)))
    cur.execute(f"SELECT nextval(pg_get_serial_sequence('{s}.chunks', 'pk')) FROM generate_series(1, %s)",
                (len(chunks),))
    pks = [r[0] for r in cur.fetchall()]
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    with cur.copy(f"COPY {s}.chunks (pk, id, doc_id, language, start_at, end_at, heading, text, length, embedding) "
                  "FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "text", "text", "text", "int4", "int4", "text", "text", "int4", "vector"])
        for pk, c, lang, v, toks in zip(pks, chunks, languages, vecs, tokens):
            copy.write_row((pk, c.id, c.doc_id, lang, c.start, c.end, c.heading, c.text, len(toks), v))
    if spans is not None and sent_vecs is not None:
        sent_vecs = np.ascontiguousarray(sent_vecs, dtype=np.float32)
        with cur.copy(f"COPY {s}.sentences (chunk_pk, language, start_at, end_at, embedding) "
                      "FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "int4", "int4", "vector"])
            for (row, a, b), v in zip(spans.tolist(), sent_vecs):
                copy.write_row((pks[row], languages[row], a, b, v))
    with cur.copy(f"COPY {s}.postings (token, chunk_pk, tf, length) FROM STDIN") as copy:
        for pk, toks in zip(pks, tokens):
            for tok, tf in sorted(Counter(toks).items()):
                copy.write_row((tok, pk, tf, len(toks)))
    for word, (freq, gloss) in words.items():
        cur.execute(f"INSERT INTO {s}.words (word, freq, gloss) VALUES (%s, %s, %s) ON CONFLICT (word) DO NOTHING",
                    (word, freq, None if gloss is None else json.dumps(gloss, ensure_ascii=False)))
    if terms:
        df: Counter = Counter()
        total: Counter = Counter()
        for toks in tokens:
            df.update(set(toks))
            total.update(toks)
        cur.execute(f"""INSERT INTO {s}.terms (token, df, total)
                        SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[])
                        ON CONFLICT (token) DO UPDATE SET df = terms.df + excluded.df,
                                                          total = terms.total + excluded.total""",
                    (list(df), list(df.values()), [total[t] for t in df]))


def _log_change(cur, loc: Location, doc_ids: Sequence[str]) -> None:
    """Record that the write about to bump the version touches ``doc_ids`` (added, replaced or deleted): a reader
    whose snapshot is a few versions old reloads only their chunks and documents (``PgIndex._rows``)."""
    s = loc.schema
    cur.execute(f"""INSERT INTO {s}.changes (version, doc_id)
                    SELECT (SELECT value::text::bigint + 1 FROM {s}.meta WHERE key = 'version'), d
                    FROM unnest(%s::text[]) d""", (list(doc_ids),))


def _forget(cur, loc: Location, doc_ids: Sequence[str], terms: bool, log: bool) -> None:
    """Delete documents with everything of theirs (inside the caller's transaction), taking their postings out
    of the per-token statistics first when the index keeps them; ``log``: record them in the change log."""
    s = loc.schema
    if log:
        _log_change(cur, loc, doc_ids)
    if terms:
        cur.execute(f"""UPDATE {s}.terms t SET df = t.df - d.df, total = t.total - d.total
                        FROM (SELECT p.token, count(*) AS df, sum(p.tf) AS total FROM {s}.postings p
                              JOIN {s}.chunks c ON c.pk = p.chunk_pk WHERE c.doc_id = ANY(%s)
                              GROUP BY p.token) d
                        WHERE t.token = d.token""", (list(doc_ids),))
        cur.execute(f"DELETE FROM {s}.terms WHERE df <= 0")
    cur.execute(f"DELETE FROM {s}.documents WHERE id = ANY(%s)", (list(doc_ids),))


def create(location: str, index) -> PgIndex:
    """Write an in-memory ``Index`` to the database as one transaction, replacing a swsearch index of that name."""
    from psycopg import Error

    if index.lexical is None or not index.lexical.has_tokens:
        raise InputError("a postgresql:// index needs the lexical part with its chunk tokens; build with lexical on")
    loc = parse_url(location)
    conn = _connect(loc)
    try:
        with conn.transaction(), conn.cursor() as cur:
            _lock(cur, loc)
            if _own_schema(cur, loc) is not None:
                cur.execute(f"DROP SCHEMA {loc.schema} CASCADE")
            dim = int(index.config["model"]["dim"])
            for statement in _ddl(loc.schema, dim):
                cur.execute(statement)
            config = {**{k: index.config[k] for k in ("model", "chunking", "search") if k in index.config},
                      "format": FORMAT, "format_version": FORMAT_VERSION, "bm25": _bm25_params(index.lexical),
                      "jieba_total": _jieba_total(index.lexical), "terms": True, "changes": True}
            cur.execute(f"INSERT INTO {loc.schema}.meta VALUES ('config', %s), ('version', '0')",
                        (json.dumps(config),))
            sv = index.sentence_vectors
            _insert(cur, loc, list(index.documents.values()), index.chunks, index.chunk_languages.tolist(),
                    index.chunk_vectors.matrix(), None if sv is None else sv.spans, None if sv is None else sv.matrix,
                    index.lexical.tokens, _words_of(index.lexical), terms=True, log=False)
            # an HNSW build whose graph outgrows maintenance_work_mem (64 MB by default) slows down tenfold:
            # give this transaction room, and let the server use its parallel maintenance workers
            cur.execute("SET LOCAL maintenance_work_mem = '1GB'")
            for statement in _ann_ddl(loc.schema):
                cur.execute(statement)
            if index.subspace is not None:
                _write_subspace(cur, loc, index.subspace, index.config.get("subspace"))
            _write_learned(cur, loc, index.lexical.learned)
            _refresh_derived(cur, loc, log=False)
            cur.execute(f"ANALYZE {loc.schema}.chunks, {loc.schema}.sentences, {loc.schema}.postings")
    except Error as exc:
        conn.close()
        raise IndexWriteError(f"could not write the index to {loc.shown} ({_redact(str(exc).splitlines()[0])}); "
                              "nothing was changed") from None
    try:  # BM25 reads the postings key alone only where the visibility map says so: set it now, not at autovacuum
        conn.execute(f"VACUUM {loc.schema}.postings")
    except Error:
        pass  # not this user's to vacuum: autovacuum will, and until then BM25 also reads the table
    return PgIndex(loc, conn, embedder=index._embedder)


def _bm25_params(lexical) -> dict:
    r = lexical.retriever
    if r.method != "lucene":
        raise InputError(f"the PostgreSQL store computes BM25 as bm25s's 'lucene' method, not {r.method!r}")
    return {"k1": float(r.k1), "b": float(r.b)}


def _jieba_total(lexical) -> int:
    """jieba's total frequency, recovered from the lexicon (its last line holds the rest)."""
    from .lexical import _parse_lexicon

    return int(sum(_parse_lexicon(lexical.lexicon).values()))


def _words_of(lexical) -> dict[str, tuple[int, Any]]:
    """The corpus's Chinese words with their jieba frequency and gloss, as the lexical index holds them."""
    from .lexical import _parse_lexicon

    freq = _parse_lexicon(lexical.lexicon)
    freq.pop("\ue000", None)
    gloss = lexical.glossary or {}
    return {w: (f, gloss.get(w)) for w, f in freq.items()}


# ---------------------------------------------------------------------- reading and searching
class _Documents(Mapping):
    """Documents by id, their metadata kept as the JSON text the database sent and decoded on first use: a search
    reads a few of them (its hits), and decoding every one on each snapshot reload was a third of the reload."""

    def __init__(self, raw: dict[str, str]):
        self._raw = raw
        self._decoded: dict[str, dict] = {}

    def __getitem__(self, doc_id: str) -> dict:
        found = self._decoded.get(doc_id)
        if found is None:
            found = self._decoded[doc_id] = json.loads(self._raw[doc_id])
        return found

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._raw

    def changed(self, touched: set[str], raw: dict[str, str]) -> _Documents:
        """These documents without ``touched``, plus ``raw`` (their current rows); decoded ones stay decoded."""
        out = _Documents({**{k: v for k, v in self._raw.items() if k not in touched}, **raw})
        out._decoded = {k: v for k, v in self._decoded.items() if k not in touched}
        return out


@dataclass
class _Snapshot:
    """What one version of the index holds that every search needs: chunk keys in tie-break order, languages,
    documents, and the query-side lexicon and translation tables (reloaded only when the version changes)."""

    version: tuple[int, int]  # (the index's meta table, the version number): a rebuilt index is another one
    rows: list[tuple]  # (tie key, pk, id, doc_id, language) of every chunk, in tie-break order
    pks: np.ndarray  # chunk primary keys, rows in tie-break order
    ids: list[str]
    doc_ids: list[str]
    languages: np.ndarray
    documents: _Documents
    segmenter: Any
    tables: dict
    centroids: dict[str, np.ndarray]
    avgdl: float  # the mean chunk length in tokens, for BM25
    df: dict[str, int]  # each token's document frequency (chunks that hold it), for BM25's idf
    subspace: np.ndarray | None = None  # the index's own language subspace, if it has one
    subspace_record: dict | None = None  # how it was fitted
    learned: dict | None = None  # the index's own learned translations (``fit_translations``), if it has them
    from_log: bool = False  # made from the previous snapshot and the change log, not read whole

    @property
    def sample(self) -> np.ndarray:
        """The fixed sample of rows a candidate pool estimates the left-out chunks' ranks from (``pools.py``)."""
        if self._sample is None:
            self._sample = pools.sample_rows(len(self.pks))
        return self._sample

    @property
    def present(self) -> frozenset[str]:
        """The languages of the index's chunks (``fusion.languages_present``), once per snapshot."""
        if self._present is None:
            self._present = fusion.languages_present(self.languages)
        return self._present

    def rows_of(self, pks: np.ndarray) -> np.ndarray:
        return self._row[np.searchsorted(self._sorted, pks)]

    def __post_init__(self) -> None:
        order = np.argsort(self.pks, kind="stable")
        self._sorted = self.pks[order]
        self._row = order
        self._sample: np.ndarray | None = None
        self._present: frozenset[str] | None = None


class PgIndex:
    """An index in PostgreSQL with ``Index``'s search, change and describe methods (and the same ``Hit``\\ s)."""

    def __init__(self, loc: Location, conn, *, embedder=None):
        self.location = loc
        self._conn = conn
        self._embedder = embedder
        self._lock = threading.RLock()
        self._snapshot: _Snapshot | None = None
        with self._lock, conn.transaction(), conn.cursor() as cur:
            config = _own_schema(cur, loc)
        if config is None:
            raise IndexLoadError(f"{loc.shown} holds no swsearch index named {loc.name!r}; build one with: "
                                 f"swsearch index [CORPUS] --out '{loc.shown}'")
        if config.get("format_version") != FORMAT_VERSION:
            raise IndexLoadError(f"{loc.shown} holds a swsearch index of format {config.get('format_version')}, "
                                 f"this swsearch reads {FORMAT_VERSION}; rebuild it")
        self.config = config

    @classmethod
    def load(cls, location: str, *, model=None) -> PgIndex:
        """Open the index at a ``postgresql://`` URL; ``model`` is checked against the one it was built with."""
        loc = parse_url(location)
        index = cls(loc, _connect(loc))
        if model is not None:
            from .embed import get_embedder
            wanted = get_embedder(model)
            want = index.config["model"]
            if wanted.fingerprint() != want["fingerprint"] or wanted.dim != want["dim"]:
                raise IndexLoadError(f"{loc.shown} was built with model {want['name']}, not {wanted.name}")
            index._embedder = wanted
        return index

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ the model
    @property
    def embedder(self):
        """The query encoder, loaded on first use and checked against the model the index was built with."""
        with self._lock:
            if self._embedder is None:
                from .embed import get_query_embedder
                want = self.config["model"]
                embedder = get_query_embedder(want)
                if embedder.fingerprint() != want["fingerprint"] or embedder.dim != want["dim"]:
                    raise IndexLoadError(f"{self.location.shown} was built with model {want['name']} (fingerprint "
                                         f"{want['fingerprint'][:12]}) but the installed one differs; rebuild it")
                self._embedder = embedder
            return self._embedder

    # ------------------------------------------------------------------ snapshot
    def _read(self, cur) -> _Snapshot:
        """Start a read-only snapshot transaction's work: the version, and what it holds (cached per version)."""
        s = self.location.schema
        cur.execute(f"SELECT to_regclass(%s)::oid::bigint, value::text::bigint FROM {s}.meta WHERE key = 'version'",
                    (f"{s}.meta",))
        version = tuple(cur.fetchone())
        if self._snapshot is not None and self._snapshot.version == version:
            return self._snapshot
        from .lexical import ChineseSegmenter, lexicon_and_tables

        rows, documents, from_log = self._rows(cur, version)
        if self.config.get("terms"):  # kept by every write: a few thousand rows instead of every posting
            cur.execute(f"SELECT token, total, df FROM {s}.terms")
        else:  # an index written before the terms table existed
            cur.execute(f"SELECT token, sum(tf)::bigint, count(*) FROM {s}.postings GROUP BY token")
        stats = cur.fetchall()
        counts = {t: total for t, total, _ in stats}
        cur.execute(f"SELECT word, freq, gloss FROM {s}.words")
        words = cur.fetchall()
        cur.execute(f"SELECT language, mean FROM {s}.centroids")
        centroids = {lang: _array(m) for lang, m in cur.fetchall()}
        cur.execute(f"SELECT coalesce(avg(length), 0)::float8 FROM {s}.chunks")
        avgdl = float(cur.fetchone()[0])
        basis, record = self._read_subspace(cur)
        learned = self._read_learned(cur)
        lexicon, tables = lexicon_and_tables(counts, {w: g for w, _, g in words if g is not None},
                                             {w: f for w, f, _ in words}, int(self.config["jieba_total"]), learned)
        snap = _Snapshot(version, rows, np.array([r[1] for r in rows], dtype=np.int64), [r[2] for r in rows],
                         [r[3] for r in rows], np.array([r[4] for r in rows]), documents,
                         ChineseSegmenter(lexicon), tables, centroids, avgdl, {t: df for t, _, df in stats},
                         basis, record, learned, from_log)
        self._snapshot = snap
        return snap

    def _read_learned(self, cur) -> dict | None:
        """The index's own learned translations (``meta``'s ``learned_translations``), checked; None without."""
        from .translations import problem

        cur.execute(f"SELECT value FROM {self.location.schema}.meta WHERE key = 'learned_translations'")
        row = cur.fetchone()
        if row is None:
            return None
        bad = problem(row[0])
        if bad:
            raise IndexLoadError(f"the learned translations of {self.location.shown} are {bad}; learn them again "
                                 f"with: swsearch translations PAIRS --index '{self.location.shown}'")
        return row[0]

    def _read_subspace(self, cur) -> tuple[np.ndarray | None, dict | None]:
        """The index's own language subspace and its record, checked; (None, None) when it has none."""
        from .subspace import problem

        s = self.location.schema
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{s}.subspace",))
        if not cur.fetchone()[0]:  # written before the table existed
            return None, None
        cur.execute(f"SELECT direction FROM {s}.subspace ORDER BY position")
        rows = [_array(r[0]) for r in cur.fetchall()]
        cur.execute(f"SELECT value FROM {s}.meta WHERE key = 'subspace'")
        record = cur.fetchone()
        if not rows and record is None:
            return None, None
        basis = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
        record = record[0] if record is not None and isinstance(record[0], dict) else None
        bad = ("without its record" if record is None else problem(basis, int(self.config["model"]["dim"]))
               or (None if len(basis) == record.get("rank") else "not of its record's rank"))
        if bad:
            raise IndexLoadError(f"the language subspace of {self.location.shown} is {bad}; fit it again with: "
                                 f"swsearch subspace PAIRS --index '{self.location.shown}'")
        return basis, record

    def _rows(self, cur, version: tuple[int, int]) -> tuple[list[tuple], _Documents, bool]:
        """Every chunk's (tie key, pk, id, doc_id, language) in tie-break order, and the documents, at
        ``version``: from the cached snapshot and the change log when it covers every write since (only the
        documents those writes touched are read again), else all of them."""
        import heapq

        from .index import tie_key_of

        s, old = self.location.schema, self._snapshot
        if (old is not None and self.config.get("changes") and old.version[0] == version[0]
                and old.version[1] < version[1]):
            cur.execute(f"SELECT count(DISTINCT version), array_agg(DISTINCT doc_id) FROM {s}.changes "
                        "WHERE version > %s AND version <= %s", (old.version[1], version[1]))
            steps, touched = cur.fetchone()
            if steps == version[1] - old.version[1]:
                touched = set(touched or ())
                cur.execute(f"SELECT pk, id, doc_id, language FROM {s}.chunks WHERE doc_id = ANY(%s)",
                            (list(touched),))
                new = sorted((tie_key_of(r[1], r[2]), *r) for r in cur.fetchall())
                cur.execute(f"SELECT id, meta::text FROM {s}.documents WHERE id = ANY(%s)", (list(touched),))
                documents = old.documents.changed(touched, dict(cur.fetchall()))
                kept = [r for r in old.rows if r[3] not in touched]
                return list(heapq.merge(kept, new)), documents, True
        cur.execute(f"SELECT pk, id, doc_id, language FROM {s}.chunks")
        rows = sorted((tie_key_of(r[1], r[2]), *r) for r in cur.fetchall())
        cur.execute(f"SELECT id, meta::text FROM {s}.documents")
        return rows, _Documents(dict(cur.fetchall())), False

    def _begin_read(self, cur) -> None:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # BM25 aggregates the query words' postings per chunk (up to every chunk): PostgreSQL's default 4 MB
        # spills that to disk and sorts instead of hashing, about twice as slow from 100k chunks up
        cur.execute("SET LOCAL work_mem = '64MB'")

    @property
    def documents(self) -> dict[str, dict]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            return dict(self._read(cur).documents)

    def __len__(self) -> int:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            return len(self._read(cur).pks)

    @property
    def default_mode(self) -> str:
        return (self.config.get("search") or {}).get("default_mode", "hybrid")

    # ------------------------------------------------------------------ searching
    def search(self, query: str, k: int = 5, **kw) -> list:
        """``Index.search`` on the database (same keywords, same ``Hit``\\ s)."""
        return self.search_batch([query], k, **kw)[0]

    def search_batch(self, queries: Sequence[str], k: int = 5, *, doc_ids: Sequence[str] | str | None = None,
                     language: str | None = None, where: Mapping[str, Any] | None = None,
                     options: SearchOptions | None = None, batch_size: int = 32, **shorthand: Any) -> list[list]:
        """``Index.search_batch`` on the database: every query's scores, chunks and texts from one snapshot."""
        from .index import Index, embed_translations
        from .lexical import tokenize, translate

        queries = Index._check_queries(queries)
        opts = resolve_call(options, self.default_mode, **shorthand)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InputError(f"k must be a whole number of at least 1 (got {k!r})")
        if language is not None and language not in LANGUAGES:
            raise InputError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
        missing = [s.name for s in signals.SIGNALS if s.name not in SQL_SIGNALS]
        if missing:
            raise InputError(f"the PostgreSQL store cannot compute the signal {missing[0]!r}")
        qvecs = None
        if opts.mode != "lexical":
            qvecs = self.embedder.encode_queries(list(queries), batch_size=batch_size)
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            snap = self._read(cur)
            rows = self._rows_for(snap, doc_ids, language, where)
            present = frozenset()
            if opts.mode == "hybrid" and fusion.may_translate_query(opts.fusion, opts.weights):
                if language is not None:  # the languages a hit can be in; every row is in this one: no pass
                    present = frozenset({language})
                else:
                    present = snap.present if rows is None else fusion.languages_present(snap.languages[rows])
            methods, wanted = fusion.plan(opts.fusion, opts.weights, queries, present)
            tvecs = embed_translations(self.embedder, [
                translate(tokenize(q, snap.segmenter), snap.tables) if want and opts.translate else None
                for q, want in zip(queries, wanted)], batch_size)
            out = []
            for i, q in enumerate(queries):
                qv = None if qvecs is None else qvecs[i]
                out.append(self._search_one(cur, snap, q, qv, replace(opts, fusion=methods[i]), k, rows,
                                            language if doc_ids is None and where is None else None, tvecs[i]))
            return out

    def _rows_for(self, snap: _Snapshot, doc_ids, language, where) -> np.ndarray | None:
        if doc_ids is None and language is None and where is None:
            return None
        keep = np.ones(len(snap.pks), dtype=bool)
        if where is not None:
            kept = set(filters.matching_documents(snap.documents.values(), where))
            keep &= np.array([d in kept for d in snap.doc_ids], dtype=bool)
        if doc_ids is not None:
            wanted = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
            unknown = [d for d in wanted if d not in snap.documents]
            if unknown:
                raise InputError(f"unknown document id {unknown[0]!r}; `swsearch info` lists the ids in this index")
            wanted_set = set(wanted)
            keep &= np.array([d in wanted_set for d in snap.doc_ids], dtype=bool)
        if language is not None:
            keep &= snap.languages == language
        return np.flatnonzero(keep)

    def _vector_scores(self, cur, snap: _Snapshot, qv: np.ndarray, cq: np.ndarray | None, use_sentences: bool,
                       rows: np.ndarray | None = None, tq: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """dense, dense_centred and sentence scores of every chunk (or of ``rows``, in that order), by pgvector in
        one snapshot; with ``tq`` (the translated query's vector) dense_translated too."""
        s = self.location.schema
        n = len(snap.pks)
        place = np.arange(n) if rows is None else np.full(n, -1)
        if rows is not None:
            place[rows] = np.arange(len(rows))
        size = n if rows is None else len(rows)
        params = {"q": qv, "cq": cq, "tq": tq, "pks": None if rows is None else _bigints(snap.pks[rows])}
        only = "" if rows is None else "WHERE t.pk = ANY(%(pks)s::bigint[])"
        only_sentences = "" if rows is None else "WHERE t.chunk_pk = ANY(%(pks)s::bigint[])"

        def fetch(sql: str, width: int) -> tuple[np.ndarray, np.ndarray]:
            cur.execute(sql, params)
            got = np.array(cur.fetchall(), dtype=np.float64).reshape(-1, width)
            return place[snap.rows_of(got[:, 0].astype(np.int64))], got

        out: dict[str, np.ndarray] = {}
        if tq is not None:
            at, got = fetch(f"SELECT t.pk, -(t.embedding <#> %(tq)s) FROM {s}.chunks t {only}", 2)
            out["dense_translated"] = np.zeros(size)
            out["dense_translated"][at] = got[:, 1]
        if cq is None:
            at, got = fetch(f"SELECT t.pk, -(t.embedding <#> %(q)s) FROM {s}.chunks t {only}", 2)
            out["dense"] = np.zeros(size)
            out["dense"][at] = got[:, 1]
            if use_sentences:
                at, got = fetch(f"""SELECT t.chunk_pk, max(-(t.embedding <#> %(q)s)) FROM {s}.sentences t
                                    {only_sentences} GROUP BY t.chunk_pk""", 2)
                out["sentence"] = np.full(size, -np.inf)
                out["sentence"][at] = got[:, 1]
            return out
        at, got = fetch(f"""SELECT t.pk, -(t.embedding <#> %(q)s), {_CENTRED}
                            FROM {s}.chunks t JOIN {s}.centroids m USING (language) {only}""", 3)
        out["dense"], out["dense_centred"] = np.zeros(size), np.zeros(size)
        out["dense"][at], out["dense_centred"][at] = got[:, 1], got[:, 2]
        if use_sentences:
            at, got = fetch(f"""SELECT t.chunk_pk, max({_CENTRED}) FROM {s}.sentences t
                                JOIN {s}.centroids m USING (language) {only_sentences} GROUP BY t.chunk_pk""", 2)
            out["sentence"] = np.full(size, -np.inf)
            out["sentence"][at] = got[:, 1]
        return out

    def _nearest(self, cur, snap: _Snapshot, vector: np.ndarray, c: int, language: str | None,
                 rows: np.ndarray | None, *, sentences: bool = False) -> np.ndarray:
        """The rows of the ``c`` chunks nearest ``vector`` by inner product through the HNSW index (of one
        language, inside ``rows``): a candidate pool. pgvector 0.6 (pgserver's) filters after the graph search,
        so ``hnsw.ef_search`` is raised by the share the filter keeps (at most 1,000); a narrow filter can
        still leave fewer than ``c`` (pgvector 0.8's iterative scans would not). ``sentences``: the chunks of
        the nearest sentences instead, each once at its best (the sentence ranking's candidates). Nothing is
        asked of the database when the filter keeps no row of the language."""
        s = self.location.schema
        table, key, limit = ("sentences", "chunk_pk", 4 * c) if sentences else ("chunks", "pk", c)
        where, params = [], {"v": vector, "c": limit}
        kept = np.ones(len(snap.pks), dtype=bool)
        if language is not None:
            where.append("language = %(lang)s")
            params["lang"] = language
            kept &= snap.languages == language
        if rows is not None:
            where.append(f"{key} = ANY(%(pks)s::bigint[])")
            params["pks"] = _bigints(snap.pks[rows])
            inside = np.zeros(len(snap.pks), dtype=bool)
            inside[rows] = True
            kept &= inside
        if not kept.any():  # e.g. the other language's graph under a language filter: ef_search 1,000 for nothing
            return np.zeros(0, dtype=np.int64)
        share = int(kept.sum()) / max(len(snap.pks), 1)
        cur.execute("SELECT set_config('hnsw.ef_search', %s, true)",
                    (str(min(1000, max(40, int(limit / share)))),))
        cur.execute(f"SELECT {key} FROM {s}.{table} {'WHERE ' + ' AND '.join(where) if where else ''} "
                    f"ORDER BY embedding <#> %(v)s LIMIT %(c)s", params)
        found = [r[0] for r in cur.fetchall()]
        got = np.array(list(dict.fromkeys(found))[:c], dtype=np.int64)  # each chunk once, at its best sentence
        return snap.rows_of(got) if len(got) else got

    def _pool(self, cur, snap: _Snapshot, qv: np.ndarray, cq: np.ndarray | None, lexical: dict[str, list[str]],
              use_sentences: bool, c: int, rows: np.ndarray | None, need: int,
              language: str | None = None, tq: np.ndarray | None = None) -> pools.Pool:
        """``pools.pooled_lists`` on the database: the dense rankings' top ``c`` from the HNSW index (per language
        for the centred one; the sentence ranking's from the sentences' HNSW index above ``parts.CLUSTERS_ABOVE``
        chunks, where the FAISS store's inverted file offers them), the lexical rankings' (``lexical``: their
        tokens) from one BM25 pass in SQL, every ranking scored exactly over the union and over the fixed sample
        of the others (rows are in tie-break order here). Should the graph's filtered search leave fewer than
        ``need`` candidates, every row the filter keeps is one. ``language``: set when the filter is that
        language alone (``rows`` are its rows): the graph searches then say ``language = ...`` instead of
        sending every row's key (110 of 360 ms a search at 101k chunks)."""
        found = []
        near = None if language is not None else rows  # the language condition alone keeps exactly ``rows``
        if rows is not None and len(rows) <= 4 * c:  # a narrow filter: every row it keeps is a candidate
            found.append(rows)
        else:
            found.append(self._nearest(cur, snap, qv, c, language, near))
            if cq is not None:
                found += [self._nearest(cur, snap, cq, c, lang, near) for lang in sorted(snap.centroids)
                          if language in (None, lang)]
            if use_sentences and wants_clusters(len(snap.pks)):  # where the FAISS store's sentences offer theirs
                langs = sorted(snap.centroids) if cq is not None else [language]
                found += [self._nearest(cur, snap, qv if cq is None else cq, c, lang, near, sentences=True)
                          for lang in langs if language in (None, lang)]
            if tq is not None:
                found.append(self._nearest(cur, snap, tq, c, language, near))
        dense = np.unique(np.concatenate(found))
        bm25 = self._bm25(cur, snap, lexical, top=c, rows=np.union1d(dense, snap.sample), allowed=rows)
        union = np.unique(np.concatenate([dense, *(top_of(v, c, rows) for v in bm25.values())]))
        if len(union) < need:
            union = np.arange(len(snap.pks)) if rows is None else np.unique(rows)
            if lexical:
                bm25 = self._bm25(cur, snap, lexical)
        others, scored = pools.with_sample(union, snap.sample)
        lists = self._vector_scores(cur, snap, qv, cq, use_sentences, scored, tq)
        lists.update({name: v[scored] for name, v in bm25.items()})
        return pools.make_pool(union, others, lists, len(snap.pks))

    def _bm25(self, cur, snap: _Snapshot, lexical: Mapping[str, Sequence[str]], *, top: int = 0,
              rows: np.ndarray | None = None, allowed: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """BM25 of every chunk for each lexical ranking (``lexical``: name -> tokens; repeats count again, unknown
        tokens add nothing), in one SQL pass over the query tokens' postings (index-only: the key holds tf and
        length; the idf comes from the snapshot's document frequencies). With ``top``, only what a candidate pool
        needs leaves the database: each ranking's ``top`` best (inside ``allowed``) and the scores of ``rows``;
        every other chunk reads 0 (a common word's posting list can hold most of the corpus)."""
        from collections import Counter

        n = len(snap.pks)
        out = {name: np.zeros(n) for name in lexical}
        counted = {name: Counter(t for t in tokens if t in snap.df) for name, tokens in lexical.items()}
        tokens = sorted(set().union(*counted.values())) if counted else []
        if not tokens:
            return out
        p, s = self.config["bm25"], self.location.schema
        df = np.array([snap.df[t] for t in tokens], dtype=np.float64)
        params: dict[str, Any] = {"tokens": tokens, "idf": np.log(1 + (n - df + 0.5) / (df + 0.5)).tolist(),
                                  "k1": p["k1"], "b": p["b"], "avgdl": snap.avgdl, "top": top}
        names = list(lexical)
        for i, name in enumerate(names):
            params[f"m{i}"] = [counted[name][t] for t in tokens]
        mults = ", ".join(f"%(m{i})s::int[]" for i in range(len(names)))
        cols = ", ".join(f"m{i}" for i in range(len(names)))
        sums = ", ".join(f"sum(q.m{i} * w.w) AS s{i}" for i in range(len(names)))
        picked = ", ".join(f"s{i}" for i in range(len(names)))
        sql = f"""WITH q AS (SELECT * FROM unnest(%(tokens)s::text[], %(idf)s::float8[], {mults})
                             q(token, idf, {cols})),
                  agg AS {"MATERIALIZED" if top else ""} (
                      SELECT p.chunk_pk, {sums} FROM {s}.postings p JOIN q USING (token)
                      CROSS JOIN LATERAL (SELECT q.idf * p.tf / (p.tf + %(k1)s::float8 * (1 - %(b)s::float8
                                                 + %(b)s::float8 * p.length / %(avgdl)s::float8))) w(w)
                      GROUP BY p.chunk_pk)"""
        if not top:
            sql += f" SELECT chunk_pk, {picked} FROM agg"
        else:  # rows: a hash join with them (``chunk_pk = ANY(array)`` scans the whole array for every posting)
            inside = "" if allowed is None else "JOIN unnest(%(allowed)s::bigint[]) a(chunk_pk) USING (chunk_pk)"
            parts = [f"SELECT chunk_pk, {picked} FROM agg WHERE chunk_pk IN (SELECT unnest(%(rows)s::bigint[]))"]
            parts += [f"(SELECT chunk_pk, {picked} FROM agg {inside} WHERE s{i} > 0 ORDER BY s{i} DESC, chunk_pk "
                      "LIMIT %(top)s)" for i in range(len(names))]
            sql += " " + " UNION ".join(parts)
            params["rows"] = _bigints(snap.pks[rows] if rows is not None else [])
            params["allowed"] = None if allowed is None else _bigints(snap.pks[allowed])
        cur.execute(sql, params)
        got = np.array(cur.fetchall(), dtype=np.float64).reshape(-1, len(names) + 1)
        if len(got):
            at = snap.rows_of(got[:, 0].astype(np.int64))
            for i, name in enumerate(names):
                out[name][at] = got[:, i + 1]
        return out

    def _search_one(self, cur, snap: _Snapshot, query: str, qv: np.ndarray | None, opts: SearchOptions, k: int,
                    rows: np.ndarray | None, language: str | None = None, tq: np.ndarray | None = None) -> list:
        """One query's hits inside ``rows`` (None: every chunk); ``language``: set when the filter is that
        language alone; ``tq``: the translated query's vector when the search ranks by it."""
        from .centroids import Centring
        from .index import _language_groups
        from .lexical import tokenize, translate

        n = len(snap.pks)
        available = n if rows is None else len(rows)
        if available == 0:
            return []
        use_centroids = bool(opts.centroids) and bool(snap.centroids)
        cq = None
        if qv is not None and use_centroids:
            centring = Centring(snap.centroids, np.array(sorted(snap.centroids)),
                                snap.subspace if snap.subspace is not None else language_subspace(self.config["model"]))
            cq = centring.centre_queries(qv[None, :], [detect_language(query)], bool(opts.subspace))[0]
        use_sentences = (opts.mode == "hybrid" and bool(opts.sentences)
                         and bool(self.config.get("search", {}).get("sentences")))
        lexical: dict[str, list[str]] = {}  # each lexical ranking's tokens
        own = translated = []
        if opts.mode != "dense":
            own = tokenize(query, snap.segmenter)
            translated = translate(own, snap.tables) if opts.translate else []
            lexical["lexical"] = own + translated
            if translated and opts.mode == "hybrid":
                lexical["lexical_translated"] = translated
        c = pools.pool_size(opts.candidates, n) if opts.mode == "hybrid" else 0
        if c:  # candidate pools: ``pools.py``
            pool = self._pool(cur, snap, qv, cq, lexical, use_sentences, max(c, k), rows, min(k, available),
                              language, tq)
            order = np.arange(len(pool.rows))  # rows, and so the pool, are in tie-break order already
            groups = _language_groups(snap.languages[pool.rows], order) if opts.language_pools else None
            fused = fusion.fuse_rankings(pool.lists, opts.weights, opts.fusion, order, groups, pool.outside,
                                         snap.languages[pool.rows] if opts.agreement else None, n)
            if opts.feedback and qv is not None:
                top = pool.rows[fusion.top_k(fused, opts.feedback, order)]
                extra = self._feedback_scores(cur, snap, qv if cq is None else cq, cq is not None, top,
                                              use_sentences, pool.rows)
                fused = fused + fusion.fuse(extra, fusion.FEEDBACK_WEIGHTS, opts.fusion, order)
            best = fusion.top_k(fused, min(k, available), order)
            return self._hits(cur, snap, pool.rows[best], fused[best], cq if cq is not None else qv, cq is not None,
                              set(own) | set(translated))
        order = np.arange(n)  # rows are in tie-break order already
        lists: dict[str, np.ndarray] = {}
        if qv is not None:
            lists = self._vector_scores(cur, snap, qv, cq, use_sentences, tq=tq)
            if opts.mode == "dense":
                lists = {"dense_centred" if cq is not None else "dense":
                         lists["dense_centred"] if cq is not None else lists["dense"]}
        lists.update(self._bm25(cur, snap, lexical))
        if opts.mode == "hybrid":
            groups = _language_groups(snap.languages, order) if opts.language_pools else None
            scores = fusion.fuse_rankings(lists, opts.weights, opts.fusion, order, groups,
                                          languages=snap.languages if opts.agreement else None, corpus_size=n)
            if opts.feedback and qv is not None:
                top = fusion.top_k(scores, opts.feedback, order)
                extra = self._feedback_scores(cur, snap, qv if cq is None else cq, cq is not None, top,
                                              use_sentences)
                scores = scores + fusion.fuse(extra, fusion.FEEDBACK_WEIGHTS, opts.fusion, order)
        else:
            scores = next(iter(lists.values())).astype(np.float64)
        if rows is not None:
            masked = np.full(n, -np.inf)
            masked[rows] = scores[rows]
            scores = masked
        top = fusion.top_k(scores, min(k, available), order)
        return self._hits(cur, snap, top, scores[top], cq if cq is not None else qv, cq is not None,
                          set(own) | set(translated))

    def _feedback_scores(self, cur, snap: _Snapshot, qvec: np.ndarray, centred: bool, top: np.ndarray,
                         use_sentences: bool, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``Index._feedback_scores`` on the database: the query (centred when ``centred``) moved towards the
        mean of its ``top`` chunks in the space it was scored in, scored again over every chunk or ``rows``."""
        from .centroids import Centring
        from .embed import normalize

        cur.execute(f"SELECT embedding, language FROM {self.location.schema}.chunks WHERE pk = ANY(%s::bigint[])",
                    (_bigints(snap.pks[top]),))
        got = cur.fetchall()
        vecs = np.stack([_array(v) for v, _ in got])
        if centred:  # the folder store's algebra: each vector minus its language's centroid, normalised again
            centring = Centring(snap.centroids, np.array([lang for _, lang in got]))
            codes = centring.chunk_codes
            vecs = centring.rows(vecs, codes, centring.norms(iter([vecs]), codes))
        q2 = normalize(qvec[None, :] + vecs.mean(axis=0))[0]
        lists = self._vector_scores(cur, snap, q2, q2 if centred else None, use_sentences, rows)
        extra = {"feedback": lists["dense_centred" if centred else "dense"]}
        if use_sentences:
            extra["feedback_sentence"] = lists["sentence"]
        return extra

    def _hits(self, cur, snap: _Snapshot, top: np.ndarray, scores: np.ndarray, qv: np.ndarray | None,
              centred: bool, words: set[str]) -> list:
        from .index import lexical_highlight, make_hit
        from .lexical import tokenize

        s = self.location.schema
        pks = [int(snap.pks[r]) for r in top]
        cur.execute(f"SELECT pk, id, doc_id, text, start_at, end_at, heading FROM {s}.chunks WHERE pk = ANY(%s)",
                    (pks,))
        by_pk = {r[0]: r for r in cur.fetchall()}
        best: dict[int, tuple[int, int]] = {}
        if qv is not None and self.config.get("search", {}).get("sentences"):
            if centred:
                expr, join = _CENTRED, f"JOIN {s}.centroids m USING (language)"
            else:
                expr, join = "-(t.embedding <#> %(cq)s)", ""
            cur.execute(f"""SELECT DISTINCT ON (t.chunk_pk) t.chunk_pk, t.start_at, t.end_at
                            FROM {s}.sentences t {join} WHERE t.chunk_pk = ANY(%(pks)s)
                            ORDER BY t.chunk_pk, {expr} DESC, t.start_at""", {"cq": qv, "pks": pks})
            best = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        hits = []
        for pk, score in zip(pks, scores):
            _, cid, doc_id, text, start, end, heading = by_pk[pk]
            chunk = Chunk(id=cid, doc_id=doc_id, text=text, start=start, end=end, heading=heading)
            highlight = best.get(pk)
            if highlight is None and qv is None:
                highlight = lexical_highlight(chunk, words, lambda t: tokenize(t, snap.segmenter))
            hits.append(make_hit(len(hits) + 1, score, chunk, snap.documents[doc_id], highlight))
        return hits

    # ------------------------------------------------------------------ changing
    def add(self, documents: str | Path | Iterable[Document | str], *, batch_size: int = 32,
            show_progress: bool = False) -> PgIndex:
        """Add documents in one transaction (an id already there is an error; see ``upsert``)."""
        return self._change(as_documents(documents), replace=False, batch_size=batch_size,
                            show_progress=show_progress)

    def upsert(self, documents: str | Path | Iterable[Document | str], *, batch_size: int = 32,
               show_progress: bool = False) -> PgIndex:
        """``add``, replacing documents whose ids are already there, in one transaction."""
        return self._change(as_documents(documents), replace=True, batch_size=batch_size,
                            show_progress=show_progress)

    def delete(self, doc_ids: Iterable[str] | str) -> PgIndex:
        """Delete documents by id in one transaction: their chunks, sentences and postings go with them."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        if not ids:
            raise InputError("no document id to delete")
        s = self.location.schema
        with self._lock, self._write() as cur:
            cur.execute(f"SELECT id FROM {s}.documents WHERE id = ANY(%s)", (ids,))
            found = {r[0] for r in cur.fetchall()}
            unknown = [d for d in ids if d not in found]
            if unknown:
                raise InputError(f"unknown document id {unknown[0]!r}; `swsearch info` lists the ids in this index")
            cur.execute(f"SELECT count(*) FROM {s}.documents")
            if cur.fetchone()[0] == len(found):
                raise InputError("deleting every document would leave an empty index; build a new one instead")
            _forget(cur, self.location, ids, bool(self.config.get("terms")), bool(self.config.get("changes")))
            _refresh_derived(cur, self.location, log=bool(self.config.get("changes")))
        return self

    def _write(self):
        """A write transaction holding the index's writer lock; database errors become one-line errors."""
        index = self

        class _Txn:
            def __enter__(self):
                self.txn = index._conn.transaction()
                self.txn.__enter__()
                self.cur = index._conn.cursor()
                _lock(self.cur, index.location)
                return self.cur

            def __exit__(self, kind, exc, tb):
                from psycopg import Error
                self.cur.close()
                self.txn.__exit__(kind, exc, tb)
                if isinstance(exc, Error):
                    raise IndexWriteError(f"could not change {index.location.shown} "
                                          f"({_redact(str(exc).splitlines()[0])}); nothing was changed") from None
                return False

        return _Txn()

    def _change(self, docs: list[Document], *, replace: bool, batch_size: int, show_progress: bool) -> PgIndex:
        from .index import _document_meta, _lexical_text, embed_new_documents
        from .lexical import _CJK_RUN, full_segmenter, glossary, tokenize

        if not docs:
            raise InputError("no documents to add")
        chunks, vecs, sentences = embed_new_documents(docs, self._document_embedder, self.config,
                                                      bool(self.config.get("search", {}).get("sentences")),
                                                      batch_size, show_progress)
        spans, sent_vecs = (None, None) if sentences is None else (sentences.spans, sentences.matrix)
        seg = full_segmenter()
        tokens = [tokenize(_lexical_text(c), seg) for c in chunks]
        lang = {d.id: d.language for d in docs}
        s = self.location.schema
        with self._lock, self._write() as cur:
            ids = [d.id for d in docs]
            cur.execute(f"SELECT id FROM {s}.documents WHERE id = ANY(%s)", (ids,))
            there = [r[0] for r in cur.fetchall()]
            if there and not replace:
                raise InputError(f"document {there[0]!r} is already in the index; use upsert to replace it, or "
                                 "delete it")
            if there:
                _forget(cur, self.location, there, bool(self.config.get("terms")), bool(self.config.get("changes")))
            new_words = {t for toks in tokens for t in toks if _CJK_RUN.fullmatch(t)}
            cur.execute(f"SELECT word FROM {s}.words WHERE word = ANY(%s)", (sorted(new_words),))
            new_words -= {r[0] for r in cur.fetchall()}
            gloss = glossary(new_words) if new_words else {}
            words = {w: (seg.frequency(w), gloss.get(w)) for w in new_words}
            _insert(cur, self.location, [_document_meta(d) for d in docs], chunks, [lang[c.doc_id] for c in chunks],
                    vecs, spans, sent_vecs, tokens, words, terms=bool(self.config.get("terms")),
                    log=bool(self.config.get("changes")))
            _refresh_derived(cur, self.location, log=bool(self.config.get("changes")))
        return self

    def fit_subspace(self, pairs: str | Path | Iterable[Mapping[str, str]], *, rank: int = SUBSPACE_RANK,
                     batch_size: int = 32, show_progress: bool = False) -> PgIndex:
        """``Index.fit_subspace`` in one transaction: every process searching this index uses it from its next
        search on."""
        basis, record = fit_for_index(pairs, self._document_embedder(), self.centroids, rank=rank,
                                      batch_size=batch_size, show_progress=show_progress)
        return self._set_subspace(basis, record)

    def drop_subspace(self) -> PgIndex:
        """``Index.drop_subspace`` in one transaction."""
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            if self._read(cur).subspace is None:
                raise InputError("this index has no language subspace of its own to drop")
        return self._set_subspace(None, None)

    def _set_subspace(self, basis: np.ndarray | None, record: dict | None) -> PgIndex:
        s = self.location.schema
        with self._lock, self._write() as cur:
            cur.execute(_subspace_ddl(s, int(self.config["model"]["dim"])))
            _write_subspace(cur, self.location, basis, record)
            _bump_version(cur, s)
        return self

    def fit_translations(self, pairs: str | Path | Iterable[Mapping[str, str]], *, min_pairs: int = MIN_PAIRS,
                         min_dice: float = MIN_DICE, top: int = TOP) -> PgIndex:
        """``Index.fit_translations`` in one transaction: every process searching this index translates with them
        from its next search on."""
        return self._set_learned(fit_translations(pairs, min_pairs=min_pairs, min_dice=min_dice, top=top))

    def drop_translations(self) -> PgIndex:
        """``Index.drop_translations`` in one transaction."""
        if self.translations_record is None:
            raise InputError("this index has no learned translations of its own to drop")
        return self._set_learned(None)

    @property
    def translations_record(self) -> dict[str, Any] | None:
        """``Index.translations_record``: as of the index's latest version."""
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            return record_of(self._read(cur).learned)

    def _set_learned(self, learned: dict | None) -> PgIndex:
        with self._lock, self._write() as cur:
            _write_learned(cur, self.location, learned)
            _bump_version(cur, self.location.schema)
        return self

    def _document_embedder(self):
        from .embed import document_embedder
        return document_embedder(self.config["model"], self._embedder, self.location.shown)

    def save(self, path: str | Path | None = None) -> str:
        """Changes are saved by the transaction that made them; ``save()`` only says where the index lives."""
        if path is not None:
            raise InputError("an index in PostgreSQL is saved as it changes; to copy it to a folder, build there")
        return self.location.shown

    # ------------------------------------------------------------------ describing
    def info(self) -> dict[str, Any]:
        from .embed import query_engine

        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            snap = self._read(cur)
            cur.execute(f"SELECT count(*) FROM {self.location.schema}.sentences")
            n_sent = cur.fetchone()[0]
        return {"model": self.config["model"], "chunking": self.config["chunking"], "index_type": "pgvector hnsw",
                "search": self.config.get("search"), "query_engine": query_engine(self.config["model"]),
                "counts": {"documents": len(snap.documents), "chunks": len(snap.pks), "sentences": n_sent},
                "documents": [snap.documents[d] for d in sorted(snap.documents)], "path": self.location.shown,
                "version": str(snap.version[1]), **({"subspace": snap.subspace_record} if snap.subspace_record else {}),
                **({"translations": record_of(snap.learned)} if snap.learned else {})}

    @property
    def centroids(self) -> dict[str, np.ndarray]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            return dict(self._read(cur).centroids)

    @property
    def subspace_record(self) -> dict[str, Any] | None:
        """``Index.subspace_record``: as of the index's latest version."""
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            self._begin_read(cur)
            return self._read(cur).subspace_record

    def __repr__(self) -> str:
        return f"PgIndex({self.location.shown!r}, model={self.config['model']['name']!r})"
