"""The index directory on disk: versioned, atomically switched, verified on load.

Layout (formats 2 and 3)::

    DIR/manifest.json       the configuration and the pointer: names the version folder that holds the files
    DIR/v000003-1a2b3c4d/   one immutable version: the chunk columns, vectors.faiss, .npy and bm25s files
    DIR/v000002-.../        the version before it, kept until the next write for readers still loading it
    DIR/.lock               writers take it (flock); readers never do

A write builds the new version in ``DIR/.tmp-*``, fsyncs it, renames it to ``v<seq>-<token>`` and only then
replaces ``manifest.json`` (one ``os.replace``). A crash at any moment leaves the old manifest pointing at a
complete old version, or the new one at a complete new version; leftovers are swept by the next writer,
which holds the lock, so nothing another writer is doing is touched. Only a directory that already holds a
swsearch index (recognised by its manifest) or an empty one is ever written to; anything else is refused.

Reads accept only plain file names inside the version folder, open them without following symlinks, refuse
anything that is not a regular file, check sizes before reading and digests after, and retry once the
manifest has moved on when a writer removed the version being read. Formats 1 (the files next to the
manifest) and 2 (chunks.jsonl instead of the chunk columns) still load, and a save over them replaces them.
No pickle anywhere: JSON, JSONL, FAISS's own format, raw UTF-8 text and ``.npy`` read with
``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import mmap
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexLoadError, IndexWriteError

FORMAT = "swsearch-index"
#: 3: the chunks and documents as columns (tables.py) instead of chunks.jsonl and a list in the manifest; the
#: layout of folders is format 2's
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MANIFEST = "manifest.json"
LOCK = ".lock"
CHUNKS = "chunks.jsonl"  # formats 1 and 2
CHUNK_TABLE = "chunks.json"  # format 3: with the column files of tables.py
DOCUMENT_TABLE = "documents.json"  # format 3: with the column files of tables.py; formats 1, 2: in the manifest
VECTORS = "vectors.faiss"
SENTENCES, SENTENCE_SPANS = "sentences.npy", "sentence_spans.npy"
#: the sentence vectors' inverted file (``parts.SentenceClusters``): each sentence's cluster, the centroids and
#: each centroid's language
SENTENCE_CLUSTERS, SENTENCE_CENTROIDS = "sentence_clusters.npy", "sentence_centroids.npy"
SENTENCE_CLUSTER_LANGUAGES = "sentence_clusters.json"
#: the index's own language subspace (``Index.fit_subspace``): orthonormal rows, float32
SUBSPACE = "subspace.npy"
#: the manifest is read whole; a larger one is refused rather than read into memory
MAX_MANIFEST_BYTES = 256 << 20
#: .npy, .bin and .faiss files at least this big are memory-mapped on load, after their sha256 is checked by
#: reading them once: a search that reads a few rows of the sentence vectors or BM25 postings does not hold
#: them all in memory, and FAISS reads its file from the map without a copy of all of it
MMAP_FROM_BYTES = 8 << 20
#: how long a writer waits for another writer of the same directory (``SWSEARCH_LOCK_TIMEOUT`` overrides)
LOCK_TIMEOUT_S = 60.0

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VERSION_DIR = re.compile(r"v(\d{6,})-([0-9a-f]{8})")
_TMP_DIR = re.compile(r"\.tmp-[0-9a-f]{8}")
_TMP_MANIFEST = re.compile(r"\.manifest\.json\.tmp-[0-9a-f]{8}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rebuild_hint(path: Path) -> str:
    return f"rebuild it with: swsearch index [CORPUS] --out {path}"


# ---------------------------------------------------------------------- reading
@contextlib.contextmanager
def _checked_fd(path: Path, max_bytes: int, expected: int | None) -> Iterator[int]:
    """A descriptor of ``path`` opened without following a symlink and without blocking on a FIFO, once it is
    known to be a regular file of ``expected`` bytes (when given) and at most ``max_bytes``.

    Raises FileNotFoundError when it is missing and IndexLoadError when it is a symlink, not a plain file or
    of the wrong size.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise IndexLoadError(f"{path} is a symbolic link; an index holds only the files swsearch wrote") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IndexLoadError(f"{path} is not a regular file; an index holds only the files swsearch wrote")
        if expected is not None and st.st_size != expected:
            raise IndexLoadError(f"{path} is truncated or corrupt (size differs from the manifest); "
                                 f"{_rebuild_hint(path.parent)}")
        if st.st_size > max_bytes:
            raise IndexLoadError(f"{path} is {st.st_size} bytes, more than the {max_bytes} allowed; "
                                 f"{_rebuild_hint(path.parent)}")
        yield fd
    finally:
        os.close(fd)


