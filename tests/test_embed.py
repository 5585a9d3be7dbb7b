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
