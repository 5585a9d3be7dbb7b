"""The peer: what a user would write with sentence-transformers + FAISS alone (load, embed, search).

    python benchmarks/peer_st_faiss.py build MODEL_DIR TEXTS.jsonl OUT_DIR   # {"id", "text"} per line
    python benchmarks/peer_st_faiss.py query MODEL_DIR OUT_DIR "question" [-k 5]
"""

import json
import sys
import time
from pathlib import Path


def build(model_dir: str, texts_path: str, out: str) -> None:
    import faiss
    import numpy as np
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    rows = [json.loads(line) for line in Path(texts_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    model = SentenceTransformer(model_dir, device="cpu")
    vecs = model.encode([r["text"] for r in rows], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(np.asarray(vecs, dtype="float32"))
    Path(out).mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(Path(out) / "index.faiss"))
    (Path(out) / "ids.json").write_text(json.dumps([r["id"] for r in rows]))
    print(json.dumps({"chunks": len(rows), "seconds": time.perf_counter() - t0}))


def query(model_dir: str, out: str, text: str, k: int = 5) -> None:
    import faiss
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    index = faiss.read_index(str(Path(out) / "index.faiss"))
    ids = json.loads((Path(out) / "ids.json").read_text())
    q = model.encode([text], normalize_embeddings=True, convert_to_numpy=True)
    scores, rows = index.search(q, k)
    print(json.dumps([{"id": ids[r], "score": float(s)} for s, r in zip(scores[0], rows[0])]))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(*sys.argv[2:5])
    else:
        query(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[6]) if len(sys.argv) > 6 else 5)
