"""Metadata filters: a ``where`` mapping picks the documents a search may return.

``{"kind": "official document"}`` is equality, ``{"issuer": ["State Council", "NPC"]}`` membership, and
``{"date": {">=": "2020-01-01", "<": "2024"}}`` comparisons. Keys are a document's fields (``id``,
``title``, ``language``, ``date``, ``source``) or its metadata (extra JSONL fields, ``Document.metadata``).
Dates compare as dates at the operand's precision: ``{"date": {">=": "2020"}}`` keeps 2020-03-01 and
``{"date": {"<=": "2020"}}`` keeps it too. A document without the field never matches. Every condition
must hold.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import InputError

OPERATORS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in")
CORE_FIELDS = ("id", "title", "language", "date", "source")

_DATE_LIKE = re.compile(r"^\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?$")

Condition = Callable[[Any], bool]


def parse_date(text: str) -> tuple[int, ...]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as a tuple of its parts; InputError for a date that is not one."""
    if not isinstance(text, str) or not _DATE_LIKE.match(text.strip()):
        raise InputError(f"{text!r} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD")
    parts = tuple(int(p) for p in text.strip().split("-"))
    try:
        _dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise InputError(f"{text!r} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD") from None
    return parts


def _as_date(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, str) and _DATE_LIKE.match(value.strip()):
        try:
            return parse_date(value)
        except InputError:
            return None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _comparable(value: Any, operand: Any) -> tuple[Any, Any] | None:
    """The pair to compare, or None when they cannot be: dates at the operand's precision, then booleans,
    numbers (a string operand from the command line counts when it reads as one), then strings."""
    d_op, d_val = _as_date(operand), _as_date(value)
    if d_op is not None and d_val is not None:
        return d_val[:len(d_op)], d_op
    if isinstance(value, bool) or isinstance(operand, bool):
        flags = {"true": True, "false": False}
        a = value if isinstance(value, bool) else flags.get(str(value).lower())
        b = operand if isinstance(operand, bool) else flags.get(str(operand).lower())
        return (a, b) if a is not None and b is not None else None
    if isinstance(value, (int, float)) or isinstance(operand, (int, float)):
        a, b = _number(value), _number(operand)
        return (a, b) if a is not None and b is not None else None
    if isinstance(value, str) and isinstance(operand, str):
        return value, operand
    return None


def _equal(value: Any, operand: Any) -> bool:
    if isinstance(value, list):  # a list field (tags) equals an operand it holds
        return any(_equal(v, operand) for v in value)
    pair = _comparable(value, operand)
    return pair is not None and pair[0] == pair[1]


def _condition(key: str, op: str, operand: Any) -> Condition:
    if op not in OPERATORS:
        raise InputError(f"unknown operator {op!r} in the filter on {key!r}; use one of {', '.join(OPERATORS)}")
    if op in ("in", "not in"):
        if not isinstance(operand, (list, tuple, set, frozenset)):
            raise InputError(f"the filter {key!r} {op} needs a list of values (got {operand!r})")
        values = list(operand)
        for v in values:
            _check_operand(key, v)
        if op == "in":
            return lambda value: any(_equal(value, v) for v in values)
        return lambda value: not any(_equal(value, v) for v in values)
    _check_operand(key, operand)
    if op == "==":
        return lambda value: _equal(value, operand)
    if op == "!=":
        return lambda value: not _equal(value, operand)
    if isinstance(operand, bool) or not isinstance(operand, (str, int, float)):
        raise InputError(f"the filter {key!r} {op} compares with a string, number or date (got {operand!r})")

    def compare(value: Any) -> bool:
        pair = _comparable(value, operand)
        if pair is None:
            return False
        a, b = pair
        return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
    return compare


def _check_operand(key: str, operand: Any) -> None:
    if operand is not None and not isinstance(operand, (str, int, float, bool)):
        raise InputError(f"the filter on {key!r} compares with {type(operand).__name__}; give a string, number, "
                         "boolean or date")
    if key == "date" and isinstance(operand, str):
        parse_date(operand)  # a date field compared with something that is not a date is a mistake


def compile_where(where: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over a document's fields (see ``document_fields``); bad filters are one-line InputErrors."""
    if not isinstance(where, Mapping):
        raise InputError(f"where must be a mapping of field to value or conditions (got {type(where).__name__})")
    tests: list[tuple[str, Condition]] = []
    for key, spec in where.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"filter keys are field names (got {key!r})")
        if isinstance(spec, Mapping):
            if not spec:
                raise InputError(f"the filter on {key!r} has no conditions")
            tests += [(key, _condition(key, str(op), operand)) for op, operand in spec.items()]
        elif isinstance(spec, (list, tuple, set, frozenset)):
            tests.append((key, _condition(key, "in", spec)))
        else:
            tests.append((key, _condition(key, "==", spec)))

    def matches(fields: Mapping[str, Any]) -> bool:
        return all(key in fields and fields[key] is not None and test(fields[key]) for key, test in tests)
    return matches


def document_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What a filter sees of a document (as the index stores it): its metadata, then its core fields."""
    return {**(meta.get("metadata") or {}), **{k: meta.get(k) for k in CORE_FIELDS}}


def matching_documents(documents: Iterable[Mapping[str, Any]], where: Mapping[str, Any]) -> list[str]:
    """Ids of the documents (index manifest entries) that ``where`` keeps."""
    keep = compile_where(where)
    return [d["id"] for d in documents if keep(document_fields(d))]


def parse_cli_filters(pairs: Iterable[str], since: str | None = None, until: str | None = None) -> dict[str, Any]:
    """``--where key=value`` (repeated keys: any of the values), ``key!=value``, ``key>=value`` … plus
    ``--since``/``--until`` on ``date``, as a ``where`` mapping."""
    where: dict[str, Any] = {}
    for pair in pairs:
        m = re.match(r"^\s*([^=!<>\s][^=!<>]*?)\s*(==|!=|>=|<=|=|>|<)\s*(.*)$", pair)
        if not m:
            raise InputError(f"--where {pair!r} is not KEY=VALUE (or KEY!=, KEY>=, KEY<=, KEY>, KEY< VALUE)")
        key, op, value = m.group(1), m.group(2), m.group(3).strip()
        op = "==" if op == "=" else op
        conds = where.setdefault(key, {})
        if op == "==" and "==" in conds:  # the same key twice: any of the values
            conds["in"] = [conds.pop("==")] + [value]
        elif op == "==" and "in" in conds:
            conds["in"].append(value)
        elif op in conds:
            raise InputError(f"--where gives {key}{op} twice; give each comparison once")
        else:
            conds[op] = value
    for op, value in ((">=", since), ("<=", until)):
        if value is not None:
            parse_date(value)
            where.setdefault("date", {})[op] = value
    return where
