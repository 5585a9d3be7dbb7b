"""Learn translation entries from the parallel Civil Code pairs of books 1-2 and ship them.

Tokenises each article pair of books 1-2 (455 pairs; books 3-4 stay held out for the benchmarks) as an index
does (jieba's full dictionary, Snowball stems), keeps what ``translations.learn`` finds with its default
thresholds and writes ``src/swsearch/data/translations.json`` with a record of how (``translations.py`` says
what the entries are for).

Run: ``make translations`` (``PYTHONPATH=. python -m benchmarks.fit_translations``). With ``--choose [--work DIR]``
it writes nothing and prints how the thresholds were chosen instead: entries learned on book 1 and scored on
book 2 of the parallel index, then the other way round (hybrid search, both protocols), for a small grid.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from swsearch import translations
from swsearch.translations import token_pairs

from . import parallel

BOOKS = parallel.SUBSPACE_BOOKS


#: (min_pairs, min_dice, top) tried by --choose; the first is no learned entries at all
GRID = (None, (2, 0.5, 2), (3, 0.5, 2), (3, 0.3, 3), (5, 0.4, 3), (3, 0.4, 1))


def choose(work: Path | None) -> None:
    """Each setting of ``GRID`` learned on one of books 1-2 and scored on the other (MRR@10 per protocol and
    direction, and their mean): the choice never sees books 3-4."""
    pairs = parallel.load_pairs(False)
    index = parallel.built_index(pairs, work)
    for learn_on, score_on in BOOKS, BOOKS[::-1]:
        learned_from = token_pairs([p for p in pairs if p["book"] == learn_on])
        scored = [p for p in pairs if p["book"] == score_on]
        for setting in GRID:
            entries = ({"zh2en": {}, "en2zh": {}} if setting is None else
                       translations.learn(learned_from, min_pairs=setting[0], min_dice=setting[1], top=setting[2]))
            variant = copy.copy(index)
            variant.lexical = index.lexical.with_learned(entries)
            res = parallel.evaluate(variant, scored, {})
            print(f"learned on book {learn_on}, scored on book {score_on}, (min_pairs, min_dice, top) = {setting}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in res.items()) + f"; mean {sum(res.values()) / len(res):.3f}",
                  flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit_translations", description=__doc__.splitlines()[0])
    parser.add_argument("--choose", action="store_true", help="print the threshold study instead of writing")
    parser.add_argument("--work", type=Path, help="with --choose: keep the parallel index here and reuse it")
    args = parser.parse_args(argv)
    if args.choose:
        choose(args.work)
        return 0
    train = [p for p in parallel.load_pairs(False) if p["book"] in BOOKS]
    entries = translations.learn(token_pairs(train))
    path = translations.save(entries, {
        "fitted_on": f"parallel_civil_code/pairs_dev.jsonl, books {'-'.join(map(str, BOOKS))} ({len(train)} pairs)",
        "how": f"Dice coefficient over the pairs; at least {translations.MIN_PAIRS} pairs together, Dice >= "
               f"{translations.MIN_DICE}, the best {translations.TOP} per word",
        "by": "python -m benchmarks.fit_translations"})
    print(f"{len(train)} pairs -> {len(entries['zh2en'])} Chinese words, {len(entries['en2zh'])} English stems "
          f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
