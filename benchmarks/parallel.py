"""Parallel Civil Code articles: cross-lingual retrieval where both languages answer.

Every article of books 1–4 is indexed twice, once in Chinese and once in its official English, one document
per article and language. A query is an article's first sentence (or its whole text) and the right answer
is the same article in the other language, scored as MRR@10 per direction. Two protocols, as the data's
README defines them:

- **filtered**: the search is filtered to the other language (first-sentence and whole-text queries);
- **mixed**: no language filter, only the query's own document excluded: the answer competes with every
  same-language article, which is where a multilingual model's language bias shows.

Run: ``PYTHONPATH=. python -m benchmarks.parallel [--quick] [--out FILE]`` (also part of
``python -m benchmarks``'s ``parallel`` suite).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

import swsearch
from swsearch import fusion, translations

from .common import DATA, dictionary_only

PAIRS = DATA / "parallel_civil_code" / "pairs_dev.jsonl"

#: (label, search switches): the ablation of the policy benchmark, plus the levers #15 asks about
SYSTEMS = [
    ("hybrid (default)", {}),
    ("dense (plain)", {"mode": "dense", "centroids": False}),
    ("dense + language centroids", {"mode": "dense"}),
    ("lexical BM25 + translation (CC-CEDICT and learned)", {"mode": "lexical"}),
    ("hybrid without centroids", {"centroids": False}),
    ("hybrid without the language subspace", {"subspace": False}),
    ("hybrid without translation", {"translate": False}),
    ("hybrid, CC-CEDICT translation alone (no learned entries)", {}),
    ("hybrid without sentence scores", {"sentences": False}),
    ("hybrid, fixed weights (no agreement lever)", {"agreement": False}),
    ("hybrid, RRF for every search (fusion=\"rrf\")", {"fusion": "rrf"}),
    ("hybrid + per-language pools (language_pools=True)", {"language_pools": True}),
    ("hybrid, convex for every search (fusion=\"convex\")", {"fusion": "convex"}),
]


#: what --quick runs: enough to keep the harness from rotting, not to measure
QUICK_SYSTEMS = ("hybrid (default)", "dense (plain)", "hybrid without the language subspace",
                 "hybrid, CC-CEDICT translation alone (no learned entries)",
                 "hybrid + per-language pools (language_pools=True)")
#: systems scored on a copy of the index: label -> what makes the copy
VARIANTS = {"hybrid, CC-CEDICT translation alone (no learned entries)": dictionary_only}


#: the books the shipped language subspace and learned translations were fitted on (``benchmarks.fit_subspace``,
#: ``benchmarks.fit_translations``), and the systems also scored on the other books alone
SUBSPACE_BOOKS = (1, 2)
HELD_OUT_SYSTEMS = ("hybrid (default)", "hybrid without the language subspace",
                    "hybrid, CC-CEDICT translation alone (no learned entries)",
                    "hybrid, fixed weights (no agreement lever)",
                    "hybrid, RRF for every search (fusion=\"rrf\")",
                    "dense (plain)")


def load_pairs(quick: bool) -> list[dict]:
    """The article pairs (every 20th in quick mode: 52 pairs, 104 documents)."""
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[::20] if quick else rows


def documents(pairs: list[dict], languages: tuple[str, ...] = ("zh", "en")) -> list[swsearch.Document]:
    return [swsearch.Document(id=f"{p['id']}-{lang}", text=p[lang], language=lang, title="")
            for p in pairs for lang in languages]


def built_index(pairs: list[dict], work: Path | None = None,
                languages: tuple[str, ...] = ("zh", "en")) -> swsearch.Index:
    """The parallel index of ``pairs`` (each article in ``languages``): loaded from ``work`` when an earlier run
    kept it there, else built (and kept there when ``work`` is given)."""
    if work is not None and (work / "manifest.json").is_file():
        return swsearch.Index.load(work)
    docs = documents(pairs, languages)
    print(f"[{time.strftime('%H:%M:%S')}] building the parallel index ({len(docs)} documents)", file=sys.stderr,
          flush=True)
    index = swsearch.Index.build(docs)
    if work is not None:
        index.save(work)
    return index


def study_indexes(index: swsearch.Index, pairs: list[dict]) -> list[tuple[str, str, swsearch.Index, list[dict]]]:
    """What a study of the parallel set scores, as (part, label, index, pairs): for each of books 1-2 a copy whose
    learned translations come from the other book (the choice), then books 3-4 with the shipped translations
    (the confirmation; whatever tables a kept index was built with are replaced)."""
    a, b = SUBSPACE_BOOKS
    out = []
    for learn_on, score_on in ((a, b), (b, a)):
        variant = copy.copy(index)
        variant.lexical = index.lexical.with_learned(
            translations.learn(translations.token_pairs([p for p in pairs if p["book"] == learn_on])))
        out.append(("choice", f"learned on book {learn_on}, scored on book {score_on}", variant,
                    [p for p in pairs if p["book"] == score_on]))
    held = [p for p in pairs if p["book"] not in SUBSPACE_BOOKS]
    shipped = copy.copy(index)
    shipped.lexical = index.lexical.with_learned(None)
    out.append(("confirmation", f"books 3-4 ({len(held)} pairs), shipped translations", shipped, held))
    return out


def centred_chunks(index: swsearch.Index) -> np.ndarray:
    """Every chunk vector minus its language's centroid, normalised (``fusion.centre``): the vectors the
    language subspace is fitted on and the levers study projects."""
    return fusion.centre(index.chunk_vectors.matrix(), index.centring.matrix[index.centring.chunk_codes])


def pair_rows(index: swsearch.Index, pairs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The row of the first chunk of each pair's Chinese and of its English document."""
    first: dict[str, int] = {}
    for i, chunk in enumerate(index.chunks):
        first.setdefault(chunk.doc_id, i)
    return (np.array([first[f"{p['id']}-zh"] for p in pairs], dtype=np.int64),
            np.array([first[f"{p['id']}-en"] for p in pairs], dtype=np.int64))


