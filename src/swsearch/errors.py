"""Exceptions that carry a one-line, user-facing message (the CLI prints them and exits 2)."""

from __future__ import annotations


class SwsearchError(Exception):
    """Base class: the message says what was wrong and what to do about it."""


class InputError(SwsearchError, ValueError):
    """Bad input from the user: an empty query, an unknown language, an unreadable corpus."""


class IndexLoadError(SwsearchError):
    """An index directory is missing, corrupt, or was built with another model or format."""


class IndexWriteError(SwsearchError):
    """An index cannot be written where asked: not an index folder, locked by another writer, or an OS error."""


class ModelError(SwsearchError):
    """An embedding model could not be found or loaded."""


class MissingExtraError(ModelError, ImportError):
    """An optional part of swsearch is not installed; the message names the ``pip install "swsearch[...]"``."""
