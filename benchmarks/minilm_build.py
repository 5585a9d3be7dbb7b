"""all-MiniLM-L6-v2 builds against the sentence-transformers + FAISS peer, alternating in one run.

Each round builds the bundled corpus in fresh processes with the CLI: passages through the model's ONNX export
(the default), through sentence-transformers with torch (``SWSEARCH_ONNX=0``), each with and without sentence
vectors (``--no-sentences``), and the peer script over the same chunks. The ONNX export is made once before the
first round (it is cached per model, like the query path's), so the default builds run on it alone, without
torch, and the rounds time builds, not the export; the first build's time, export included, is reported
separately. Run: ``PYTHONPATH=. python -m benchmarks.minilm_build [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import swsearch

from . import quality
from .common import REPO, run_timed

PY = sys.executable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.minilm_build", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, help="results JSON")
    args = parser.parse_args(argv)
    from swsearch.embed.sentence_transformers import resolve_model_path

    model = resolve_model_path("all-MiniLM-L6-v2")
    work = Path(tempfile.mkdtemp(prefix="minilm-build-"))
    home = work / "home"
    env = {**os.environ, "SWSEARCH_HOME": str(home)}
    cli = [PY, "-m", "swsearch", "index", "--model", "all-MiniLM-L6-v2", "--quiet"]
    first = run_timed([*cli, "--out", str(work / "first")], env=env)  # makes the export, then builds
    texts = quality.save_texts(swsearch.Index.load(work / "first").chunks, work / "texts.jsonl")
    runs = {
        "swsearch, passages via ONNX (default)": (cli, env),
        "swsearch, passages via torch (SWSEARCH_ONNX=0)": (cli, {**env, "SWSEARCH_ONNX": "0"}),
        "swsearch --no-sentences, passages via ONNX": ([*cli, "--no-sentences"], env),
        "swsearch --no-sentences, passages via torch": ([*cli, "--no-sentences"], {**env, "SWSEARCH_ONNX": "0"}),
        "peer ST+FAISS (same chunks)": ([PY, str(REPO / "benchmarks" / "peer_st_faiss.py"), "build", model,
                                         str(texts)], env),
    }
    walls: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.rounds):
        for label, (cmd, e) in runs.items():
            out = work / f"{len(walls[label])}-{abs(hash(label))}"
            res = run_timed([*cmd, str(out)] if "peer" in label else [*cmd, "--out", str(out)], env=e)
            walls[label].append(res["wall_s"])
            print(f"round {r + 1}: {label}: {res['wall_s']:.1f} s", file=sys.stderr, flush=True)
    med = {k: round(statistics.median(v), 1) for k, v in walls.items()}
    peer = med["peer ST+FAISS (same chunks)"]
    res = {"chunks": len(swsearch.Index.load(work / "first")), "first_build_with_export_s": first["wall_s"],
           "walls_s": walls, "median_s": med, "ratio_to_peer": {k: round(v / peer, 2) for k, v in med.items()}}
    print(json.dumps(res, indent=1))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
