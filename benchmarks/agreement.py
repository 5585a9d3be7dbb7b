"""A query-adaptive weight for the translated ranking: the study that chose the default's agreement lever.

In the mixed protocol (no language filter) the same-language articles outrank a query's translation in four of
the five rankings hybrid search fuses; only the translated query's BM25 (``lexical_translated``) favours the
other language. Raising its weight for every query finds translations (books 3-4 mixed 0.42 -> 0.83 at weight 3)
and wrecks English questions on the policy corpus, whose answers are often in the query's own language. The
lever studied here raises it only when two independent cross-lingual signals agree: the translated BM25's best
chunk is also the best chunk of its language under another ranking (the centred sentence ranking, or centred
dense search), or among its first few there. That is evidence from the scores alone, not a switch and nothing
keyed to this data. A second rule (eighteenth session) also raises it, without that agreement, when the translated
BM25's best match is strong on its own: above c ln N, N the chunk count (ln N is about the idf of a word found in one
chunk, the most one query word adds). The default ships weight 2 when the translated BM25's best chunk is among the
sentence ranking's best three of its language or scores above 2 ln N (``fusion.translation_agreed``,
``AGREEMENT_TOP``, ``fusion.translation_evident``, ``TRANSLATED_EVIDENCE``, ``search(agreement=...)``).

Protocol, as ``fit_translations --choose``: the choice is read on books 1-2 with translations learned on the
other book (the shipped ones were learned on both, which makes books 1-2 in-sample), the policy sets dev, own,
held-out, fresh, sealed and sealed2 guard it (the sealed sets each confirmed an earlier choice; read since), and
books 3-4 with the shipped translations confirm it. sealed3 is not read here.

Run: ``PYTHONPATH=. python -m benchmarks.agreement [--work DIR] [--out benchmarks/results/agreement.json]``
(about three minutes with the parallel index kept in DIR). ``--confirm [--out FILE]`` scores the variants on the
unread set sealed3 instead (default ``results/agreement_confirm_sealed3.json``), to be run once for a choice made
without it; ``results/agreement_confirm.json`` is the seventeenth session's reading of sealed and sealed2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import swsearch
from swsearch import fusion
from swsearch.evaluate import contains_span, load_queries

from . import parallel
from .common import (
    DEV_QUERIES,
    FRESH_QUERIES,
    HELDOUT_QUERIES,
    OWN_QUERIES,
    REPO,
    SEALED2_QUERIES,
    SEALED3_QUERIES,
    SEALED_QUERIES,
    confirm_main,
    study_main,
)

POLICY = {"dev": DEV_QUERIES, "own": OWN_QUERIES, "heldout": HELDOUT_QUERIES, "fresh": FRESH_QUERIES}
#: the sets that guard a choice: ``POLICY`` and the sealed sets that each confirmed an earlier one
GUARD = {**POLICY, "sealed": SEALED_QUERIES, "sealed2": SEALED2_QUERIES}
#: ``--confirm``: the set no choice read (written in the eighteenth session before anything was tried)
CONFIRM = {"sealed3": SEALED3_QUERIES}
DIRECTIONS = ("en->en", "en->zh", "zh->zh", "zh->en")
#: name -> (the ranking that must agree with the translated BM25's best chunk, how high that chunk must rank among
#: its language's chunks under it, weights when it does, and optionally how strong the translated BM25's best match
#: must be, in units of ln(chunks), to count without that agreement); None: the fixed default weights; an empty
#: signal: the weights for every query
VARIANTS: dict[str, tuple | None] = {
    "default (fixed weights)": None,
    "translated weight 3 for every query": ("", 0, {"lexical_translated": 3.0}),
    "translated weight 2 when the sentence ranking agrees": ("sentence", 1, {"lexical_translated": 2.0}),
    "translated weight 3 when the sentence ranking agrees": ("sentence", 1, {"lexical_translated": 3.0}),
    "translated weight 3 when centred dense agrees": ("dense_centred", 1, {"lexical_translated": 3.0}),
    "weight 2, sentence ranking's top 2": ("sentence", 2, {"lexical_translated": 2.0}),
    "weight 2, sentence ranking's top 3": ("sentence", 3, {"lexical_translated": 2.0}),
    "weight 2, sentence ranking's top 5": ("sentence", 5, {"lexical_translated": 2.0}),
    "weight 2, sentence ranking's top 10": ("sentence", 10, {"lexical_translated": 2.0}),
    **{f"weight 2, top 3 or translated match > {c} ln N": ("sentence", 3, {"lexical_translated": 2.0}, c)
       for c in (1.5, 1.8, 2.0, 2.5)},
}


#: the rows that count, instead of an MRR, the share of queries where the sentence ranking agrees
#: (``fusion.translation_agreed``) and where the default's rule fires (that, or ``fusion.translation_evident``)
SHARE = "(share of the queries where the sentence ranking agrees)"
SHARE_DEFAULT = "(share of the queries where the default weighs the translated ranking up)"


def agrees(lists: dict[str, np.ndarray], index: swsearch.Index, signal: str, top: int) -> bool:
    """Whether the translated BM25's best chunk is among the ``top`` best chunks of its language under ``signal``
    (``fusion.translation_agreed``, which search uses, with ``signal`` in place of the sentence ranking)."""
    return fusion.translation_agreed({"lexical_translated": lists["lexical_translated"], "sentence": lists[signal]},
                                     index.chunk_languages, index.tie_order, top)


def evident(lists: dict[str, np.ndarray], index: swsearch.Index, evidence: float | None) -> bool:
    """Whether the translated BM25's best match is above ``evidence`` ln(chunks) (``fusion.translation_evident``)."""
    return evidence is not None and fusion.translation_evident(lists, len(index.chunks), evidence)


