"""``SearchOptions``: every switch of a search in one typed object, checked once.

A field left at ``None`` takes its default for the mode. A field given for a mode it does not apply to is an
error (``feedback`` in dense search would otherwise be silently ignored). ``Index.search``'s keywords are
shorthand that builds one of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from .errors import InputError

SEARCH_MODES = ("hybrid", "dense", "lexical")
FUSION_METHODS = ("auto", "rrf", "convex")

#: the modes each option changes anything in (``mode`` itself applies everywhere)
APPLIES_TO: dict[str, tuple[str, ...]] = {
    "centroids": ("hybrid", "dense"),
    "subspace": ("hybrid", "dense"),
    "translate": ("hybrid", "lexical"),
    "sentences": ("hybrid",),
    "feedback": ("hybrid",),
    "fusion": ("hybrid",),
    "weights": ("hybrid",),
    "language_pools": ("hybrid",),
    "agreement": ("hybrid",),
    "candidates": ("hybrid",),
}

#: what a field left at None means
DEFAULTS: dict[str, Any] = {"centroids": True, "subspace": True, "translate": True, "sentences": True, "feedback": 0,
                            "fusion": "auto", "weights": None, "language_pools": False,
                            "agreement": True, "candidates": None}


@dataclass(frozen=True)
class SearchOptions:
    """How to search: ``mode`` (``hybrid``, ``dense`` or ``lexical``; None: the index's default) and its levers.

    ``centroids`` / ``translate`` / ``sentences``: language-centred dense scores, dictionary translation of the
    query, each chunk's best sentence (on by default; off for ablations). ``subspace``: centred queries also
    leave out the model's language subspace when it ships one (``subspace.py``; off for ablations).
    ``feedback=n``: pseudo-relevance feedback from the n best chunks. ``fusion``: ``rrf``, ``convex`` or
    ``auto`` (default: RRF, or convex when no chunk the search may return is in the query's language and the
    weights are the defaults; ``fusion.fusion_method``); ``weights``: per ranking (see ``signals.SIGNALS``; a
    ranking left out gets 0). ``language_pools``: rank the dense rankings within each chunk language before
    fusing. ``agreement``: with the default RRF weights, the
    translated query's ranking weighs more when its best chunk is among the sentence ranking's best three in
    that language (``fusion.translation_agreed``) or matches it strongly on its own (``fusion.translation_evident``;
    on by default, off for ablations). ``candidates=C``: each ranking
    offers its top C chunks and fusion runs over their union (``pools.py``); 0 scores every chunk; None
    (default): exact up to ``pools.POOLS_ABOVE`` chunks.
    """

    mode: str | None = None
    centroids: bool | None = None
    subspace: bool | None = None
    translate: bool | None = None
    sentences: bool | None = None
    feedback: int | None = None
    fusion: str | None = None
    weights: Mapping[str, float] | None = None
    language_pools: bool | None = None
    agreement: bool | None = None
    candidates: int | None = None

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in SEARCH_MODES:
            raise InputError(f"unknown search mode {self.mode!r}; use one of {', '.join(SEARCH_MODES)}")
        for name in ("centroids", "subspace", "translate", "sentences", "language_pools", "agreement"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (bool, np.bool_)):
                raise InputError(f"{name} must be True or False (got {value!r})")
        f = self.feedback
        if f is not None and (not isinstance(f, int) or isinstance(f, bool) or f < 0):
            raise InputError(f"feedback must be a whole number of chunks, 0 for none (got {f!r})")
        c = self.candidates
        if c is not None and (not isinstance(c, (int, np.integer)) or isinstance(c, bool) or c < 0):
            raise InputError(f"candidates must be a whole number of chunks per ranking, 0 for exact search "
                             f"(got {c!r})")
        if self.fusion is not None and self.fusion not in FUSION_METHODS:
            raise InputError(f"unknown fusion {self.fusion!r}; use one of {', '.join(FUSION_METHODS)}")
        if self.weights is not None:
            object.__setattr__(self, "weights", _checked_weights(self.weights))

    def given(self) -> dict[str, Any]:
        """The fields set to something other than None."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def resolve(self, default_mode: str) -> SearchOptions:
        """Every field filled in for the mode (``mode`` defaulting to ``default_mode``), or a one-line InputError
        naming an option that does not apply to that mode."""
        mode = self.mode or default_mode
        for name, value in self.given().items():
            if name != "mode" and mode not in APPLIES_TO[name]:
                only = " and ".join(APPLIES_TO[name])
                raise InputError(f"{name}={value!r} does not apply to {mode} search (only to {only}); "
                                 f"leave it out or use mode={APPLIES_TO[name][0]!r}")
        filled = {name: DEFAULTS[name] for name in APPLIES_TO if getattr(self, name) is None}
        return replace(self, mode=mode, **filled)


def resolve_call(options: SearchOptions | None, default_mode: str, **shorthand: Any) -> SearchOptions:
    """A search call's options: ``options`` or the keywords given (those not None), not both, resolved for
    ``default_mode``. What ``Index.search`` and ``PgIndex.search`` both do with their arguments."""
    given = {name: value for name, value in shorthand.items() if value is not None}
    unknown = set(given) - {f.name for f in fields(SearchOptions)}
    if unknown:
        raise InputError(f"unknown search keyword {sorted(unknown)[0]!r}")
    if options is not None and given:
        raise InputError(f"give either options= or search keywords ({', '.join(given)}), not both")
    if options is not None and not isinstance(options, SearchOptions):
        raise InputError("options must be a swsearch.SearchOptions")
    return (options or SearchOptions(**given)).resolve(default_mode)


def _checked_weights(weights: Mapping[str, float]) -> dict[str, float]:
    from .signals import names

    if not isinstance(weights, Mapping):
        raise InputError("weights must map ranking names to numbers, e.g. {'dense': 1, 'lexical': 2}")
    out = {}
    known = names()
    for name, w in weights.items():
        if name not in known:
            raise InputError(f"unknown ranking {name!r} in weights; use {', '.join(known)}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or not 0 <= w <= 1e6:
            raise InputError(f"the weight of {name!r} must be a number from 0 to 1e6 (got {w!r})")
        out[name] = float(w)
    return out
