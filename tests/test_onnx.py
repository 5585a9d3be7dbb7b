"""The torch-free query path: ONNX export of a sentence-transformers model gives the same answers."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import swsearch
from swsearch.embed import get_embedder, get_query_embedder

# the MiniLM build and export cost about a minute: make test-benchmarks (CI) runs these, make test does not
pytestmark = [pytest.mark.slow, pytest.mark.export]
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn")
LONG = " ".join(["The community worker team is staffed according to the number of urban residents."] * 40)
QUERIES = ["When was the China Association of Social Workers founded?", "volunteer insurance",
           "社区工作者按每万城镇常住人口多少人配备", "人民调解委员会调解民间纠纷，不收取任何费用", LONG]


@pytest.fixture(scope="module")
def minilm_index(tmp_path_factory, home):
    docs = [d for d in swsearch.load_corpus() if d.id[:2] in ("00", "03", "05")]  # ~170 chunks: enough to compare
    with pytest.MonkeyPatch.context() as mp:  # the build exports the model: into the tests' home, as queries do
        mp.setenv("SWSEARCH_HOME", str(home))
        index = swsearch.Index.build(docs, model="all-MiniLM-L6-v2")
    path = index.save(tmp_path_factory.mktemp("ix") / "minilm")
    return index, path


def test_onnx_query_vectors_equal_sentence_transformers(minilm_index):
    index, _ = minilm_index
    st = get_embedder("all-MiniLM-L6-v2")
    onnx = get_query_embedder(index.config["model"])
    assert type(onnx).__name__ == "OnnxEmbedder"
    assert st.count_tokens(LONG, query=True) > st.max_tokens  # the long one is really over the limit
    a = st.encode_queries(QUERIES)
    b = onnx.encode_queries(QUERIES)
    assert np.min(np.sum(a * b, axis=1)) >= 0.9999
    single = onnx.encode_queries([QUERIES[2]])[0]
    assert float(single @ a[2]) >= 0.9999


def test_top10_identical_on_the_dev_questions(minilm_index):
    from tests.conftest import SHARED
    index, path = minilm_index
    dev = SHARED / "data" / "policy_dev_queries.jsonl"
    queries = [json.loads(line)["query"] for line in dev.read_text().splitlines()] if dev.exists() else QUERIES
    loaded = swsearch.Index.load(path)
    for mode in ("dense", "hybrid"):
        torch_side = index.search_batch(queries, k=10, mode=mode)  # built in-process: sentence-transformers
        onnx_side = loaded.search_batch(queries, k=10, mode=mode)
        assert type(loaded.embedder).__name__ == "OnnxEmbedder"
        for q, a, b in zip(queries, torch_side, onnx_side):
            a, b = [h.chunk_id for h in a], [h.chunk_id for h in b]
            if mode == "dense" or q.isascii():
                assert a == b, q
            else:  # English-only MiniLM maps Chinese to near-identical vectors: rank ties may break either way
                assert set(a) == set(b), q


def _cli_modules(args, env=None):
    """Run the CLI in a fresh process and report which heavy modules it imported (on stderr)."""
    code = ("import sys, swsearch.cli\ntry:\n    rc = swsearch.cli.main(sys.argv[1:])\n"
            "except SystemExit as exc:\n    rc = exc.code\n"
            f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("which", ["minilm", "default"])
def test_query_info_and_help_import_no_heavy_module(minilm_index, which):
    _, path = minilm_index
    index_args = ["--index", str(path)] if which == "minilm" else []
    for args in (["query", "community workers", *index_args, "--json"], ["info", *index_args], ["--help"]):
        proc = _cli_modules(args)
        assert "HEAVY []" in proc.stderr, (args, proc.stderr[-500:])


def test_fallback_to_sentence_transformers_when_onnx_is_off(minilm_index):
    _, path = minilm_index
    proc = _cli_modules(["query", "community workers", "--index", str(path), "-k", "3", "--json"],
                        env={"SWSEARCH_ONNX": "0"})
    assert "'torch'" in proc.stderr
    fast = _cli_modules(["query", "community workers", "--index", str(path), "-k", "3", "--json"])
    ids = lambda p: [r["chunk_id"] for r in json.loads(p.stdout)["results"]]  # noqa: E731
    assert ids(proc) == ids(fast)


def test_failed_export_gives_one_notice_and_still_answers(minilm_index, monkeypatch, tmp_path):
    import swsearch.embed as embed
    import swsearch.embed.onnx as onnx_mod
    _, path = minilm_index
    monkeypatch.setenv("SWSEARCH_HOME", str(tmp_path))  # no cached export here
    monkeypatch.setattr(embed, "_loaded", {})

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_mod, "export_onnx", broken)
    index = swsearch.Index.load(path)
    hits = index.search("community workers", k=2)
    built, _ = minilm_index  # the same answers as the index built in-process with sentence-transformers
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in built.search("community workers", k=2)]
    assert type(index.embedder).__name__ == "SentenceTransformerEmbedder"
    # a build whose export fails embeds its passages with torch, and its manifest says so for add()
    small = swsearch.Index.build(["Volunteers record their service hours.", "社区工作者按人口配备。"],
                                 model="all-MiniLM-L6-v2")
    assert small.config["model"]["document_engine"] == "sentence-transformers"


def test_a_damaged_export_is_made_again_with_a_notice(minilm_index, monkeypatch, caplog):
    import logging

    import swsearch.embed as embed
    from swsearch.embed.onnx import onnx_dir

    index, _ = minilm_index
    folder = onnx_dir(index.config["model"]["fingerprint"])
    get_query_embedder(index.config["model"])  # the export exists
    data = (folder / "model.onnx").read_bytes()
    (folder / "model.onnx").write_bytes(data[: len(data) // 3])
    monkeypatch.setattr(embed, "_loaded", {k: v for k, v in embed._loaded.items() if not k.startswith("onnx:")})
    with caplog.at_level(logging.WARNING, logger="swsearch"):
        again = get_query_embedder(index.config["model"])
    assert type(again).__name__ == "OnnxEmbedder" and "exporting the ONNX query encoder again" in caplog.text
    assert (folder / "model.onnx").stat().st_size == len(data)


def test_passages_go_through_the_export_and_match_sentence_transformers(minilm_index):
    index, _ = minilm_index
    model = index.config["model"]
    assert model["document_engine"] == "onnxruntime"
    st = get_embedder("all-MiniLM-L6-v2")
    texts = [c.text for c in index.chunks[::7]]
    rows = np.array(range(0, len(index.chunks), 7))
    torch_side = st._encode(texts, st.document_prefix, 32, False)  # sentence-transformers with torch
    assert np.min(np.sum(torch_side * index.chunk_vectors.matrix()[rows], axis=1)) >= 0.9999
    # the order given comes back, whatever order the length-sorted batches ran in
    onnx = get_query_embedder(model)
    shuffled = texts[::-1]
    assert np.allclose(onnx.encode_documents(shuffled)[::-1], onnx.encode_documents(texts), atol=1e-6)


def test_an_index_that_names_no_passage_engine_adds_with_torch_and_a_new_one_without(minilm_index, tmp_path):
    from swsearch.embed import document_embedder

    index, _ = minilm_index
    legacy = {k: v for k, v in index.config["model"].items() if k != "document_engine"}
    assert document_embedder(legacy, None, "old index").document_engine == "sentence-transformers"
    adder = document_embedder(index.config["model"], None, "new index")
    assert type(adder).__name__ == "OnnxEmbedder" and adder.document_engine == "onnxruntime"  # no torch needed
    assert get_embedder("all-MiniLM-L6-v2").document_engine == "onnxruntime"  # the shared one is not changed


def test_adding_to_an_index_built_through_the_export_never_loads_torch(minilm_index, tmp_path):
    import shutil

    from swsearch.index import _split_documents

    index, path = minilm_index
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    text = "\n\n".join(f"Paragraph {i}: volunteers record their service hours, and the community worker team "
                       f"checks them every month before the district publishes the totals." for i in range(12))
    (tmp_path / "memo.txt").write_text(text, encoding="utf-8")
    proc = _cli_modules(["add", str(tmp_path / "memo.txt"), "--index", str(copy), "--quiet"])
    assert "HEAVY []" in proc.stderr
    added = swsearch.Index.load(copy)
    rows = [i for i, c in enumerate(added.chunks) if c.doc_id == "memo"]
    assert rows, [c.doc_id for c in added.chunks][-3:]
    assert len(rows) > 1  # long enough to be split by the model's token counts
    # the chunks and vectors sentence-transformers would have made
    st = get_embedder("all-MiniLM-L6-v2")
    doc = next(d for d in swsearch.load_corpus(tmp_path) if d.id == "memo")  # as the CLI read it
    chunks, inputs = _split_documents([doc], st, index.config["chunking"])
    assert [(c.start, c.end) for c in chunks] == [(added.chunks[r].start, added.chunks[r].end) for r in rows]
    torch_side = st._encode(inputs, st.document_prefix, 32, False)
    assert np.min(np.sum(torch_side * added.chunk_vectors.matrix()[rows], axis=1)) >= 0.9999


def test_a_build_with_the_export_cached_never_loads_torch_and_makes_the_same_index(minilm_index, tmp_path):
    index, _ = minilm_index  # its build exported the model into the tests' SWSEARCH_HOME
    code = ("import sys, swsearch\n"
            "docs = [d for d in swsearch.load_corpus() if d.id[:2] in ('00', '03', '05')]\n"
            f"swsearch.Index.build(docs, model='all-MiniLM-L6-v2').save({str(tmp_path / 'again')!r})\n"
            f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stderr
    again = swsearch.Index.load(tmp_path / "again")
    assert again.config["model"] == index.config["model"]
    assert [(c.id, c.start, c.end) for c in again.chunks] == [(c.id, c.start, c.end) for c in index.chunks]
    assert np.array_equal(again.chunk_vectors.matrix(), index.chunk_vectors.matrix())
    assert np.array_equal(again.sentence_vectors.matrix, index.sentence_vectors.matrix)
