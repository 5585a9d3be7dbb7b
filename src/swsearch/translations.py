"""Translations learned from parallel text: the supplement to CC-CEDICT in query translation.

A general dictionary misses how a field renders its terms: the CC-CEDICT glosses swsearch keeps give no
English for 合同 (contract) and "infringe, right, violate" but not "tort" for 侵权. Pairs of texts and their
translations show those renderings: a
Chinese word and an English stem that occur in the same pairs far more often than apart are likely
translations. ``learn`` scores each (word, stem) by the Dice coefficient of the pairs that hold them
(``2 * both / (word's + stem's)``), the association measure of word-alignment work since Smadja et al.
(Computational Linguistics, 1996), and keeps each side's best few above a floor. ``lexical.translation_tables``
adds the entries after CC-CEDICT's own, restricted to the corpus's words like the rest of the tables, so they
are stored with every index and searched in both stores alike.

The shipped entries (``data/translations.json``, ``make translations``) were learned from the shared
parallel Civil Code articles of books 1-2; benchmarks/README.md measures them on books 3-4 and on the
policy question sets, which they were not learned from.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import IndexLoadError

SHIPPED = Path(__file__).parent / "data" / "translations.json"

#: chosen inside books 1-2 (learned on one book, scored on the other, both ways: benchmarks/README.md)
MIN_PAIRS, MIN_DICE, TOP = 2, 0.5, 2

Entries = dict[str, dict[str, list[str]]]  # {"zh2en": {word: [stems]}, "en2zh": {stem: [words]}}


def learn(pairs: Iterable[tuple[Sequence[str], Sequence[str]]], *, min_pairs: int = MIN_PAIRS,
          min_dice: float = MIN_DICE, top: int = TOP) -> Entries:
    """Translation entries from tokenised pairs ``(Chinese words, English stems)``: each word's ``top`` stems
    (and each stem's ``top`` words) by Dice coefficient over the pairs, where both occur in at least
    ``min_pairs`` pairs together and the coefficient reaches ``min_dice``. Numbers are left out."""
    zh, en, both = Counter(), Counter(), Counter()
    for words, stems in pairs:
        w = set(words)
        s = {t for t in stems if not t.isdigit()}
        zh.update(w)
        en.update(s)
        both.update((a, b) for a in w for b in s)
    zh2en: dict[str, list[tuple[float, str]]] = {}
    en2zh: dict[str, list[tuple[float, str]]] = {}
    for (word, stem), n in both.items():
        dice = 2 * n / (zh[word] + en[stem])
        if n >= min_pairs and dice >= min_dice:
            zh2en.setdefault(word, []).append((-dice, stem))
            en2zh.setdefault(stem, []).append((-dice, word))
    return {"zh2en": {w: [s for _, s in sorted(v)[:top]] for w, v in sorted(zh2en.items())},
            "en2zh": {s: [w for _, w in sorted(v)[:top]] for s, v in sorted(en2zh.items())}}


def problem(entries: Any) -> str | None:
    """What makes ``entries`` unusable as translation entries, or None."""
    if not isinstance(entries, Mapping) or set(entries) < {"zh2en", "en2zh"}:
        return "not a {zh2en, en2zh} object"
    for side in ("zh2en", "en2zh"):
        table = entries[side]
        if not isinstance(table, Mapping) or not all(
                isinstance(k, str) and k and isinstance(v, list) and all(isinstance(t, str) and t for t in v)
                for k, v in table.items()):
            return f"{side} is not a map of words to word lists"
    return None


def save(entries: Entries, record: Mapping[str, Any], path: Path = SHIPPED) -> Path:
    """Write ``entries`` with ``record`` (how they were learned) as JSON: what ``shipped`` reads."""
    path.write_text(json.dumps({**record, **entries}, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
                    encoding="utf-8")
    shipped.cache_clear()
    return path


@lru_cache(maxsize=1)
def shipped() -> Entries:
    """The entries that ship with swsearch, checked; empty when the file is absent."""
    if not SHIPPED.is_file():
        return {"zh2en": {}, "en2zh": {}}
    try:
        data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexLoadError(f"the learned translations {SHIPPED} cannot be read ({e}); reinstall swsearch") from None
    bad = problem(data)
    if bad:
        raise IndexLoadError(f"the learned translations {SHIPPED} are {bad}; reinstall swsearch")
    return {"zh2en": data["zh2en"], "en2zh": data["en2zh"]}
