"""Retrieval metrics: span-based relevance for the policy questions, qrels for BEIR; trec_eval does the maths.

Metrics come from pytrec_eval-terrier (trec_eval's own definitions, the ones MTEB/BEIR publish), so our
numbers are comparable with published ones; this module only builds qrels and runs.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError, MissingExtraError

DIRECTIONS = ("en->en", "en->zh", "zh->zh", "zh->en")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def contains_span(text: str, gold: Iterable[str]) -> bool:
    """The dev-set rule: relevant when the text contains a gold span, white space removed, case folded."""
    t = _squash(text)
    return any(_squash(g) in t for g in gold)


def load_queries(path: str | Path) -> list[dict[str, Any]]:
    """Read span-judged questions: JSONL with ``id``, ``lang`` ("en->zh"...), ``query``, ``gold``."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not {"id", "query", "gold"} <= row.keys():
                raise InputError(f"{path}:{n} needs 'id', 'query' and 'gold'")
            rows.append(row)
    return rows


def trec_scores(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                measures: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per-query trec_eval measures (e.g. ``ndcg_cut.10``, ``recall.100``, ``recip_rank``, ``success.1,5``).

    Queries with no relevant document in ``qrels`` are left out, as trec_eval does.
    """
    try:
        import pytrec_eval
    except ImportError:
        raise MissingExtraError('trec_eval measures need pytrec_eval, which is not installed; run: '
                         'pip install "swsearch[eval]"') from None

    evaluator = pytrec_eval.RelevanceEvaluator({q: dict(d) for q, d in qrels.items() if d}, set(measures))
    return evaluator.evaluate({q: dict(d) for q, d in run.items()})


def ranked_run(ranked_ids: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """A trec run from ranked id lists; scores are descending by rank so ties cannot reorder them."""
    return {q: {doc: float(len(ids) - r) for r, doc in enumerate(ids)} for q, ids in ranked_ids.items()}


def score_span_queries(queries: Sequence[Mapping[str, Any]], ranked_texts: Mapping[str, Sequence[tuple[str, str]]],
                       all_chunks: Iterable[tuple[str, str]] | None = None) -> dict[str, Any]:
    """hit@1, hit@5 and MRR@10, overall and per direction, for span-judged questions.

    ``ranked_texts[qid]`` is the ranked list of (chunk id, text) a system returned (top 10 are used).
    A question whose gold span is in no returned chunk simply scores 0.
    """
    qrels: dict[str, dict[str, int]] = {}
    ranked: dict[str, list[str]] = {}
    for q in queries:
        hits = list(ranked_texts[q["id"]])[:10]
        ranked[q["id"]] = [cid for cid, _ in hits]
        qrels[q["id"]] = {cid: 1 for cid, text in hits if contains_span(text, q["gold"])}
    per_query = trec_scores(qrels, ranked_run(ranked), ["recip_rank", "success.1,5"])
    rows = []
    for q in queries:
        s = per_query.get(q["id"], {})
        rows.append({"id": q["id"], "lang": q.get("lang", "?"), "hit@1": s.get("success_1", 0.0),
                     "hit@5": s.get("success_5", 0.0), "mrr@10": s.get("recip_rank", 0.0)})
    return summarize(rows)


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean of each metric overall and per ``lang`` direction, with counts."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["lang"]].append(r)
        groups["all"].append(r)
    out: dict[str, Any] = {}
    for name in [d for d in DIRECTIONS if d in groups] + sorted(set(groups) - set(DIRECTIONS) - {"all"}) + ["all"]:
        g = groups[name]
        out[name] = {"n": len(g), **{m: round(sum(r[m] for r in g) / len(g), 4) for m in ("hit@1", "hit@5", "mrr@10")}}
    out["per_query"] = list(rows)
    return out


def evaluate_index(index, queries: Sequence[Mapping[str, Any]], k: int = 10) -> dict[str, Any]:
    """Run every question through ``index.search_batch`` and score it with :func:`score_span_queries`."""
    results = index.search_batch([q["query"] for q in queries], k=k)
    return score_span_queries(queries, {q["id"]: [(h.chunk_id, h.text) for h in hits]
                                        for q, hits in zip(queries, results)})


def load_beir_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (query-id, corpus-id, score, with a header line) → {query: {doc: relevance}}."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        parts = line.split("\t")
        if n == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue
        if len(parts) >= 3:
            qrels[parts[0]][parts[1]] = int(parts[2])
    return dict(qrels)
