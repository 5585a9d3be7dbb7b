"""The write path: never replace what swsearch did not write, atomic switches, one writer at a time, and
readers that never see half an index. The process tests use real processes and are bounded in time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swsearch import Index, IndexLoadError, IndexWriteError, store, tables

from .conftest import HashEmbedder, legacy_files, write_format_2

# a child that saves the index it is given to a target folder in a loop
SAVER = """
import sys, time
from swsearch import Index
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
index = Index.load(src)
print("ready", flush=True)
for _ in range(n):
    index.save(dst)
"""

# a child that loads the target folder in a loop and reports how many loads failed
READER = """
import sys, time
from swsearch import Index
from swsearch.errors import SwsearchError
dst, seconds = sys.argv[1], float(sys.argv[2])
ok = bad = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        ix = Index.load(dst)
        assert len(ix.chunks) in (int(sys.argv[3]), int(sys.argv[4])), len(ix.chunks)
        ok += 1
    except SwsearchError as exc:
        bad += 1
        print("failed:", exc, file=sys.stderr)
print(ok, bad)
"""


# a child that holds an index's writer lock
LOCK_HOLDER = """
import sys, time
from swsearch import store
with store.writer_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _child(code: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture()
def saved(tiny_index, tmp_path) -> Path:
    return tiny_index.save(tmp_path / "ix")


@pytest.fixture()
def other_saved(tmp_path) -> Path:
    """A second index with a different number of chunks, to tell the two apart."""
    index = Index.build(["One short English text about volunteers.", "另一段中文文本。"], model=HashEmbedder())
    return index.save(tmp_path / "other")


# ---------------------------------------------------------------------- refusing to destroy user files
def test_save_refuses_a_folder_of_user_files(tiny_index, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"years of work")
    (folder / "sub").mkdir()
    before = _snapshot(folder)
    with pytest.raises(IndexWriteError, match="not a swsearch index.*new or empty folder"):
        tiny_index.save(folder)
    assert _snapshot(folder) == before and sorted(os.listdir(folder)) == ["sub", "thesis.docx"]


def test_save_refuses_the_corpus_folder_its_parent_and_a_file(tiny_index, tiny_corpus, tmp_path):
    before = _snapshot(tmp_path)
    for target in (tiny_corpus, tiny_corpus.parent, tiny_corpus / "workers.txt"):
        with pytest.raises(IndexWriteError):
            tiny_index.save(target)
    assert _snapshot(tmp_path) == before


def test_save_refuses_the_working_directory(tiny_index, tiny_corpus, monkeypatch):
    monkeypatch.chdir(tiny_corpus)
    with pytest.raises(IndexWriteError, match="not a swsearch index"):
        tiny_index.save(".")
    assert sorted(os.listdir(tiny_corpus)) == sorted(["workers.txt", "volunteers.md", "petition.txt", "mediation.txt"])


def test_save_into_an_empty_folder_and_over_its_own_index(tiny_index, tmp_path, hash_embedder):
    folder = tmp_path / "empty"
    folder.mkdir()
    tiny_index.save(folder)
    for _ in range(4):
        tiny_index.save(folder)
    versions = [p.name for p in folder.iterdir() if p.name.startswith("v")]
    assert len(versions) == 2  # the current version and the one it replaced, nothing older
    assert json.loads((folder / "manifest.json").read_text())["data"] == max(versions)
    assert Index.load(folder, model=hash_embedder).search("volunteers", k=2) == tiny_index.search("volunteers", k=2)


def test_a_damaged_index_of_ours_can_be_rebuilt_in_place(saved, tiny_index):
    (saved / "manifest.json").write_text("{not json")
    with pytest.raises(IndexLoadError, match="corrupt"):
        Index.load(saved)
    tiny_index.save(saved)  # what the error message tells the user to do must work
    assert len(Index.load(saved)) == len(tiny_index)


def _format_1_copy(index, tmp_path):
    """The index's files laid out as format 1 did (beside the manifest, no version folder): (folder, manifest
    as it would be written, files)."""
    manifest, files = legacy_files(*store.read_index_dir(index.save(tmp_path / "new")), 1)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name, data in files.items():
        (legacy / name).write_bytes(bytes(data))
    return legacy, {k: v for k, v in manifest.items() if k != "data"}, files


def test_format_2_index_is_read_changed_and_saved_as_columns(tiny_index, tmp_path, hash_embedder):
    old = write_format_2(tiny_index, tmp_path)
    loaded = Index.load(old, model=hash_embedder)
    assert loaded.chunks == tiny_index.chunks
    assert loaded.search("volunteer information", k=5) == tiny_index.search("volunteer information", k=5)
    loaded.delete([tiny_index.chunks[0].doc_id]).save()
    again = store.read_index_dir(old)
    assert again[0]["format_version"] == store.FORMAT_VERSION and "chunks.jsonl" not in again[1]
    assert "documents" not in again[0] and tables.DOC_JSON in again[1]
    assert tables.JSON in again[1] and len(Index.load(old)) < len(tiny_index)


def test_format_1_index_is_read_and_replaced(tiny_index, tmp_path):
    legacy, manifest, _ = _format_1_copy(tiny_index, tmp_path)
    (legacy / "manifest.json").write_text(json.dumps(manifest))
    assert Index.load(legacy).chunks == tiny_index.chunks
    tiny_index.save(legacy)
    assert sorted(p.name for p in legacy.iterdir() if not p.name.startswith("v")) == [".lock", "manifest.json"]
    assert Index.load(legacy).chunks == tiny_index.chunks


def test_replacing_a_format_1_index_removes_only_the_files_it_recorded(tiny_index, tmp_path):
    legacy, manifest, files = _format_1_copy(tiny_index, tmp_path)
    (legacy / "notes.txt").write_text("the user's own notes")
    changed = "chunks.jsonl"
    (legacy / changed).write_bytes(b"rewritten by someone else")  # no longer the file the manifest records
    manifest["files"]["notes.txt"] = {"bytes": 3, "sha256": "0" * 64}  # a name alone must not be enough
    (legacy / "manifest.json").write_text(json.dumps(manifest))
    tiny_index.save(legacy)
    left = sorted(p.name for p in legacy.iterdir() if not p.name.startswith("v"))
    assert left == sorted([".lock", "manifest.json", "notes.txt", changed])
    assert (legacy / "notes.txt").read_text() == "the user's own notes"
    assert Index.load(legacy).chunks == tiny_index.chunks


def test_leftovers_of_killed_writers_are_swept(saved, tiny_index):
    (saved / ".tmp-0123abcd").mkdir()
    (saved / ".tmp-0123abcd" / "chunks.jsonl").write_text("half")
    (saved / "v999998-0123abcd").mkdir()  # a version a writer renamed but never switched to
    (saved / ".manifest.json.tmp-0123abcd").write_text("{")
    tiny_index.save(saved)
    names = sorted(os.listdir(saved))
    assert not any(n.startswith(".tmp-") or n.startswith(".manifest") for n in names)
    assert "v999998-0123abcd" not in names
    Index.load(saved)


def test_a_second_writer_waits_then_gets_one_line(saved, tiny_index):
    holder = _child(LOCK_HOLDER, saved, 20)
    assert holder.stdout.readline().strip() == "locked"
    try:
        start = time.monotonic()
        with pytest.raises(IndexWriteError, match="another process is writing .*try again"):
            store.write_index_dir(saved, {"format": store.FORMAT}, {"chunks.jsonl": b"", "vectors.faiss": b""},
                                  lock_timeout=0.3)
        assert 0.3 <= time.monotonic() - start < 5
    finally:
        holder.kill()
        holder.wait(timeout=30)
    Index.load(saved)  # untouched
    tiny_index.save(saved)  # and free again once the other writer is gone


def test_the_lock_is_reentrant_within_a_thread(saved, tiny_index):
    with store.writer_lock(saved):  # what `swsearch add` does: load, change and save under one lock
        tiny_index.save(saved)
    assert len(Index.load(saved)) == len(tiny_index)


# ---------------------------------------------------------------------- reading only inside the index
def _tamper(path: Path, edit) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../etc/passwd", "../manifest.json", "a/b", ".lock", ""])
def test_manifest_file_names_outside_the_index_are_refused(saved, name):
    size = os.path.getsize("/etc/passwd")
    digest = store._sha256(Path("/etc/passwd").read_bytes())
    _tamper(saved, lambda m: m["files"].update({name: {"bytes": size, "sha256": digest}}))
    with pytest.raises(IndexLoadError, match="outside the index"):
        Index.load(saved)


@pytest.mark.parametrize("data", ["../other", "/tmp", "v1-x", 3, None])
def test_manifest_version_folder_must_be_ours(saved, data):
    _tamper(saved, lambda m: m.update({"data": data}))
    with pytest.raises(IndexLoadError, match="malformed"):
        Index.load(saved)


def test_symlinked_files_are_not_followed(saved, other_saved):
    target = store.data_dir(saved) / "chunks.text.bin"
    real = target.read_bytes()
    copy = saved.parent / "copy.bin"
    copy.write_bytes(real)  # same size and digest: only the link itself is wrong
    target.unlink()
    target.symlink_to(copy)
    with pytest.raises(IndexLoadError, match="symbolic link"):
        Index.load(saved)
    target.unlink()
    target.symlink_to("/dev/zero")
    with pytest.raises(IndexLoadError, match="symbolic link"):
        Index.load(saved)


def test_a_fifo_or_device_is_refused_without_hanging(saved):
    target = store.data_dir(saved) / "vectors.faiss"
    target.unlink()
    os.mkfifo(target)
    start = time.monotonic()
    with pytest.raises(IndexLoadError, match="not a regular file"):
        Index.load(saved)
    assert time.monotonic() - start < 5


def test_oversized_file_is_refused_before_reading(saved):
    target = store.data_dir(saved) / "chunks.json"
    with open(target, "ab") as fh:
        fh.truncate(200 << 20)  # sparse: 200 MiB that the manifest does not promise
    with pytest.raises(IndexLoadError, match="truncated or corrupt"):
        Index.load(saved)


@pytest.mark.parametrize("files", [[], "x", {"chunks.jsonl": 3}, {"chunks.jsonl": {"bytes": "1", "sha256": "0"}},
                                   {"chunks.jsonl": {"bytes": -1, "sha256": "0" * 64}}])
def test_malformed_file_table_is_one_error(saved, files):
    _tamper(saved, lambda m: m.update({"files": files}))
    with pytest.raises(IndexLoadError):
        Index.load(saved)


def test_deeply_nested_manifest_is_one_error(saved):
    (saved / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(IndexLoadError, match="corrupt"):
        Index.load(saved)


# ---------------------------------------------------------------------- real processes
def test_kill_during_save_always_leaves_a_loadable_index(saved, other_saved, tmp_path):
    target = tmp_path / "target"
    sizes = {len(Index.load(saved)), len(Index.load(other_saved))}
    for i in range(6):
        proc = _child(SAVER, saved if i % 2 else other_saved, target, 10_000)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.07 * i)  # a different moment of a save each time
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if (target / "manifest.json").exists():  # the first kill may come before any save finished
            assert len(Index.load(target)) in sizes
    Index.load(saved).save(target)  # and the next writer cleans up after the killed ones
    assert not [n for n in os.listdir(target) if n.startswith(".tmp-") or n.startswith(".manifest")]
    assert len([n for n in os.listdir(target) if n.startswith("v")]) <= 2


def test_concurrent_writers_and_readers(saved, other_saved, tmp_path):
    target = tmp_path / "target"
    Index.load(saved).save(target)
    n_saved, n_other = len(Index.load(saved)), len(Index.load(other_saved))
    readers = [_child(READER, target, 6, n_saved, n_other) for _ in range(2)]
    writers = [_child(SAVER, src, target, 25) for src in (saved, other_saved, saved)]
    for w in writers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    total_ok = 0
    for r in readers:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 0, err
        ok, bad = map(int, out.split())
        assert bad == 0, err
        total_ok += ok
    assert total_ok > 0
    assert len(Index.load(target)) in (n_saved, n_other)
    assert len([n for n in os.listdir(target) if n.startswith("v")]) <= 2
