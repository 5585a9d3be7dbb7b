"""The index manifest's schema: every field swsearch reads has its type (and range) checked at load.

A manifest is JSON that anyone can edit; a wrong type must be a one-line ``IndexLoadError`` naming the
field, never a ``TypeError`` deep in a search. The schema is small enough to state here, so the default
install needs no validation library. Unknown fields are allowed (newer versions may add some).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any, str], "str | None"]  # the problem with a value at a path, or None


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def text(value: Any, path: str) -> str | None:
    return None if isinstance(value, str) else f"{path} must be text (got {_kind(value)})"


def optional_text(value: Any, path: str) -> str | None:
    return None if value is None or isinstance(value, str) else f"{path} must be text or null (got {_kind(value)})"


def flag(value: Any, path: str) -> str | None:
    return None if isinstance(value, bool) else f"{path} must be true or false (got {_kind(value)})"


def count(low: int = 0) -> Check:
    def check(value: Any, path: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return f"{path} must be a whole number of at least {low} (got {value!r:.40})"
        return None
    return check


def number(value: Any, path: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        return f"{path} must be a finite number (got {value!r:.40})"
    return None


def one_of(*choices: str) -> Check:
    def check(value: Any, path: str) -> str | None:
        return None if value in choices else f"{path} must be one of {', '.join(choices)} (got {value!r:.40})"
    return check


def hex_digest(value: Any, path: str) -> str | None:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return None
    return f"{path} must be a sha256 hex digest (got {value!r:.40})"


def obj(fields: dict[str, Check], optional: tuple[str, ...] = ()) -> Check:
    """A JSON object with these fields (those in ``optional`` may be missing)."""
    def check(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path} must be an object (got {_kind(value)})"
        for name, field_check in fields.items():
            if name not in value:
                if name in optional:
                    continue
                return f"{path}.{name} is missing"
            problem = field_check(value[name], f"{path}.{name}")
            if problem:
                return problem
        return None
    return check


def mapping_of(values: Check) -> Check:
    def check(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path} must be an object (got {_kind(value)})"
        for key, item in value.items():
            problem = values(item, f"{path}[{key!r:.40}]")
            if problem:
                return problem
        return None
    return check


def list_of(items: Check) -> Check:
    def check(value: Any, path: str) -> str | None:
        if not isinstance(value, list):
            return f"{path} must be a list (got {_kind(value)})"
        for i, item in enumerate(value):
            problem = items(item, f"{path}[{i}]")
            if problem:
                return problem
        return None
    return check


def any_json(value: Any, path: str) -> str | None:
    return None


def manifest_schema(languages: tuple[str, ...], context_modes: tuple[str, ...], index_types: tuple[str, ...],
                    modes: tuple[str, ...]) -> Check:
    """The schema of manifest.json (format 1 and 2), given the values swsearch knows."""
    document = obj({"id": text, "title": text, "language": one_of(*languages), "date": optional_text,
                    "source": optional_text, "sha256": hex_digest, "chars": count(0), "metadata": mapping_of(any_json)},
                   optional=("title", "date", "source", "chars", "metadata"))
    return obj({
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
    }, optional=("swsearch_version", "search", "corpus_fingerprint", "index_type"))
