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
    if not isinstance(entries, Mapping) or not {"zh2en", "en2zh"} <= set(entries):
        return "not a {zh2en, en2zh} object"
    if not isinstance(entries.get("record", {}), Mapping):
        return "with a record that is not an object"
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


def token_pairs(pairs: Iterable[Mapping[str, str]]) -> list[tuple[list[str], list[str]]]:
    """Each pair's Chinese words (``zh``) and English stems (``en``) as an index tokenises them (jieba's full
    dictionary, Snowball stems): what ``learn`` takes."""
    from .lexical import _CJK_RUN, full_segmenter, tokenize

    seg = full_segmenter()
    return [([t for t in tokenize(p["zh"], seg) if _CJK_RUN.fullmatch(t)],
             [t for t in tokenize(p["en"], seg) if not _CJK_RUN.fullmatch(t)]) for p in pairs]


def record_of(learned: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How an index's own learned translations were learned (their ``record``); None without them."""
    return None if learned is None else dict(learned.get("record") or {})


def fit(pairs: str | Path | Iterable[Mapping[str, Any]], *, min_pairs: int = MIN_PAIRS, min_dice: float = MIN_DICE,
        top: int = TOP) -> dict[str, Any]:
    """An index's own learned translations from a user's pairs (``subspace.read_pairs``: a JSONL file or
    mappings, each with a Chinese text under ``zh`` and its English under ``en``), tokenised as an index does:
    the entries and a ``record`` of how they were learned. A one-line InputError when they give none."""
    import time

    from .errors import InputError
    from .subspace import read_pairs

    if isinstance(min_pairs, bool) or not isinstance(min_pairs, int) or min_pairs < 1:
        raise InputError(f"min_pairs must be a whole number of at least 1 (got {min_pairs!r})")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InputError(f"top must be a whole number of at least 1 (got {top!r})")
    if isinstance(min_dice, bool) or not isinstance(min_dice, (int, float)) or not 0 < min_dice <= 1:
        raise InputError(f"min_dice must be a number in (0, 1] (got {min_dice!r})")
    texts = read_pairs(pairs, ("zh", "en"))
    entries = learn(token_pairs(texts), min_pairs=min_pairs, min_dice=min_dice, top=top)
    if not entries["zh2en"]:
        raise InputError(f"{len(texts)} pairs gave no translation: no Chinese word and English word occur together "
                         f"in {min_pairs} or more pairs with Dice >= {min_dice}; give more pairs (hundreds)")
    record = {"pairs": len(texts), "min_pairs": min_pairs, "min_dice": min_dice, "top": top,
              "chinese_words": len(entries["zh2en"]), "english_stems": len(entries["en2zh"]),
              "fitted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return {"record": record, **entries}
