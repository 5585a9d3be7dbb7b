"""The index manifest's schema: every field swsearch reads has its type (and range) checked at load.

A manifest is JSON that anyone can edit; a wrong type must be a one-line ``IndexLoadError`` naming the
field, never a ``TypeError`` deep in a search. The schema is small enough to state here, so the default
install needs no validation library. Unknown fields are allowed (newer versions may add some).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: what is wrong, and where below the checked value: (relative path such as ".documents[3].id", description)
Problem = tuple[str, str]
#: a value's problem, or None; a check builds no path text unless the value fails (a manifest lists every
#: document, so formatting a path per field would cost seconds at a million documents)
Check = Callable[[Any], "Problem | None"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def text(value: Any) -> Problem | None:
    return None if isinstance(value, str) else ("", f"must be text (got {_kind(value)})")


def optional_text(value: Any) -> Problem | None:
    return None if value is None or isinstance(value, str) else ("", f"must be text or null (got {_kind(value)})")


def flag(value: Any) -> Problem | None:
    return None if isinstance(value, bool) else ("", f"must be true or false (got {_kind(value)})")


def count(low: int = 0) -> Check:
    def check(value: Any) -> Problem | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return "", f"must be a whole number of at least {low} (got {value!r:.40})"
        return None
    return check


def number(value: Any) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        return "", f"must be a finite number (got {value!r:.40})"
    return None


def one_of(*choices: str) -> Check:
    def check(value: Any) -> Problem | None:
        return None if value in choices else ("", f"must be one of {', '.join(choices)} (got {value!r:.40})")
    return check


def hex_digest(value: Any) -> Problem | None:
    if isinstance(value, str) and _HEX64.fullmatch(value):
        return None
    return "", f"must be a sha256 hex digest (got {value!r:.40})"


def obj(fields: dict[str, Check], optional: tuple[str, ...] = ()) -> Check:
    """A JSON object with these fields (those in ``optional`` may be missing)."""
    items = [(name, field_check, name in optional) for name, field_check in fields.items()]

    def check(value: Any) -> Problem | None:
        if not isinstance(value, dict):
            return "", f"must be an object (got {_kind(value)})"
        for name, field_check, may_miss in items:
            if name not in value:
                if may_miss:
                    continue
                return f".{name}", "is missing"
            problem = field_check(value[name])
            if problem:
                return f".{name}{problem[0]}", problem[1]
        return None
    return check


def mapping_of(values: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, dict):
            return "", f"must be an object (got {_kind(value)})"
        for key, item in value.items():
            problem = values(item)
            if problem:
                return f"[{key!r:.40}]{problem[0]}", problem[1]
        return None
    return check


def list_of(items: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, list):
            return "", f"must be a list (got {_kind(value)})"
        for i, item in enumerate(value):
            problem = items(item)
            if problem:
                return f"[{i}]{problem[0]}", problem[1]
        return None
    return check


def any_json(value: Any) -> Problem | None:
    return None


def named(check: Check, root: str) -> Callable[[Any], str | None]:
    """``check`` as a one-line message about the value called ``root``: "manifest.model.dim must be ..."."""
    def message(value: Any) -> str | None:
        problem = check(value)
        return None if problem is None else f"{root}{problem[0]} {problem[1]}"
    return message


def manifest_schema(languages: tuple[str, ...], context_modes: tuple[str, ...], index_types: tuple[str, ...],
                    modes: tuple[str, ...]) -> Callable[[Any], str | None]:
    """The schema of manifest.json (formats 1 to 3; format 3 keeps the documents in tables.py's files, not in
    ``documents``), given the values swsearch knows: a function from a parsed
    manifest to the first problem ("manifest.documents[3].language must be one of en, zh (got 'fr')") or None."""
    document = obj({"id": text, "title": text, "language": one_of(*languages), "date": optional_text,
                    "source": optional_text, "sha256": hex_digest, "chars": count(0), "metadata": mapping_of(any_json)},
                   optional=("title", "date", "source", "chars", "metadata"))
    return named(obj({
        "format": text, "format_version": count(1), "swsearch_version": text,
        "model": obj({"name": text, "backend": text, "fingerprint": text, "dim": count(1), "max_tokens": count(1)},
                     optional=("max_tokens",)),
        "chunking": obj({"max_tokens": count(1), "paragraph_tokens": count(1), "context": one_of(*context_modes),
                         "split": flag}, optional=("paragraph_tokens", "context", "split")),
        "index_type": one_of(*index_types),
        "corpus_fingerprint": text,
        "search": obj({"default_mode": one_of(*modes), "lexical": flag, "centroids": flag, "sentences": flag,
                       "weights": mapping_of(number)},
                      optional=("default_mode", "lexical", "centroids", "sentences", "weights")),
        "counts": obj({"documents": count(0), "chunks": count(0), "sentences": count(0)}, optional=("sentences",)),
        "documents": list_of(document),
        "subspace": obj({"rank": count(1), "pairs": count(1), "languages": list_of(text), "fitted": text},
                        optional=("pairs", "languages", "fitted")),
    }, optional=("swsearch_version", "search", "corpus_fingerprint", "index_type", "documents", "subspace")),
        "manifest")
