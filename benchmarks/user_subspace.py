"""The user's path to a language subspace (``swsearch subspace PAIRS``), checked on the default model against
the shipped basis that ``make subspace`` fits.

The shipped basis is fitted on the parallel index's own chunk vectors, centred on that index's centroids
(``fit_subspace.py``); a user fits through ``Index.fit_subspace``, which embeds the pair texts and centres
them on the centroids of the index it fits for. Both are fitted here on the same pairs (books 1–2 of the
shared parallel set), then compared:

- **agreement**: the cosines of the principal angles between the two 32-direction bases (1: the same
  subspace), on the parallel index and on the bundled one;
- **parallel**: books 3–4 (never fitted on) with the shipped basis, with the user-path basis of the parallel
  index, and with none;
- **policy**: the five policy question sets on the bundled index, with the shipped basis and with a basis fitted
  through the user's path on the bundled index itself (whose centroids differ from the parallel index's).

Run: ``PYTHONPATH=. python -m benchmarks.user_subspace [--work DIR] [--out FILE]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import swsearch
from swsearch import subspace

from . import parallel, quality
from .common import study_main


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def principal_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between the row spaces of two orthonormal bases (1: the same space)."""
    return np.linalg.svd(a.astype(np.float64) @ b.astype(np.float64).T, compute_uv=False)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = principal_cosines(a, b)
    return {"min": round(float(cos.min()), 4), "median": round(float(np.median(cos)), 4),
            "mean": round(float(cos.mean()), 4)}


def _all(result: dict) -> dict[str, dict[str, float]]:
    """MRR@10 per query set and direction (``all``: every question of the set)."""
    return {name: {d: r["mrr@10"] for d, r in dirs.items() if isinstance(r, dict) and "mrr@10" in r}
            for name, dirs in result.items()}


def run(work: Path | None) -> dict:
    pairs = parallel.load_pairs(False)
    train = [{"zh": p["zh"], "en": p["en"]} for p in pairs if p["book"] in parallel.SUBSPACE_BOOKS]
    held_out = [p for p in pairs if p["book"] not in parallel.SUBSPACE_BOOKS]
    index = parallel.built_index(pairs, work)
    shipped = subspace.for_model(index.config["model"])
    if shipped is None:
        raise SystemExit("the default model ships no language subspace: run make subspace first")
    res: dict = {"pairs": len(train), "held_out_pairs": len(held_out)}
    log("parallel: books 3-4 with the shipped basis and without one")
    systems = {"shipped basis": parallel.evaluate(index, held_out, {}),
               "no basis (subspace=False)": parallel.evaluate(index, held_out, {"subspace": False})}
    t = time.perf_counter()
    index.fit_subspace(train)
    res["fit_s"] = round(time.perf_counter() - t, 1)
    log(f"parallel: fitted through Index.fit_subspace in {res['fit_s']} s")
    res["agreement"] = agreement(index.subspace, shipped)
    systems["user-path basis"] = parallel.evaluate(index, held_out, {})
    res["parallel"] = systems
    log("policy: the bundled index with the shipped basis, then with one fitted on it through the user's path")
    policy = swsearch.default_index()
    sets = quality.query_sets(False)
    res["policy"] = {"shipped basis": _all(quality.eval_index(policy, sets))}
    policy.fit_subspace(train)
    res["policy_agreement"] = agreement(policy.subspace, shipped)
    res["policy"]["user-path basis"] = _all(quality.eval_index(policy, sets))
    return res


def main(argv: list[str] | None = None) -> int:
    return study_main(argv, "user_subspace", __doc__, run, lambda res: json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
