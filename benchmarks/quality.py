"""Retrieval quality: the bilingual policy corpus (span-judged questions) and BEIR SciFact (qrels)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import swsearch
from swsearch.evaluate import load_beir_qrels, load_queries, score_span_queries, trec_scores
from swsearch.split import sentence_spans

from .common import (
    DEV_QUERIES,
    FRESH_QUERIES,
    HELDOUT_QUERIES,
    OWN_QUERIES,
    SCIFACT,
    SEALED2_QUERIES,
    SEALED3_QUERIES,
    SEALED_QUERIES,
)


def query_sets(quick: bool) -> dict[str, list[dict]]:
    sets = {"dev": load_queries(DEV_QUERIES), "own": load_queries(OWN_QUERIES),
            "heldout": load_queries(HELDOUT_QUERIES), "fresh": load_queries(FRESH_QUERIES),
            "sealed": load_queries(SEALED_QUERIES), "sealed2": load_queries(SEALED2_QUERIES),
            "sealed3": load_queries(SEALED3_QUERIES)}
    return {k: v[::4] for k, v in sets.items()} if quick else sets


def _summary(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "per_query"}


def eval_index(index, sets: dict, **search_kw) -> dict:
    """hit@1/hit@5/MRR@10 per direction for every query set, searching through the public API."""
    out = {}
    for name, qs in sets.items():
        results = index.search_batch([q["query"] for q in qs], k=10, **search_kw)
        out[name] = _summary(score_span_queries(qs, {q["id"]: [(h.chunk_id, h.text) for h in hits]
                                                     for q, hits in zip(qs, results)}))
    return out


def eval_combined_models(index, sets: dict, weights: tuple[float, float] = (3.0, 1.0)) -> dict:
    """The "combining models" lever: all-MiniLM-L6-v2 over the same chunks ranks for English questions,
    fused by reciprocal rank (k 60) with the default hybrid ranking (weights hybrid 3 : MiniLM 1).

    MiniLM reads each chunk up to its 256-token limit. Chinese questions keep the hybrid ranking alone.
    """
    from swsearch.documents import detect_language
    from swsearch.fusion import RRF_K

    docs = [swsearch.Document(id=c.id, text=c.text, language=index.documents[c.doc_id]["language"])
            for c in index.chunks]
    minilm = swsearch.Index.build(docs, model="all-MiniLM-L6-v2", split=False, lexical=False, sentences=False)
    texts = {c.id: c.text for c in index.chunks}
    out = {}
    for name, qs in sets.items():
        queries = [q["query"] for q in qs]
        hybrid = index.search_batch(queries, k=100)
        english = minilm.search_batch(queries, k=100, mode="dense", centroids=False)
        ranked = {}
        for q, h_hits, m_hits in zip(qs, hybrid, english):
            score: dict[str, float] = defaultdict(float)
            for r, h in enumerate(h_hits, 1):
                score[h.chunk_id] += weights[0] / (RRF_K + r)
            if detect_language(q["query"]) == "en":
                for r, h in enumerate(m_hits, 1):
                    score[h.doc_id] += weights[1] / (RRF_K + r)  # the MiniLM "document" is the chunk
            top = sorted(score, key=lambda c: -score[c])[:10]
            ranked[q["id"]] = [(c, texts[c]) for c in top]
        out[name] = _summary(score_span_queries(qs, ranked))
    return out


def eval_bm25_baseline(chunks: list, sets: dict) -> dict:
    """BM25 (bm25s, k1 1.5, b 0.75) over the same chunks, jieba for Chinese, stemmed English; no translation."""
    import bm25s

    from swsearch.lexical import full_segmenter, tokenize

    seg = full_segmenter()
    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retriever.index([tokenize(c.text, seg) for c in chunks], show_progress=False)
    vocab = retriever.vocab_dict
    out = {}
    for name, qs in sets.items():
        ranked = {}
        for q in qs:
            toks = [t for t in tokenize(q["query"], seg) if t in vocab]
            scores = retriever.get_scores(toks) if toks else np.zeros(len(chunks))
            top = np.argsort(-scores, kind="stable")[:10]
            ranked[q["id"]] = [(chunks[i].id, chunks[i].text) for i in top]
        out[name] = _summary(score_span_queries(qs, ranked))
    return out


def naive_documents(quick: bool) -> list[swsearch.Document]:
    """The naive baseline's input: raw files (footer and all), fixed 3-sentence chunks, one document each."""
    corpus_dir = swsearch.documents.bundled_corpus_dir()
    manifest = json.loads((corpus_dir / "manifest.json").read_text())["documents"]
    docs = []
    for entry in manifest:
        if quick and entry["id"][:2] not in ("00", "03", "05"):
            continue
        raw = (corpus_dir / entry["file"]).read_text(encoding="utf-8")
        spans = sentence_spans(raw)
        for n in range(0, len(spans), 3):
            a, b = spans[n][0], spans[min(n + 2, len(spans) - 1)][1]
            docs.append(swsearch.Document(id=f"{entry['id']}~{n // 3}", text=raw[a:b], title=entry["title"],
                                          language=entry["language"]))
    return docs