def fires(lists: dict[str, np.ndarray], index: swsearch.Index) -> bool:
    """Whether the default weighs the translated ranking up for this query (``fusion.translation_favoured``)."""
    return fusion.translation_favoured(lists, index.chunk_languages, index.tie_order, len(index.chunks))


def fused(lists: dict[str, np.ndarray], index: swsearch.Index, variant: tuple | None) -> np.ndarray:
    """What hybrid search would rank by under ``variant`` (the default's fusion, weights changed or not)."""
    weights = dict(fusion.HYBRID_WEIGHTS)
    if variant is not None and (not variant[0] or agrees(lists, index, variant[0], variant[1])
                                or evident(lists, index, variant[3] if len(variant) > 3 else None)):
        weights.update(variant[2])
    return fusion.fuse_rankings(lists, weights, "rrf", index.tie_order)


def reciprocal_ranks(index: swsearch.Index, scores: list[np.ndarray], relevant: np.ndarray,
                     keep: np.ndarray | None = None) -> np.ndarray:
    """Each query's reciprocal rank of its first relevant chunk in the top 10 (0 beyond)."""
    out = []
    for i, s in enumerate(scores):
        s = s if keep is None else np.where(keep[i], s, -np.inf)
        hit = np.flatnonzero(relevant[i][fusion.top_k(s, 10, index.tie_order)])
        out.append(1.0 / (hit[0] + 1) if len(hit) else 0.0)
    return np.array(out)


