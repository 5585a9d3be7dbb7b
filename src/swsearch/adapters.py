"""What the framework adapters (``swsearch.langchain``, ``swsearch.llamaindex``) share: opening an index
and the metadata a result carries. Importing it needs neither framework."""

from __future__ import annotations

from typing import Any

from .index import Hit, Index

#: the ``Index.search`` options an adapter passes through
SEARCH_OPTIONS = ("k", "doc_ids", "language", "where", "mode", "fusion", "weights")


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """A result's metadata: its document's metadata, then the hit's score, rank, ids, title, language,
    heading, offsets and best-matching sentence."""
    out = {**hit.metadata, "score": hit.score, "rank": hit.rank, "chunk_id": hit.chunk_id, "doc_id": hit.doc_id,
           "title": hit.title, "language": hit.language, "heading": hit.heading, "start": hit.start, "end": hit.end}
    if hit.highlight is not None:
        out["highlight"] = hit.highlight_text
        out["highlight_start"], out["highlight_end"] = hit.highlight
    return out


def open_index(index: Index | str | None) -> Index:
    """An ``Index`` (or a database's ``PgIndex``) as given, loaded from a path or ``postgresql://`` URL, or the
    bundled corpus's for ``None``."""
    from .pgstore import PgIndex

    if isinstance(index, (Index, PgIndex)):
        return index
    if index is None:
        from .index import default_index
        return default_index()
    return Index.load(index)


def search_options(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The adapter's options with a call's overrides; an unknown option is a one-line InputError."""
    from .errors import InputError

    unknown = set(overrides) - set(SEARCH_OPTIONS)
    if unknown:
        raise InputError(f"unknown search option {sorted(unknown)[0]!r}; use {', '.join(SEARCH_OPTIONS)}")
    return {**defaults, **overrides}