def first_sentence(text: str) -> str:
    """Up to the first 。/； (Chinese) or ./; followed by a space or the end (English)."""
    m = re.search(r"[。；]|[.;](\s|$)", text)
    return text[:m.end()].strip() if m else text.strip()


def mrr_at_10(hits: list[swsearch.Hit], target: str) -> float:
    """1 / rank of the first chunk of the target document among the top 10 chunks, else 0."""
    for rank, h in enumerate(hits[:10], 1):
        if h.doc_id == target:
            return 1.0 / rank
    return 0.0


def evaluate(index: swsearch.Index, pairs: list[dict], options: dict) -> dict:
    """MRR@10 per direction and protocol for one system."""
    ids = [f"{p['id']}-{lang}" for p in pairs for lang in ("zh", "en")]
    out: dict[str, float] = {}
    for src, dst in (("zh", "en"), ("en", "zh")):
        targets = [f"{p['id']}-{dst}" for p in pairs]
        firsts = [first_sentence(p[src]) for p in pairs]
        for name, queries in (("filtered, first sentence", firsts), ("filtered, whole text", [p[src] for p in pairs])):
            queries = [q[:swsearch.index.MAX_QUERY_CHARS] for q in queries]
            results = index.search_batch(queries, k=10, language=dst, **options)
            out[f"{name} {src}→{dst}"] = _mean(mrr_at_10(h, t) for h, t in zip(results, targets))
        # mixed: every document but the query's own. A filter masks rows after fusion (it never changes the
        # other chunks' scores), so the top 10 without the own document's chunks is that filtered search.
        own_chunks = max(sum(c.doc_id == i for c in index.chunks) for i in ids)
        scores = []
        wide = index.search_batch(firsts, k=10 + own_chunks, **options)
        for p, hits, t in zip(pairs, wide, targets):
            own = f"{p['id']}-{src}"
            kept = [h for h in hits if h.doc_id != own][:10]
            scores.append(mrr_at_10(kept, t))
        out[f"mixed, first sentence {src}→{dst}"] = _mean(scores)
    return out


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / max(len(values), 1), 4)


def run(quick: bool) -> dict:
    pairs = load_pairs(quick)
    t0 = time.perf_counter()
    index = swsearch.Index.build(documents(pairs))
    build_s = time.perf_counter() - t0
    res = {"pairs": len(pairs), "documents": 2 * len(pairs), "chunks": len(index), "build_s": round(build_s, 1),
           "systems": {}}
    for label, options in SYSTEMS:
        if quick and label not in QUICK_SYSTEMS:
            continue
        t = time.perf_counter()
        res["systems"][label] = evaluate(VARIANTS[label](index) if label in VARIANTS else index, pairs, options)
        print(f"[{time.strftime('%H:%M:%S')}] parallel: {label} ({time.perf_counter() - t:.0f} s)", file=sys.stderr,
              flush=True)
    # the shipped language subspace was fitted on books 1-2: books 3-4 are the articles it never saw
    held_out = [p for p in pairs if p["book"] not in SUBSPACE_BOOKS]
    res["held_out"] = {"pairs": len(held_out), "systems": {
        label: evaluate(VARIANTS[label](index) if label in VARIANTS else index, held_out, options)
        for label, options in SYSTEMS if label in HELD_OUT_SYSTEMS}}
    return res


def table(res: dict) -> str:
    """The results as a markdown table: one row per system, one column per protocol and direction."""
    cols = list(next(iter(res["systems"].values())))
    lines = ["| system | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for label, row in res["systems"].items():
        lines.append(f"| {label} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parallel", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every 20th article pair, three systems")
    parser.add_argument("--out", type=Path, help="results JSON")
    args = parser.parse_args(argv)
    res = run(args.quick)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(f"{res['pairs']} pairs, {res['chunks']} chunks, built in {res['build_s']} s\n")
    print(table(res))
    print(f"\nbooks 3-4 only ({res['held_out']['pairs']} pairs, which the language subspace was not fitted on):\n")
    print(table(res["held_out"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