def parallel_rows(index: swsearch.Index, pairs: list[dict]) -> dict[str, dict[str, float]]:
    """MRR@10 of every variant on ``pairs``: filtered and mixed first sentence, filtered whole text, both ways."""
    docs = np.array([c.doc_id for c in index.chunks])
    rows: dict[str, dict[str, float]] = {name: {} for name in (*VARIANTS, SHARE, SHARE_DEFAULT)}
    for src, dst in (("zh", "en"), ("en", "zh")):
        target = np.stack([docs == f"{p['id']}-{dst}" for p in pairs])
        own = np.stack([docs == f"{p['id']}-{src}" for p in pairs])
        to_dst = np.broadcast_to(index.chunk_languages == dst, target.shape)
        for kind, queries in (("first", [parallel.first_sentence(p[src]) for p in pairs]),
                              ("whole", [p[src][:swsearch.index.MAX_QUERY_CHARS] for p in pairs])):
            lists = index.component_scores(queries)
            share = round(float(np.mean([agrees(one, index, "sentence", fusion.AGREEMENT_TOP) for one in lists])), 4)
            fired = round(float(np.mean([fires(one, index) for one in lists])), 4)
            for row, value in ((SHARE, share), (SHARE_DEFAULT, fired)):
                rows[row][f"filtered {kind} {src}->{dst}"] = value
                if kind == "first":
                    rows[row][f"mixed first {src}->{dst}"] = value
            for name, variant in VARIANTS.items():
                scores = [fused(one, index, variant) for one in lists]
                rows[name][f"filtered {kind} {src}->{dst}"] = round(float(
                    reciprocal_ranks(index, scores, target, to_dst).mean()), 4)
                if kind == "first":
                    rows[name][f"mixed first {src}->{dst}"] = round(float(
                        reciprocal_ranks(index, scores, target, ~own).mean()), 4)
    return rows


def policy_rows(sets: dict[str, Path] = GUARD) -> dict[str, dict[str, float]]:
    """MRR@10 of every variant on the policy ``sets`` (the guards), all directions and each."""
    index = swsearch.default_index()
    rows: dict[str, dict[str, float]] = {name: {} for name in (*VARIANTS, SHARE, SHARE_DEFAULT)}
    for set_name, path in sets.items():
        qs = load_queries(path)
        relevant = np.array([[contains_span(c.text, q["gold"]) for c in index.chunks] for q in qs])
        directions = np.array([q["lang"] for q in qs])
        lists = index.component_scores([q["query"] for q in qs])
        for row, rule in ((SHARE, lambda one: agrees(one, index, "sentence", fusion.AGREEMENT_TOP)),
                          (SHARE_DEFAULT, lambda one: fires(one, index))):
            fired = np.array([rule(one) for one in lists], dtype=float)
            rows[row][f"{set_name} all"] = round(float(fired.mean()), 4)
            rows[row].update({f"{set_name} {d}": round(float(fired[directions == d].mean()), 4) for d in DIRECTIONS})
        for name, variant in VARIANTS.items():
            rr = reciprocal_ranks(index, [fused(one, index, variant) for one in lists], relevant)
            rows[name][f"{set_name} all"] = round(float(rr.mean()), 4)
            rows[name].update({f"{set_name} {d}": round(float(rr[directions == d].mean()), 4) for d in DIRECTIONS})
    return rows


def run(work: Path | None) -> dict:
    pairs = parallel.load_pairs(False)
    index = parallel.built_index(pairs, work)
    res: dict = {"choice": {}, "confirmation": {}, "policy": policy_rows()}
    for part, label, scored, on in parallel.study_indexes(index, pairs):
        res[part][label] = parallel_rows(scored, on)
    return res


def _markdown(rows: dict[str, dict[str, float]], cols: list[str]) -> list[str]:
    """One markdown table: a row per variant, a column per ``cols`` key."""
    return (["| variant | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
            + [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |" for name, row in rows.items()])


def tables(res: dict) -> str:
    """The results as markdown tables."""
    out = []
    for part in ("choice", "confirmation"):
        for label, rows in res[part].items():
            out += [f"{part}: {label}", "", *_markdown(rows, list(next(iter(rows.values())))), ""]
    cols = [c for c in next(iter(res["policy"].values())) if c.endswith(("all", "en->en"))]
    out += ["policy sets", "", *_markdown(res["policy"], cols)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--confirm" in argv:  # the unread set, read once to confirm a choice; no parallel index needed
        return confirm_main(argv, "agreement", REPO / "benchmarks" / "results" / "agreement_confirm_sealed3.json",
                            lambda: policy_rows(CONFIRM),
                            lambda res: "\n".join(_markdown(res, list(next(iter(res.values()))))))
    return study_main(argv, "agreement", __doc__, run, tables)


if __name__ == "__main__":
    sys.exit(main())
