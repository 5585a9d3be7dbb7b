"""Which fusion when no chunk searched is in the query's language: the study behind ``fusion="auto"``.

A search filtered to the other language (``language="en"`` for a Chinese question), or any search of a
one-language index in the other language, ranks only other-language chunks. RRF over every chunk then gives
the language-biased plain dense ranking almost nothing to say (every candidate ranks behind the query's own
language), and ranking inside the filter gives it too much; the convex combination keeps each score's distance
from the mean. ``fusion="auto"`` (the default) runs convex exactly there, with the default weights, and RRF
everywhere else, so no unfiltered search of a bilingual index changes.

Protocol, as ``benchmarks.agreement``: the choice is read on books 1-2 of the parallel articles with
translations learned on the other book, filtered to the other language; the guard is every policy question
whose answer is in the other language, searched with the filter to that language (dev, own, held-out, fresh,
sealed, sealed2, sealed3); books 3-4 (shipped translations) and one-language indexes of books 3-4 (only the
English, or only the Chinese, articles) confirm it. ``--confirm`` reads the unread set sealed4 once instead.

Twenty-first session: the same protocol chose the ``dense_translated`` ranking for these searches (the query's
dictionary translation embedded as a query in the chunks' language, convex weight 1; weights 0.5, 1, 2 and 3
compared in a scratch run on the choice and guard sets), so the three rows of ``METHODS`` are compared; its
``--confirm`` run (``--out results/cross_fusion_confirm_sealed4_translated.json``) is sealed4's second reading.

Run: ``PYTHONPATH=. python -m benchmarks.cross_fusion [--work DIR] [--out benchmarks/results/cross_fusion.json]``
(about ten minutes; DIR keeps the three indexes for the next run). ``--confirm [--out FILE]``: sealed4 alone
(default ``results/cross_fusion_confirm_sealed4.json``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import swsearch
from swsearch import fusion
from swsearch.evaluate import contains_span, load_queries

from . import parallel
from .agreement import GUARD
from .common import REPO, SEALED3_QUERIES, SEALED4_QUERIES, confirm_main, study_main

#: the fusions compared: the default (``auto``: convex in every search below, with the translated query's ranking
#: ``dense_translated``), the same without that ranking (the default from the nineteenth session to the
#: twenty-first), and RRF (the default before ``auto``)
METHODS = {"auto (default: convex here, with the translated query)": {},
           "convex without the translated query (auto before)": {
               "fusion": "convex", "weights": {**fusion.CONVEX_WEIGHTS, "dense_translated": 0.0}},
           "rrf (before auto)": {"fusion": "rrf"}}
GUARDS = {**GUARD, "sealed3": SEALED3_QUERIES}
CROSS = ("en->zh", "zh->en")


def policy_rows(sets: dict[str, Path]) -> dict[str, dict[str, float]]:
    """MRR@10 of each fusion on the policy questions whose answer is in the other language, each searched with
    the filter to its answer's language (one row per fusion, a column per set and direction)."""
    index = swsearch.default_index()
    rows: dict[str, dict[str, float]] = {name: {} for name in METHODS}
    for set_name, path in sets.items():
        qs = [q for q in load_queries(path) if q["lang"] in CROSS]
        for name, kw in METHODS.items():
            rr = []
            for q in qs:
                hits = index.search(q["query"], k=10, language=q["lang"][-2:], **kw)
                first = [i for i, h in enumerate(hits) if contains_span(h.text, q["gold"])]
                rr.append(1.0 / (first[0] + 1) if first else 0.0)
            rr_a, langs = np.array(rr), np.array([q["lang"] for q in qs])
            rows[name][f"{set_name} both"] = round(float(rr_a.mean()), 4)
            rows[name].update({f"{set_name} {d}": round(float(rr_a[langs == d].mean()), 4) for d in CROSS})
    return rows


def parallel_rows(index: swsearch.Index, pairs: list[dict], filtered: bool = True,
                  methods: dict[str, dict] | None = None) -> dict[str, dict[str, float]]:
    """MRR@10 of each fusion (``methods``: name -> search keywords, default ``METHODS``) on ``pairs``,
    first-sentence and whole-text queries, filtered to the other language (``filtered``) or on an index that
    holds only the other language."""
    methods = METHODS if methods is None else methods
    rows: dict[str, dict[str, float]] = {name: {} for name in methods}
    for src, dst in (("zh", "en"), ("en", "zh")):
        if not any(c.doc_id.endswith(f"-{dst}") for c in index.chunks):
            continue
        targets = [f"{p['id']}-{dst}" for p in pairs]
        for kind in ("first", "whole"):
            queries = [(parallel.first_sentence(p[src]) if kind == "first" else p[src])[:swsearch.index.MAX_QUERY_CHARS]
                       for p in pairs]
            for name, kw in methods.items():
                found = index.search_batch(queries, k=10, language=dst if filtered else None, **kw)
                rows[name][f"{kind} {src}->{dst}"] = round(float(np.mean(
                    [parallel.mrr_at_10(h, t) for h, t in zip(found, targets)])), 4)
    return rows


def run(work: Path | None) -> dict:
    pairs = parallel.load_pairs(False)
    index = parallel.built_index(pairs, None if work is None else work / "parallel")
    res: dict = {"policy, filtered to the answer's language": policy_rows(GUARDS), "choice": {}, "confirmation": {}}
    for part, label, scored, on in parallel.study_indexes(index, pairs):
        res[part][f"filtered, {label}"] = parallel_rows(scored, on)
    held = [p for p in pairs if p["book"] not in parallel.SUBSPACE_BOOKS]
    for language in ("en", "zh"):
        res["confirmation"][f"an index of books 3-4 in {language} alone, unfiltered"] = parallel_rows(
            parallel.built_index(held, None if work is None else work / f"only_{language}", (language,)), held,
            filtered=False)
    return res


def _markdown(rows: dict[str, dict[str, float]]) -> list[str]:
    cols = list(next(iter(rows.values())))
    return (["| fusion | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
            + [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |" for name, row in rows.items()])


def tables(res: dict) -> str:
    """The results as markdown tables."""
    out: list[str] = []
    for part, value in res.items():
        if part.startswith("policy"):
            out += [part, "", *_markdown(value), ""]
        elif isinstance(value, dict) and part in ("choice", "confirmation"):
            for label, rows in value.items():
                out += [f"{part}: {label}", "", *_markdown(rows), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--confirm" in argv:  # the unread set, read once to confirm the choice; no parallel index needed
        return confirm_main(argv, "cross_fusion", REPO / "benchmarks" / "results" / "cross_fusion_confirm_sealed4.json",
                            lambda: policy_rows({"sealed4": SEALED4_QUERIES}), lambda res: "\n".join(_markdown(res)))
    return study_main(argv, "cross_fusion", __doc__, run, tables)


if __name__ == "__main__":
    sys.exit(main())
