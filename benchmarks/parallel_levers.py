"""Levers tried for one default across both regimes (issue #15), measured on scores, not shipped.

Each lever is scored from the rankings ``Index.component_scores`` returns (the same ones hybrid search
fuses, with language centring alone: ``subspace=False``, the default before the shipped language subspace,
which is the first lever below at 32 directions), so one index build and one embedding of every query serve
every lever:

- **blend**: ``(1 - a) * plain fusion + a * per-language fusion`` (``language_pools``) for fixed ``a``;
- **language gap**: how far the best other-language chunk's centred score is from the best same-language
  one, per query: the evidence an adaptive blend would read, by whether the gold is in the query's language;
- **subspace removal**: the low-rank language subspace of Xie et al. (EMNLP 2022), fitted on the
  parallel pairs of books 1-2 (the top ``r`` right singular vectors of the differences of each pair's centred
  vectors) and projected out of every centred chunk, sentence and query vector, or out of the queries alone
  (what ``subspace.py`` ships, at ``r = 32``); scored on books 3-4 only;
- **translation detection**: how well the centred chunk cosine tells a translation from the best other
  article, against the best cross-language cosine in the policy corpus (which has no translations);
- **hubness (CSLS)**: each dense ranking minus half the chunk's mean cosine to its 10 nearest chunks in the
  query's language (Conneau et al., ICLR 2018, whose k and factor these are), a chunk-level correction
  for the chunks every query lands near, fitted on nothing;
- **translation links**: chunks paired across languages as each other's best match by ratio margin
  (Artetxe and Schwenk, ACL 2019: cosine over the mean cosine of each side's 4 nearest other-language
  chunks), mutual and above a threshold; a linked chunk takes its partner's fused score when that is higher.

Run: ``PYTHONPATH=. python -m benchmarks.parallel_levers [--work DIR] [--out FILE] [--quick]`` (``--work`` keeps the
parallel index and reuses it; the build takes a few minutes). Prints tables; ``--out`` writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import swsearch
from swsearch import fusion, subspace
from swsearch.documents import detect_language
from swsearch.embed import normalize
from swsearch.evaluate import contains_span, load_queries
from swsearch.index import _language_groups

from . import parallel
from .common import DEV_QUERIES, FRESH_QUERIES, HELDOUT_QUERIES, OWN_QUERIES

POLICY = {"dev": DEV_QUERIES, "own": OWN_QUERIES, "heldout": HELDOUT_QUERIES, "fresh": FRESH_QUERIES}
DIRECTIONS = ("en->en", "en->zh", "zh->zh", "zh->en")


def log(msg: str) -> None:
    print(f"[parallel_levers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Case:
    """One query set on one index: its rankings, relevance, the rows a protocol keeps, and what the
    projected signals need (centred vectors)."""

    def __init__(self, index: swsearch.Index, queries: list[str], relevant: np.ndarray,
                 keep: np.ndarray | None = None, directions: list[str] | None = None):
        self.index, self.relevant, self.keep, self.directions = index, relevant, keep, directions
        self.lists = index.component_scores(queries, subspace=False)  # levers against centring alone
        self.query_languages = [detect_language(q) for q in queries]
        self.plain = index.embedder.encode_queries(queries)

    def with_keep(self, keep: np.ndarray) -> Case:
        """The same queries and rankings under another protocol (the rows it keeps)."""
        other = object.__new__(Case)
        other.__dict__.update(self.__dict__, keep=keep)
        return other

    def mrr(self, fused: list[np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
        order = self.index.tie_order
        out = []
        for i in (range(len(fused)) if rows is None else rows):
            s = fused[i] if self.keep is None else np.where(self.keep[i], fused[i], -np.inf)
            top = fusion.top_k(s, 10, order)
            hit = np.flatnonzero(self.relevant[i][top])
            out.append(1.0 / (hit[0] + 1) if len(hit) else 0.0)
        return np.array(out)


def fused(case: Case, a: float = 0.0, lists: list[dict] | None = None) -> list[np.ndarray]:
    """Plain RRF fusion blended with per-language fusion by ``a`` (0: today's default, 1: language_pools)."""
    order = case.index.tie_order
    groups = _language_groups(case.index.chunk_languages, order)  # what language_pools=True groups by
    out = []
    for one in lists or case.lists:
        plain = fusion.fuse_rankings(one, None, "rrf", order) if a < 1 else 0.0
        pooled = fusion.fuse_rankings(one, None, "rrf", order, groups) if a > 0 else 0.0
        out.append((1 - a) * plain + a * pooled)
    return out


def projected_lists(case: Case, basis: np.ndarray, query_only: bool = False) -> list[dict]:
    """The rankings with dense_centred and sentence recomputed after projecting ``basis`` out of the centred
    chunk, sentence and query vectors (``query_only``: out of the queries alone, as ``subspace.py`` ships it)."""
    ix = case.index

    def project(x: np.ndarray) -> np.ndarray:
        return normalize(x - (x @ basis.T) @ basis) if len(basis) else x

    c, sv = ix.centring, ix.sentence_vectors
    keep = (lambda x: x) if query_only else project
    chunks = keep(parallel.centred_chunks(ix))
    sentences = keep(fusion.centre(sv.matrix, c.matrix[c.chunk_codes[sv.spans[:, 0]]]))
    queries = project(c.centre_queries(case.plain, case.query_languages, subspace=False))
    dense = queries @ chunks.T
    best = np.maximum.reduceat(queries @ sentences.T, sv.starts, axis=1)
    return [{**one, "dense_centred": dense[i], "sentence": best[i]} for i, one in enumerate(case.lists)]


def language_basis(index: swsearch.Index, zh_rows: np.ndarray, en_rows: np.ndarray, r: int) -> np.ndarray:
    """The top ``r`` directions of the differences between paired centred vectors (Xie et al.'s LSAR fitted on
    parallel pairs instead of language means, which give only rank 1 for two languages)."""
    x = parallel.centred_chunks(index)
    return subspace.fit(x[zh_rows], x[en_rows], r)


def gaps(case: Case) -> np.ndarray:
    """Per query: best other-language centred score minus best same-language centred score."""
    langs = case.index.chunk_languages
    out = []
    for one, lang in zip(case.lists, case.query_languages):
        s = one["dense_centred"]
        out.append(s[langs != lang].max() - s[langs == lang].max())
    return np.array(out)


def hubness(index: swsearch.Index, k: int = 10) -> dict[str, dict[str, np.ndarray]]:
    """Per vector space (plain, centred) and language L: each chunk's mean cosine to its ``k`` nearest
    chunks in L, itself left out (CSLS's r)."""
    langs = index.chunk_languages
    out: dict[str, dict[str, np.ndarray]] = {}
    for space, x in (("plain", index.chunk_vectors.matrix()), ("centred", parallel.centred_chunks(index))):
        out[space] = {}
        for lang in np.unique(langs):
            rows = np.flatnonzero(langs == lang)
            sim = x @ x[rows].T
            sim[rows, np.arange(len(rows))] = -np.inf
            kk = min(k, len(rows) - 1)
            out[space][lang] = np.sort(sim, axis=1)[:, -kk:].mean(axis=1) if kk > 0 else np.zeros(len(x))
    return out


def penalised(case: Case, hubs: dict[str, dict[str, np.ndarray]], names: tuple[str, ...]) -> list[dict]:
    """The rankings with half of each chunk's hubness in the query's language taken off ``names`` (CSLS).
    The sentence ranking takes its chunk's centred figure."""
    out = []
    for one, lang in zip(case.lists, case.query_languages):
        one = dict(one)
        for name in names:
            r = hubs["plain" if name == "dense" else "centred"].get(lang)
            if name in one and r is not None:
                one[name] = one[name] - 0.5 * r
        out.append(one)
    return out


def translation_links(index: swsearch.Index, tau: float, k: int = 4) -> np.ndarray:
    """Each chunk's zh/en partner (or -1): mutual best by ratio margin, margin at least ``tau``."""
    x, langs = parallel.centred_chunks(index), index.chunk_languages
    a, b = np.flatnonzero(langs == "zh"), np.flatnonzero(langs == "en")
    partner = np.full(len(langs), -1)
    if len(a) < 2 or len(b) < 2:
        return partner
    sim = x[a] @ x[b].T
    ra = np.sort(sim, axis=1)[:, -min(k, len(b)):].mean(axis=1)
    rb = np.sort(sim, axis=0)[-min(k, len(a)):, :].mean(axis=0)
    margin = sim / ((ra[:, None] + rb[None, :]) / 2)
    best_b, best_a = margin.argmax(axis=1), margin.argmax(axis=0)
    for i, j in enumerate(best_b):
        if best_a[j] == i and margin[i, j] >= tau:
            partner[a[i]], partner[b[j]] = b[j], a[i]
    return partner


def propagate(scores: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """A linked chunk scores as its partner when the partner scores higher (just below it)."""
    out, linked = scores.copy(), partner >= 0
    out[linked] = np.maximum(scores[linked], scores[partner[linked]] - 1e-9)
    return out


def run(work: Path | None, quick: bool = False) -> dict:
    pairs = parallel.load_pairs(quick)
    index = parallel.built_index(pairs, work)
    docs = np.array([c.doc_id for c in index.chunks])
    books = np.array([p["book"] for p in pairs])
    train, test = np.flatnonzero(books <= 2), np.flatnonzero(books > 2)
    cases: dict[str, Case] = {}
    for src, dst in (("zh", "en"), ("en", "zh")):
        target = np.stack([docs == f"{p['id']}-{dst}" for p in pairs])
        own = np.stack([docs == f"{p['id']}-{src}" for p in pairs])
        to_dst = np.broadcast_to(index.chunk_languages == dst, target.shape)
        firsts = [parallel.first_sentence(p[src]) for p in pairs]
        wholes = [p[src][:swsearch.index.MAX_QUERY_CHARS] for p in pairs]
        log(f"rankings of the {src}->{dst} queries")
        cases[f"filtered first {src}->{dst}"] = Case(index, firsts, target, to_dst)
        cases[f"filtered whole {src}->{dst}"] = Case(index, wholes, target, to_dst)
        cases[f"mixed first {src}->{dst}"] = cases[f"filtered first {src}->{dst}"].with_keep(~own)
        cases[f"mixed whole {src}->{dst}"] = cases[f"filtered whole {src}->{dst}"].with_keep(~own)
    zh_rows, en_rows = parallel.pair_rows(index, pairs)
    policy_index = swsearch.default_index()
    log("rankings of the policy questions")
    policy: dict[str, Case] = {}
    for name, path in POLICY.items():
        qs = load_queries(path)
        rel = np.array([[contains_span(c.text, q["gold"]) for c in policy_index.chunks] for q in qs])
        policy[name] = Case(policy_index, [q["query"] for q in qs], rel, directions=[q["lang"] for q in qs])

    def policy_row(fuse_one) -> dict:
        """Each set per direction and all, and its cross-language questions filtered to the gold's language."""
        row = {}
        for name, case in policy.items():
            fused_lists = fuse_one(case)
            m = case.mrr(fused_lists)
            dirs = np.array(case.directions)
            row.update({f"{name} {d}": round(float(m[dirs == d].mean()), 4) for d in DIRECTIONS})
            row[f"{name} all"] = round(float(m.mean()), 4)
            gold_lang = np.array([d[-2:] for d in dirs])
            filtered = case.with_keep(policy_index.chunk_languages[None, :] == gold_lang[:, None]).mrr(fused_lists)
            for d in ("en->zh", "zh->en"):
                row[f"{name} {d} filtered"] = round(float(filtered[dirs == d].mean()), 4)
        return row

    res: dict = {"pairs": len(pairs), "train_pairs": len(train), "test_pairs": len(test), "blend": {},
                 "subspace": {}, "hubness": {}, "links": {}}
    for a in (0.0, 0.25, 0.5, 0.75, 1.0):
        row = {k: round(float(c.mrr(fused(c, a)).mean()), 4) for k, c in cases.items()}
        res["blend"][f"a={a}"] = {**row, **policy_row(lambda c, a=a: fused(c, a))}
        log(f"blend a={a}")
    # removed from every vector at r <= 16; from the queries alone (what ships, at r = subspace.RANK) above
    for r, query_only in ((0, False), (2, False), (4, False), (8, False), (16, False), (16, True), (32, True),
                          (64, True), (128, True)):
        if r > len(train):  # --quick: fewer pairs than directions
            continue
        basis = (language_basis(index, zh_rows[train], en_rows[train], r) if r
                 else np.zeros((0, index.chunk_vectors.matrix().shape[1]), dtype=np.float32))
        row = {}
        for a in (0.0, 1.0):
            for k, c in cases.items():
                lists = projected_lists(c, basis, query_only)
                row[f"{k} (a={a:g})"] = round(float(c.mrr(fused(c, a, lists), test).mean()), 4)
        prow = policy_row(lambda c, basis=basis, q=query_only: fused(c, 0.0, projected_lists(c, basis, q)))
        label = f"r={r}" + (", queries only" if query_only else "")
        res["subspace"][label] = {**row, **prow}
        log(f"subspace {label}")
    hubs = {id(index): hubness(index), id(policy_index): hubness(policy_index)}
    for label, names in (("CSLS on dense_centred", ("dense_centred",)),
                         ("CSLS on every dense ranking", ("dense", "dense_centred", "sentence"))):
        def csls(c: Case, names=names) -> list[np.ndarray]:
            return fused(c, 0.0, penalised(c, hubs[id(c.index)], names))
        row = {k: round(float(c.mrr(csls(c)).mean()), 4) for k, c in cases.items()}
        res["hubness"][label] = {**row, **policy_row(csls)}
        log(label)
    base = np.array([d.rsplit("-", 1)[0] for d in docs])
    policy_links: dict[float, np.ndarray] = {}
    for tau in (1.0, 1.1, 1.2):
        partner = translation_links(index, tau)
        policy_links[tau] = translation_links(policy_index, tau)
        linked = np.flatnonzero(partner >= 0)

        def linked_fusion(c: Case, tau=tau, partner=partner) -> list[np.ndarray]:
            return [propagate(f, partner if c.index is index else policy_links[tau]) for f in fused(c)]
        row = {k: round(float(c.mrr(linked_fusion(c)).mean()), 4) for k, c in cases.items()}
        res["links"][f"margin >= {tau}"] = {
            **row, **policy_row(linked_fusion),
            "linked chunks": int(len(linked)),
            "right partner": round(float((base[linked] == base[partner[linked]]).mean()), 4) if len(linked) else 0.0,
            "policy linked chunks": int((policy_links[tau] >= 0).sum())}
        log(f"links margin >= {tau}")
    res["gap"] = {}
    for k in ("mixed first zh->en", "mixed first en->zh"):
        res["gap"][k] = [round(float(x), 3) for x in np.percentile(gaps(cases[k]), [5, 25, 50, 75, 95])]
    for name, case in policy.items():
        g, d = gaps(case), np.array([x[:2] == x[-2:] for x in case.directions])
        res["gap"][f"{name}, gold in the query's language"] = [round(float(x), 3)
                                                              for x in np.percentile(g[d], [5, 25, 50, 75, 95])]
        res["gap"][f"{name}, gold in the other language"] = [round(float(x), 3)
                                                            for x in np.percentile(g[~d], [5, 25, 50, 75, 95])]
    x = parallel.centred_chunks(index)
    sim = x[zh_rows] @ x[en_rows].T
    true = np.diag(sim).copy()
    k = 4  # ``translation_links``'s ratio margin: each side's k nearest other-language chunks
    ra, rb = np.sort(sim, axis=1)[:, -k:].mean(axis=1), np.sort(sim, axis=0)[-k:, :].mean(axis=0)
    margin = sim / ((ra[:, None] + rb[None, :]) / 2)
    np.fill_diagonal(sim, -np.inf)
    y = parallel.centred_chunks(policy_index)
    pl = policy_index.chunk_languages
    cross = (y[pl == "zh"] @ y[pl == "en"].T).max(axis=1)
    res["translation_detection"] = {
        "translation is the best other-language match": round(float((true > sim.max(axis=1)).mean()), 4),
        "translation is the best other-language match by ratio margin (zh->en, en->zh)": [
            round(float((margin.argmax(axis=1) == np.arange(len(true))).mean()), 4),
            round(float((margin.argmax(axis=0) == np.arange(len(true))).mean()), 4)],
        "policy chunks (zh, en)": [int((pl == "zh").sum()), int((pl == "en").sum())],
        "translation cosine p5/p25/p50": [round(float(v), 3) for v in np.percentile(true, [5, 25, 50])],
        "best non-translation cosine p50/p95/p99": [round(float(v), 3)
                                                    for v in np.percentile(sim.max(axis=1), [50, 95, 99])],
        "policy corpus best cross-language cosine p50/p99/max": [round(float(v), 3)
                                                                 for v in np.percentile(cross, [50, 99, 100])],
    }
    return res


def tables(res: dict) -> str:
    out = []
    for part in ("blend", "subspace", "hubness", "links"):
        rows = res[part]
        cols = list(next(iter(rows.values())))
        out.append(f"{part}\n| lever | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
        out += [f"| {label} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |" for label, row in rows.items()]
    out.append("gap percentiles (5/25/50/75/95):")
    out += [f"  {k}: {v}" for k, v in res["gap"].items()]
    out += [f"{k}: {v}" for k, v in res["translation_detection"].items()]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parallel_levers", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the parallel index here and reuse it")
    parser.add_argument("--out", type=Path, help="results JSON")
    parser.add_argument("--quick", action="store_true", help="every 20th pair: keeps the script from rotting")
    args = parser.parse_args(argv)
    res = run(args.work, args.quick)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(tables(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
