"""A lever tried for one-language indexes and not shipped: moving a query into the index's language.

An index of one language has no language centroids, so a query in the other language keeps the model's
language offset, and every chunk looks far from it (books 3-4, English articles alone, Chinese first
sentences: 0.660 with the default against 0.930 on the bilingual index filtered to English). The lever: the
mean passage vector of each language over the parallel pairs of books 1-2 (the pairs the shipped subspace was
fitted on), and a query in a language the index does not hold shifted by the difference, ``q - m_query +
m_index``, normalised again, before every ranking.

Scored on one-language indexes of books 3-4 (first-sentence and whole-text queries) and, as the guard, on
one-language indexes of the bundled corpus with the policy questions whose answer is in that language (every
set's zh->en questions on the English documents alone, en->zh on the Chinese alone). Default search
(``fusion="auto"``: convex here) with and without the shift.

Run: ``PYTHONPATH=. python -m benchmarks.one_language [--work DIR] [--out benchmarks/results/one_language.json]``
(about ten minutes; DIR keeps the two parallel indexes).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np

import swsearch
from swsearch.documents import detect_language, load_corpus
from swsearch.evaluate import evaluate_index, load_queries

from . import parallel
from .common import study_main
from .cross_fusion import GUARDS, parallel_rows

#: the search both rows run: the default (``fusion="auto"``, convex on a one-language index in the other language)
DEFAULT = {"default": {}}


class ShiftedQueries:
    """An embedder whose queries in a language the index lacks are moved by the difference of the two
    languages' mean passage vectors (``means``); everything else is the wrapped embedder's."""

    def __init__(self, embedder, means: dict[str, np.ndarray], index_language: str):
        self._embedder, self._means, self._to = embedder, means, index_language

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def encode_queries(self, queries, **kw) -> np.ndarray:
        vecs = np.array(self._embedder.encode_queries(queries, **kw), dtype=np.float32)
        for i, q in enumerate(queries):
            lang = detect_language(q)
            if lang in self._means and lang != self._to:
                v = vecs[i] - self._means[lang] + self._means[self._to]
                vecs[i] = v / np.linalg.norm(v)
        return vecs


def language_means(embedder, pairs: list[dict]) -> dict[str, np.ndarray]:
    """The mean passage vector of each language's texts of ``pairs``."""
    return {lang: np.asarray(embedder.encode_documents([p[lang] for p in pairs], batch_size=32), np.float32).mean(0)
            for lang in ("zh", "en")}


def shifted(index: swsearch.Index, means: dict[str, np.ndarray], language: str) -> swsearch.Index:
    """A copy of ``index`` whose queries are shifted into ``language`` (``ShiftedQueries``)."""
    variant = copy.copy(index)
    variant._embedder = ShiftedQueries(index.embedder, means, language)
    return variant


def policy_rows(index: swsearch.Index, direction: str) -> dict[str, float]:
    """MRR@10 of the default search on each set's questions of ``direction`` (no filter: one language), and
    over all of them."""
    out, sizes = {}, []
    for name, path in GUARDS.items():
        scored = evaluate_index(index, [q for q in load_queries(path) if q["lang"] == direction])[direction]
        out[f"{name} (n={scored['n']})"] = scored["mrr@10"]
        sizes.append(scored["n"])
    out["all, weighted by questions"] = round(float(np.dot(sizes, list(out.values())) / sum(sizes)), 4)
    return out


def run(work: Path | None) -> dict:
    pairs = parallel.load_pairs(False)
    fit = [p for p in pairs if p["book"] in parallel.SUBSPACE_BOOKS]
    held = [p for p in pairs if p["book"] not in parallel.SUBSPACE_BOOKS]
    res: dict = {"parallel books 3-4, an index of one language": {}, "policy questions, an index of one language": {}}
    docs = load_corpus()
    means = None
    for language, direction in (("en", "zh->en"), ("zh", "en->zh")):
        index = parallel.built_index(held, None if work is None else work / f"only_{language}", (language,))
        if means is None:
            means = language_means(index.embedder, fit)
        res["parallel books 3-4, an index of one language"][language] = {
            "default": parallel_rows(index, held, False, DEFAULT)["default"],
            "shifted queries": parallel_rows(shifted(index, means, language), held, False, DEFAULT)["default"]}
        policy = swsearch.Index.build([d for d in docs if d.language == language])
        res["policy questions, an index of one language"][f"{direction} ({language} documents alone)"] = {
            "default": policy_rows(policy, direction),
            "shifted queries": policy_rows(shifted(policy, means, language), direction)}
    return res


def tables(res: dict) -> str:
    out: list[str] = []
    for part, by_index in res.items():
        for label, rows in by_index.items():
            cols = list(next(iter(rows.values())))
            out += [f"{part}: {label}", "", "| queries | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
            out += [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |" for name, row in rows.items()]
            out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    return study_main(argv, "one_language", __doc__, run, tables)


if __name__ == "__main__":
    sys.exit(main())