def _read_regular(path: Path, max_bytes: int, expected: int | None = None) -> bytes:
    """Read a regular file (``_checked_fd``'s checks), never past ``max_bytes``."""
    with _checked_fd(path, max_bytes, expected) as fd, os.fdopen(fd, "rb", closefd=False) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes or (expected is not None and len(data) != expected):
        raise IndexLoadError(f"{path} changed size while it was read; try again")
    return data


def _read_mapped(path: Path, expected: int) -> tuple[mmap.mmap | bytes, str]:
    """``_checked_fd``'s checks, then the file's sha256 (read in blocks, so its pages stay in the page cache,
    not in this process) and a read-only memory map of it. An index version is never written again once
    its manifest names it, so the map shows what was hashed."""
    digest = hashlib.sha256()
    with _checked_fd(path, expected, expected) as fd:
        with os.fdopen(fd, "rb", closefd=False) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if expected else b""
    return data, digest.hexdigest()


def _read_manifest(path: Path) -> dict[str, Any]:
    rebuild = _rebuild_hint(path)
    if not path.is_dir():
        raise IndexLoadError(f"index directory {path} does not exist; build one with: "
                             f"swsearch index [CORPUS] --out {path}")
    try:
        raw = _read_regular(path / MANIFEST, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise IndexLoadError(f"{path} has no {MANIFEST}, so it is not a swsearch index; {rebuild}") from None
    except OSError as exc:
        raise IndexLoadError(f"cannot read {path / MANIFEST} ({exc.strerror}); check its permissions") from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise IndexLoadError(f"{path / MANIFEST} is corrupt (not UTF-8 JSON); {rebuild}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexLoadError(f"{path} is not a swsearch index (no '{FORMAT}' manifest); {rebuild}")
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise IndexLoadError(f"{path} uses index format {version!r}, this swsearch reads formats "
                             f"{', '.join(map(str, READABLE_VERSIONS))}; {rebuild}")
    return manifest


def _file_table(path: Path, manifest: dict[str, Any]) -> tuple[Path, dict[str, tuple[int, str]]]:
    """The folder the files live in and {name: (bytes, sha256)}, every entry checked for shape."""
    bad = f"{path / MANIFEST} is corrupt (its file list is malformed); {_rebuild_hint(path)}"
    folder = path
    if manifest["format_version"] >= 2:
        data = manifest.get("data")
        if not isinstance(data, str) or not _VERSION_DIR.fullmatch(data):
            raise IndexLoadError(bad)
        folder = path / data
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexLoadError(bad)
    table = {}
    for name, meta in files.items():
        if not _FILE_NAME.fullmatch(name) or name == MANIFEST:
            raise IndexLoadError(f"{path / MANIFEST} names a file {name!r} outside the index; {_rebuild_hint(path)}")
        if not isinstance(meta, dict):
            raise IndexLoadError(bad)
        size, digest = meta.get("bytes"), meta.get("sha256")
        if (not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(digest, str)
                or not re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise IndexLoadError(bad)
        table[name] = (size, digest)
    for required in ((CHUNKS,) if manifest["format_version"] < 3 else (CHUNK_TABLE, DOCUMENT_TABLE)) + (VECTORS,):
        if required not in table:
            raise IndexLoadError(f"{path} lists no {required}; {_rebuild_hint(path)}")
    return folder, table


def _read_checked(path: Path, size: int) -> tuple[mmap.mmap | bytes, str]:
    """A file's content (a memory map for a big .npy, .bin or .faiss file) and its sha256."""
    if path.name.endswith((".npy", ".bin", ".faiss")) and size >= MMAP_FROM_BYTES:
        return _read_mapped(path, size)
    data = _read_regular(path, size, expected=size)
    return data, _sha256(data)


def read_index_dir(path: str | Path, *, retries: int = 5) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read and verify an index directory; return (manifest, {file name: bytes}); a .npy, .bin or .faiss file
    of ``MMAP_FROM_BYTES`` or more comes as a read-only memory map (bytes-like; ``npy_load`` reads it in place).

    Nothing outside ``path`` is read. When a writer replaced the index (and removed the version being read)
    meanwhile, the read starts over on the new manifest, so a reader sees one whole version or the other.
    """
    path = Path(path).expanduser()
    for attempt in range(retries + 1):
        manifest = _read_manifest(path)
        folder, table = _file_table(path, manifest)
        files: dict[str, bytes] = {}
        try:
            # hashlib and file reads release the GIL: the digests of the big files are computed side by side
            with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
                read = list(pool.map(_read_checked, [folder / n for n in table], [t[0] for t in table.values()]))
            for (name, (_size, digest)), (data, got) in zip(table.items(), read):
                if got != digest:
                    raise IndexLoadError(f"{folder / name} is truncated or corrupt (sha256 differs from the "
                                         f"manifest); {_rebuild_hint(path)}")
                files[name] = data
            return manifest, files
        except FileNotFoundError as exc:
            moved = _manifest_moved(path, manifest)
            if not moved or attempt == retries:
                raise IndexLoadError(f"{exc.filename} is missing; {_rebuild_hint(path)}") from None
        except OSError as exc:
            raise IndexLoadError(f"cannot read {exc.filename or path} ({exc.strerror}); check its permissions") \
                from None
    raise AssertionError("unreachable")


def data_dir(path: str | Path) -> Path:
    """The folder holding the current version's files (the index folder itself for format 1)."""
    path = Path(path).expanduser()
    return _file_table(path, _read_manifest(path))[0]


def _manifest_moved(path: Path, manifest: dict[str, Any]) -> bool:
    try:
        return _read_manifest(path).get("data") != manifest.get("data")
    except IndexLoadError:
        return False


# ---------------------------------------------------------------------- writing
def is_index_dir(path: Path) -> bool:
    """Whether ``path`` holds a swsearch index (its manifest says so)."""
    try:
        _read_manifest(path)
        return True
    except IndexLoadError:
        return False


def _ours(name: str) -> bool:
    """Names a swsearch writer creates inside an index directory."""
    return (name in (MANIFEST, LOCK) or bool(_VERSION_DIR.fullmatch(name) or _TMP_DIR.fullmatch(name)
                                             or _TMP_MANIFEST.fullmatch(name)))


def check_writable_target(path: str | Path) -> Path:
    """``path`` resolved, if swsearch may write an index there: it does not exist, is an empty folder, or
    already holds a swsearch index. Anything else (a file, a folder of the user's files) is refused, so a
    mistyped ``--out`` never costs anyone their files."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        if path.is_symlink():
            raise IndexWriteError(f"{path} is a dangling symbolic link; give --out a folder path")
        return path
    if not path.is_dir():
        raise IndexWriteError(f"{path} exists and is not a folder; give --out a new or empty folder, or an "
                              "existing swsearch index to replace")
    try:
        names = os.listdir(path)
    except OSError as exc:
        raise IndexWriteError(f"cannot list {path} ({exc.strerror}); check its permissions") from None
    if MANIFEST in names and is_index_dir(path):
        return path
    if all(_ours(n) for n in names):  # empty, or only what swsearch writes (a damaged index of ours included)
        return path
    raise IndexWriteError(f"{path} is a folder that is not a swsearch index (it holds {len(names)} other "
                          "entries); swsearch only replaces its own indexes: give --out a new or empty folder")


_held: dict[tuple[str, int], int] = {}


@contextlib.contextmanager
def writer_lock(path: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold ``path/.lock`` exclusively: one writer per index directory; the next waits up to ``timeout`` s.

    Re-entrant within a thread, so a load → change → save can hold it throughout (as ``swsearch add`` does).
    """
    import fcntl
    import threading

    path = Path(path).expanduser().resolve()
    key = (str(path), threading.get_ident())
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return

    if timeout is None:
        try:
            timeout = float(os.environ.get("SWSEARCH_LOCK_TIMEOUT", LOCK_TIMEOUT_S))
        except ValueError:
            timeout = LOCK_TIMEOUT_S
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexWriteError(f"another process is writing {path} (waited {timeout:.0f} s); try again "
                                          "when it has finished, or set SWSEARCH_LOCK_TIMEOUT") from None
                time.sleep(0.05)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # closing releases the lock


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _remove_version(folder: Path) -> None:
    """Remove one of our version/temporary folders: its plain files, then the folder (kept if anything else is left)."""
    try:
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                os.unlink(entry.path)
        os.rmdir(folder)
    except OSError:
        pass


def current_version(path: str | Path) -> str | None:
    """The version folder the manifest at ``path`` names now (None for format 1 or no index)."""
    try:
        return _read_manifest(Path(path)).get("data")
    except IndexLoadError:
        return None


def write_index_dir(path: str | Path, manifest: dict[str, Any], files: dict[str, bytes], *,
                    lock_timeout: float | None = None, expect_version: str | None = None) -> Path:
    """Write ``files`` as a new version of the index at ``path`` and switch the manifest to it atomically.

    Refuses a ``path`` that is neither new, empty nor a swsearch index. Writers of one directory take turns
    (a lock); readers are never blocked and never see a half-written index. ``expect_version``: refuse
    unless the index there is still that version (compare-and-swap for a load → change → save).
    """
    for name in files:
        if not _FILE_NAME.fullmatch(name) or name == MANIFEST:
            raise ValueError(f"bad index file name {name!r}")
    path = check_writable_target(path)
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"cannot create {path} ({exc.strerror}); choose another --out") from None
    try:
        with writer_lock(path, lock_timeout):
            if expect_version is not None and current_version(path) != expect_version:
                raise IndexWriteError(f"{path} changed since this index was loaded (another process saved it); "
                                      "load it again and repeat the change")
            return _write_locked(path, manifest, files)
    except OSError as exc:
        if created and not is_index_dir(path):  # leave no empty folder behind a failed first save
            for name in os.listdir(path):
                if _ours(name):
                    (_remove_version(path / name) if (path / name).is_dir() else os.unlink(path / name))
            with contextlib.suppress(OSError):
                path.rmdir()
        raise IndexWriteError(f"cannot write the index to {path} ({exc.strerror or exc}); the previous index, if "
                              "any, is unchanged") from None


def _write_locked(path: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Path:
    check_writable_target(path)  # again under the lock: the folder may have changed while we waited
    try:
        old = _read_manifest(path) if (path / MANIFEST).exists() else None
    except IndexLoadError:  # a damaged index of ours: replaced like any other
        old = None
    # sweep what killed writers left: under the lock, no live writer owns a temporary folder
    for name in os.listdir(path):
        if _TMP_DIR.fullmatch(name):
            _remove_version(path / name)
        elif _TMP_MANIFEST.fullmatch(name):
            with contextlib.suppress(OSError):
                os.unlink(path / name)
    seq = 1 + max((int(m.group(1)) for n in os.listdir(path) if (m := _VERSION_DIR.fullmatch(n))), default=0)
    token = secrets.token_hex(4)
    tmp, version = path / f".tmp-{token}", f"v{seq:06d}-{token}"
    tmp_manifest = path / f".manifest.json.tmp-{token}"
    manifest = {**manifest, "format": FORMAT, "format_version": FORMAT_VERSION, "data": version,
                "files": {name: {"bytes": len(data), "sha256": _sha256(data)} for name, data in files.items()}}
    try:
        tmp.mkdir()
        for name, data in files.items():
            _write_synced(tmp / name, data)
        _fsync_dir(tmp)
        os.replace(tmp, path / version)
        _write_synced(tmp_manifest, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        os.replace(tmp_manifest, path / MANIFEST)  # the switch: readers see the old index or the new one
    except BaseException:
        for leftover in (tmp, path / version):
            if leftover.is_dir():
                _remove_version(leftover)
        with contextlib.suppress(OSError):
            os.unlink(tmp_manifest)
        raise
    _fsync_dir(path)
    # what the new version replaced: keep the version just replaced (a reader may be loading it), drop the rest
    keep = {version, old.get("data") if old else None}
    for name in os.listdir(path):
        if _VERSION_DIR.fullmatch(name) and name not in keep:
            _remove_version(path / name)
    if old is not None and old.get("format_version") == 1:  # a format-1 index kept its files beside the manifest
        files = old.get("files")
        for name, entry in (files.items() if isinstance(files, dict) else ()):
            if (isinstance(name, str) and _FILE_NAME.fullmatch(name) and name != MANIFEST
                    and _as_recorded(path / name, entry)):
                with contextlib.suppress(OSError):
                    os.unlink(path / name)
    return path


def _as_recorded(path: Path, entry: Any) -> bool:
    """Whether ``path`` is still the very file a manifest entry records (its size and sha256): a file swsearch
    wrote. A name alone proves nothing: the manifest is text anyone can edit, and the file may be replaced."""
    size = entry.get("bytes") if isinstance(entry, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return False
    try:
        data, digest = _read_mapped(path, size)
    except (OSError, ValueError, IndexLoadError):
        return False
    if isinstance(data, mmap.mmap):
        data.close()
    return digest == entry.get("sha256")


# ---------------------------------------------------------------------- serialisation helpers
def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise an array as .npy (no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_load(data: bytes | mmap.mmap) -> np.ndarray:
    """Read .npy bytes, refusing pickled objects; anything that is not a plain array is a ValueError. A memory
    map is read in place (a read-only array over the file), so only the rows a search touches are paged in."""
    if isinstance(data, mmap.mmap):
        return _npy_view(data)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (EOFError, OSError, ValueError, TypeError, SyntaxError, MemoryError) as exc:
        raise ValueError(f"not a numpy array file ({type(exc).__name__})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise ValueError("not a numeric numpy array")
    return array


def _npy_view(data: mmap.mmap) -> np.ndarray:
    try:
        head = io.BytesIO(data[:min(len(data), 1 << 16)])
        version = np.lib.format.read_magic(head)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"numpy file format {version}")
        shape, fortran, dtype = read_header(head)
    except (EOFError, OSError, ValueError, TypeError, SyntaxError) as exc:
        raise ValueError(f"not a numpy array file ({type(exc).__name__})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError("not a numeric numpy array")
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - head.tell() != count * dtype.itemsize:
        raise ValueError("a numpy array file whose size does not match its header")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=head.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def jsonl_load(data: bytes) -> list[dict[str, Any]]:
    """One JSON object per line; anything else (or nesting deep enough to exhaust the stack) is a ValueError."""
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError("a line that is not a JSON object")
    return rows
