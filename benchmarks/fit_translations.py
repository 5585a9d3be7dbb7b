"""Learn translation entries from the parallel Civil Code pairs of books 1-2 and ship them.

Tokenises each article pair of books 1-2 (455 pairs; books 3-4 stay held out for the benchmarks) as an index
does (jieba's full dictionary, Snowball stems), keeps what ``translations.learn`` finds with its default
thresholds and writes ``src/swsearch/data/translations.json`` with a record of how (``translations.py`` says
what the entries are for).

Run: ``make translations`` (``PYTHONPATH=. python -m benchmarks.fit_translations``).
"""

from __future__ import annotations

import argparse
import sys

from swsearch import translations
from swsearch.lexical import _CJK_RUN, full_segmenter, tokenize

from . import parallel

BOOKS = parallel.SUBSPACE_BOOKS


def token_pairs(pairs: list[dict]) -> list[tuple[list[str], list[str]]]:
    """Each pair's Chinese words and English stems, as BM25 indexes them."""
    seg = full_segmenter()
    return [([t for t in tokenize(p["zh"], seg) if _CJK_RUN.fullmatch(t)],
             [t for t in tokenize(p["en"], seg) if not _CJK_RUN.fullmatch(t)]) for p in pairs]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m benchmarks.fit_translations", description=__doc__.splitlines()[0]
                            ).parse_args(argv)
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