# ------------------------------------------------------------------------------------------ SciFact
def load_scifact(quick: bool):
    """SciFact test split through swsearch's own BEIR loader; quick mode keeps 150 documents, 20 queries."""
    docs = swsearch.load_corpus(SCIFACT / "corpus.jsonl")
    qrels = load_beir_qrels(SCIFACT / "qrels" / "test.tsv")
    queries = {}
    for line in (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["_id"] in qrels:
            queries[row["_id"]] = row["text"]
    if quick:
        keep_q = sorted(queries, key=int)[:20]
        relevant = {d for q in keep_q for d in qrels[q]}
        others = [d for d in docs if d.id not in relevant][: 150 - len(relevant)]
        docs = [d for d in docs if d.id in relevant] + others
        queries = {q: queries[q] for q in keep_q}
        qrels = {q: qrels[q] for q in keep_q}
    return docs, queries, qrels


def scifact_subset(docs, queries: dict, qrels: dict, size: int):
    """Every judged document plus the first others up to ``size``; all queries."""
    relevant = {d for q in qrels.values() for d in q}
    keep = [d for d in docs if d.id in relevant]
    keep += [d for d in docs if d.id not in relevant][: max(0, size - len(keep))]
    return keep, queries, qrels


def beir_metrics(ranked: dict[str, list[tuple[str, float]]], qrels: dict) -> dict:
    """nDCG@10 and Recall@100 (trec_eval definitions) averaged over the queries that have judgements."""
    run = {q: {d: s for d, s in hits} for q, hits in ranked.items()}
    per_q = trec_scores(qrels, run, ["ndcg_cut.10", "recall.100"])
    n = len(qrels)
    return {"ndcg@10": round(sum(v["ndcg_cut_10"] for v in per_q.values()) / n, 5),
            "recall@100": round(sum(v["recall_100"] for v in per_q.values()) / n, 5), "queries": n}


def eval_scifact_index(index, queries: dict, qrels: dict, **search_kw) -> dict:
    """Search every test claim (top 100 chunks), keep each document's best chunk, score with trec_eval."""
    qids = list(queries)
    t0 = time.perf_counter()
    results = index.search_batch([queries[q] for q in qids], k=100, **search_kw)
    seconds = time.perf_counter() - t0
    ranked = {}
    for q, hits in zip(qids, results):
        best: dict[str, float] = {}
        for rank, h in enumerate(hits):
            score = float(h.score) if np.isfinite(h.score) else -rank
            best[h.doc_id] = max(best.get(h.doc_id, -1e9), score)
        ranked[q] = sorted(best.items(), key=lambda kv: -kv[1])
    return {**beir_metrics(ranked, qrels), "search_s": round(seconds, 2)}


def eval_scifact_bm25s(docs, queries: dict, qrels: dict) -> dict:
    """bm25s with MTEB's baseline settings: k1 1.5, b 0.75, lucene, English stop words, Snowball stemmer."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    texts = [f"{d.title} {d.text}" for d in docs]
    t0 = time.perf_counter()
    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    build = time.perf_counter() - t0
    qids = list(queries)
    q_tokens = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False)
    rows, scores = retriever.retrieve(q_tokens, k=min(100, len(docs)), show_progress=False)
    ranked = {q: [(docs[r].id, float(s)) for r, s in zip(rows[i], scores[i])] for i, q in enumerate(qids)}
    return {**beir_metrics(ranked, qrels), "build_s": round(build, 2)}


def doc_frequencies(chunks) -> dict:
    per_doc = defaultdict(int)
    for c in chunks:
        per_doc[c.doc_id] += 1
    return per_doc


def save_texts(chunks, path: Path) -> Path:
    """The chunk texts as JSONL for the peer script, so both embed exactly the same inputs."""
    path.write_text("".join(json.dumps({"id": c.id, "text": c.text}, ensure_ascii=False) + "\n" for c in chunks),
                    encoding="utf-8")
    return path


def _mrr10(scores: np.ndarray, relevant: np.ndarray) -> float:
    top = np.argsort(-scores, kind="stable")[:10]
    hit = np.nonzero(relevant[top])[0]
    return 1.0 / (hit[0] + 1) if len(hit) else 0.0


def fusion_weight_study(index, sets: dict, grid=(0.0, 0.5, 1.0, 2.0, 3.0), folds: int = 4, repeats: int = 20,
                        seed: int = 0) -> dict:
    """Are the fusion weights tuned to the questions they were chosen on? For RRF and the convex combination:
    every weighting of the five rankings on ``grid`` (BM25 keeps a weight of at least 0.5) scored on ``own``;
    the best one in-sample, its repeated stratified k-fold cross-validated MRR@10 on ``own`` (weights chosen on
    the other folds), and its MRR@10 on the other sets. Uses ``Index.component_scores`` and ``fusion.fuse``,
    so the scores are exactly those of ``search``."""
    from itertools import product

    from swsearch import fusion
    from swsearch.evaluate import contains_span

    data = {}
    for set_name, qs in sets.items():
        lists = index.component_scores([q["query"] for q in qs])
        rel = [np.array([contains_span(c.text, q["gold"]) for c in index.chunks]) for q in qs]
        data[set_name] = (qs, lists, rel)
    # the rankings these searches fuse (not ``dense_translated``: it joins only searches that cannot return the
    # query's language, and none of these is one)
    names = [n for n in fusion.HYBRID_WEIGHTS if any(n in ls for ls in data["own"][1])]
    combos = [w for w in product(grid, repeat=len(names)) if w[names.index("lexical")] >= 0.5]

    def per_query(set_name: str, method: str, weights: tuple) -> np.ndarray:
        qs, lists, rel = data[set_name]
        w = dict(zip(names, weights))
        return np.array([_mrr10(fusion.fuse(ls, w, method), r) for ls, r in zip(lists, rel)])

    out = {"grid": list(grid), "folds": folds, "repeats": repeats, "n_weightings": len(combos), "methods": {}}
    directions = np.array([q["lang"] for q in data["own"][0]])
    rng = np.random.default_rng(seed)
    splits = []  # the same stratified splits for both methods, so their CV figures compare like with like
    for _ in range(repeats):
        fold = np.empty(len(directions), dtype=int)
        for d in np.unique(directions):
            ix = np.nonzero(directions == d)[0]
            fold[rng.permutation(ix)] = np.arange(len(ix)) % folds
        splits.append(fold)
    for method, default in (("rrf", fusion.HYBRID_WEIGHTS), ("convex", fusion.CONVEX_WEIGHTS)):
        table = np.array([per_query("own", method, c) for c in combos])  # weightings x own questions
        best = combos[int(table.mean(axis=1).argmax())]
        cv = []
        for fold in splits:
            got = np.zeros(len(directions))
            for f in range(folds):
                train, test = fold != f, fold == f
                got[test] = table[int(table[:, train].mean(axis=1).argmax()), test]
            cv.append(got.mean())
        shipped = tuple(default[n] for n in names)
        out["methods"][method] = {
            "shipped_weights": dict(zip(names, shipped)), "best_weights_on_own": dict(zip(names, best)),
            "cv_own_mrr@10": round(float(np.mean(cv)), 4), "cv_own_sd": round(float(np.std(cv)), 4),
            "shipped": {s: round(float(per_query(s, method, shipped).mean()), 4) for s in data},
            "best_on_own": {s: round(float(per_query(s, method, best).mean()), 4) for s in data}}
    return out
