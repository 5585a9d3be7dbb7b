"""Shared fixtures: a tiny bilingual corpus on disk and a fast, deterministic test embedder."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from swsearch import store, subspace, tables
from swsearch.embed.base import Embedder, normalize

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class HashEmbedder(Embedder):
    """Bag of words (English words, Chinese characters) hashed into 64 dimensions: fast and deterministic.

    It stands in for a neural model where a test is about plumbing (files, filters, errors), not quality.
    """

    backend = "test-hash"
    name = "test-hash"
    dim = 64
    max_tokens = 128

    def __init__(self, salt: str = ""):
        self.salt = salt

    def fingerprint(self) -> str:
        return hashlib.sha256(f"hash-embedder{self.salt}".encode()).hexdigest()

    def _tokens(self, text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", text.lower())

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for t in self._tokens(text):
            v[int(hashlib.md5((self.salt + t).encode()).hexdigest(), 16) % self.dim] += 1.0
        return v

    def encode_queries(self, texts, *, batch_size=32, show_progress=False):
        return normalize(np.stack([self._vec(t) for t in texts])) if texts else np.zeros((0, self.dim), np.float32)

    encode_documents = encode_queries

    def count_tokens(self, text, *, query=False):
        return len(self._tokens(text)) + 2


TINY_DOCS = {
    "workers.txt": "Community workers\n\nCities staff 18 community workers per 10,000 urban residents. "
                   "Pay follows the local average wage.\n\nTraining happens every three years.",
    "volunteers.md": "# Volunteer service\n\nVolunteers register online and their hours are recorded.\n\n"
                     "Organisations must protect volunteers' personal information.",
    "petition.txt": "第一章　总则\n\n第一条　为了做好信访工作，制定本条例。\n\n"
                    "第二条　信访人不得捏造、歪曲事实，不得诬告、陷害他人。",
    "mediation.txt": "人民调解员从事调解工作，应当给予适当的误工补贴。\n\n"
                     "因从事调解工作致伤致残的，给予必要的医疗、生活救助。",
}


def write_tiny_corpus(root: Path) -> Path:
    """``root/corpus``: four short documents, two English and two Chinese."""
    folder = root / "corpus"
    folder.mkdir()
    for name, text in TINY_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """Four short documents, two English and two Chinese, in a folder."""
    return write_tiny_corpus(tmp_path)


@pytest.fixture()
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture()
def tiny_index(tiny_corpus, hash_embedder):
    from swsearch import Index
    return Index.build(tiny_corpus, model=hash_embedder)


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("swsearch-home")


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch, home):
    """Never write to the user's real cache from tests."""
    monkeypatch.setenv("SWSEARCH_HOME", str(home))


@pytest.fixture(scope="session")
def real_hash_index():
    """The bundled corpus indexed with the hash embedder, built once per session (tests must not change it)."""
    import swsearch

    return swsearch.Index.build(swsearch.load_corpus(None), model=HashEmbedder())


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A throwaway PostgreSQL 16 + pgvector (the pgserver package), started once for the session and stopped
    after. Skipped with its reason where it cannot start, except when SWSEARCH_TEST_POSTGRES=required (CI)."""
    import os
    import warnings

    required = os.environ.get("SWSEARCH_TEST_POSTGRES") == "required"
    try:
        import pgserver
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
            server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    except Exception as exc:  # noqa: BLE001 - any reason the server cannot start
        if required:
            raise
        pytest.skip(f"PostgreSQL could not start here ({type(exc).__name__}: {exc}); pip install pgserver")
    yield server
    server.cleanup()


@pytest.fixture()
def pg_url(pg_server, request) -> str:
    """A URL of a fresh index name for each test."""
    import re as _re

    name = _re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:30]
    return f"{pg_server.get_uri()}&index=t_{name}"


def legacy_files(manifest: dict, files: dict, version: int) -> tuple[dict, dict]:
    """An index's manifest and files as formats 1 and 2 wrote them: the chunks as chunks.jsonl and the
    documents listed in the manifest, instead of tables.py's columns."""
    chunks = tables.ChunkTable.from_files(files)
    docs = tables.DocumentTable.from_files(files)
    files = {k: v for k, v in files.items() if k not in tables.FILES + tables.DOCUMENT_FILES}
    files["chunks.jsonl"] = store.jsonl_bytes([{"id": c.id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
                                                "heading": c.heading, "text": c.text} for c in chunks])
    listed = {k: {"bytes": len(v), "sha256": hashlib.sha256(v).hexdigest()} for k, v in files.items()}
    return {**manifest, "format_version": version, "files": listed, "documents": docs.entries()}, files


def write_format_2(index, tmp_path: Path) -> Path:
    """``index`` saved as a format-2 index (chunks.jsonl, documents in the manifest) in ``tmp_path / "old"``."""
    manifest, files = legacy_files(*store.read_index_dir(index.save(tmp_path / "new")), 2)
    old = tmp_path / "old"
    (old / manifest["data"]).mkdir(parents=True)
    for name, data in files.items():
        (old / manifest["data"] / name).write_bytes(bytes(data))
    (old / "manifest.json").write_text(json.dumps(manifest))
    return old


def tiny_pairs(n: int = 40) -> list[dict[str, str]]:
    """``n`` made-up translation pairs in the two languages of the tiny corpus (each differs from the next)."""
    words = ["workers", "pay", "volunteers", "hours", "training", "residents", "mediation", "petition"]
    chars = "工作报酬志愿服务培训居民调解信访"
    return [{"en": f"rule {i} on {words[i % 8]} and {words[(i * 3 + 1) % 8]}",
             "zh": f"第{i}条 {chars[i % 16]}{chars[(i * 5 + 2) % 16]}{chars[(i * 7 + 3) % 16]}"} for i in range(n)]


def made_up_term_pairs() -> list[dict[str, str]]:
    """Chinese-English pairs that teach a made-up English word for 误工 (lost working time, in the tiny corpus's
    mediation text): no dictionary translates "zorbl", so only learned translations find that text for it."""
    return [{"zh": "误工", "en": "zorbl"}, {"zh": "误工补贴", "en": "zorbl"}, {"zh": "信访", "en": "petition"},
            {"zh": "信访工作", "en": "petition work"}]


def write_pairs(path: Path, pairs: list[dict]) -> Path:
    """``pairs`` as the JSONL file ``swsearch subspace`` reads."""
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    return path


def orthonormal(rank: int, dim: int, seed: int = 0) -> np.ndarray:
    """``rank`` random orthonormal rows of width ``dim``."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, rank)))
    return q.T.astype(np.float32)


@pytest.fixture
def hash_basis(tmp_path, monkeypatch):
    """A basis for the hash embedder's fingerprint, in a folder that stands in for the package's."""
    basis = orthonormal(8, HashEmbedder.dim)
    monkeypatch.setattr(subspace, "SUBSPACE_DIR", tmp_path / "subspaces")
    subspace.load.cache_clear()
    subspace.save(basis, HashEmbedder().fingerprint(), {"fitted_on": "random directions"})
    yield basis
    subspace.load.cache_clear()
