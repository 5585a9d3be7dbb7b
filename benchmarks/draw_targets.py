"""Draw the target paragraphs of a new policy question set at random, the way the sealed sets were drawn.

Chunks of the bundled index longer than 120 characters whose text holds no gold span of an earlier set, ``n`` per
language, in draw order: the first 10 English draws are the en->en targets, the next 10 the zh->en ones, likewise
the Chinese draws for zh->zh and en->zh. The questions are then written by hand from the printed texts.

Run: ``PYTHONPATH=. python -m benchmarks.draw_targets --seed 20261209 --before sealed4`` (``sealed4``; ``sealed3``
used 20261208 with ``--before sealed3``, ``sealed2`` 20261207 with ``--before sealed2``, ``sealed`` 20261127).
``--before`` names the set being drawn: the gold spans of every set committed before it are excluded, so each earlier
draw reproduces byte for byte.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import swsearch
from swsearch.evaluate import contains_span, load_queries

from .common import (
    DEV_QUERIES,
    FRESH_QUERIES,
    HELDOUT_QUERIES,
    OWN_QUERIES,
    SEALED2_QUERIES,
    SEALED3_QUERIES,
    SEALED4_QUERIES,
    SEALED_QUERIES,
)

#: every policy set in the order it was committed; a draw excludes the gold spans of the sets before ``--before``
EARLIER = {"dev": DEV_QUERIES, "own": OWN_QUERIES, "heldout": HELDOUT_QUERIES, "fresh": FRESH_QUERIES,
           "sealed": SEALED_QUERIES, "sealed2": SEALED2_QUERIES, "sealed3": SEALED3_QUERIES,
           "sealed4": SEALED4_QUERIES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--n", type=int, default=30, help="draws per language (default 30)")
    parser.add_argument("--before", choices=[*list(EARLIER)[4:], "sealed5"], default="sealed5",
                        help="the set being drawn: exclude the gold spans of every set committed before it")
    args = parser.parse_args(argv)
    index = swsearch.default_index()
    names = list(EARLIER)
    before = names[:names.index(args.before)] if args.before in EARLIER else names
    earlier = [g for name in before for q in load_queries(EARLIER[name]) for g in q["gold"]]
    rng = np.random.default_rng(args.seed)
    for lang in ("en", "zh"):
        eligible = [i for i, c in enumerate(index.chunks) if index.chunk_languages[i] == lang and len(c.text) > 120
                    and not contains_span(c.text, earlier)]
        print(f"== {lang}: {len(eligible)} eligible")
        for j, i in enumerate(rng.choice(eligible, size=args.n, replace=False)):
            c = index.chunks[i]
            print(f"--- {lang}{j:02d} row {i} {c.doc_id} [{c.start}:{c.end}]\n{c.text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
