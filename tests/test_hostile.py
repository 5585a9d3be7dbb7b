"""Hostile input: a catalogue of corruptions of a small index (its files' digests recomputed, so only the
load's own checks stand between them and a search), and property-based fuzzing of the manifest, the corpus
loaders and the query inputs. Every case must end in a result or one SwsearchError line, never another
exception."""

from __future__ import annotations

import copy
import hashlib
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsearch import Index, IndexLoadError, InputError, SwsearchError, load_corpus, parts, store

from .conftest import TINY_DOCS, HashEmbedder, made_up_term_pairs, tiny_pairs, write_format_2, write_tiny_corpus

BAD_VALUES = [None, "x", -1, 1.5, [], {}, True, 10**30, [[[[[]]]]]]
MANIFEST_PATHS = ["model", "model.dim", "model.name", "model.fingerprint", "model.backend", "chunking",
                  "chunking.max_tokens", "chunking.context", "index_type", "counts", "counts.documents",
                  "counts.chunks", "counts.sentences", "documents", "documents.0", "documents.0.id",
                  "documents.0.language", "documents.0.sha256", "documents.0.chars", "documents.0.metadata",
                  "documents.0.date", "search", "search.lexical", "search.sentences", "search.weights",
                  "search.default_mode", "format_version", "data", "files", "subspace", "subspace.rank"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A tiny index with every part, the sentence vectors' inverted file included (built above 0 chunks), and a
    language subspace and learned translations of its own."""
    folder = tmp_path_factory.mktemp("hostile")
    above, parts.CLUSTERS_ABOVE = parts.CLUSTERS_ABOVE, 0
    try:
        index = Index.build(write_tiny_corpus(folder), model=HashEmbedder())
        path = index.fit_subspace(tiny_pairs(40), rank=4).fit_translations(made_up_term_pairs()).save(folder / "ix")
    finally:
        parts.CLUSTERS_ABOVE = above
    assert (store.data_dir(path) / store.SENTENCE_CLUSTERS).exists()
    assert (store.data_dir(path) / store.SUBSPACE).exists()
    assert (store.data_dir(path) / "learned_translations.json").exists()
    return path, {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def pristine_format_2(tmp_path_factory):
    """The same index as format 2 wrote it: the documents listed in the manifest, where its fields are fuzzed."""
    folder = tmp_path_factory.mktemp("hostile2")
    path = write_format_2(Index.build(write_tiny_corpus(folder), model=HashEmbedder()), folder)
    return path, {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def _fresh(pristine, tmp_path):
    path, files = pristine
    out = tmp_path / "ix"
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return out


def _write_manifest(path, manifest) -> None:
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _replace_file(path, name: str, data: bytes) -> None:
    """Put ``data`` in place of a data file and recompute its size and digest in the manifest."""
    manifest = json.loads((path / "manifest.json").read_text())
    (store.data_dir(path) / name).write_bytes(data)
    manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    _write_manifest(path, manifest)


def _outcome(path) -> str:
    """'refused' (one-line IndexLoadError), or 'works' (loads and answers in every mode)."""
    try:
        index = Index.load(path, model=HashEmbedder())
    except IndexLoadError as exc:
        assert "\n" not in str(exc)
        return "refused"
    for mode, options in (("hybrid", {}), ("hybrid", {"candidates": 2}), ("dense", {}), ("lexical", {})):
        try:
            index.search("volunteers personal information 信访", k=3, mode=mode, **options)
        except SwsearchError as exc:
            assert "\n" not in str(exc)
    return "works"


def _set(manifest, dotted: str, value) -> None:
    keys = dotted.split(".")
    node = manifest
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


@pytest.mark.parametrize("dotted", MANIFEST_PATHS)
def test_wrong_types_anywhere_in_the_manifest_are_one_line(pristine, pristine_format_2, tmp_path, dotted):
    path = _fresh(pristine_format_2 if dotted.startswith("documents.") else pristine, tmp_path)
    original = json.loads((path / "manifest.json").read_text())
    outcomes = []
    for value in BAD_VALUES:
        manifest = copy.deepcopy(original)
        _set(manifest, dotted, value)
        _write_manifest(path, manifest)
        outcomes.append(_outcome(path))
    assert "refused" in outcomes  # every field has at least one value that is refused


def _npy(array) -> bytes:
    return store.npy_bytes(np.asarray(array))


def _corruptions(files: dict[str, bytes]) -> list[tuple[str, str, bytes]]:
    """(label, file, new bytes) for every data file: each is then given a recomputed digest."""
    out = []
    for name, data in files.items():
        out += [(f"{name} emptied", name, b""), (f"{name} halved", name, data[:len(data) // 2]),
                (f"{name} zeroed", name, bytes(len(data)))]
        if name.endswith(".npy"):
            array = np.load(io.BytesIO(data), allow_pickle=False)
            out += [(f"{name} wrong shape", name, _npy(np.zeros((3, 5), array.dtype))),
                    (f"{name} as text", name, _npy(np.array(["a", "b"]))),
                    (f"{name} one row short", name, _npy(array[:-1]))]
            if array.dtype.kind == "f":
                out.append((f"{name} NaN", name, _npy(np.full(array.shape, np.nan, array.dtype))))
            if array.dtype.kind in "iu":
                out += [(f"{name} out of range", name, _npy(array.astype(np.int64) + 10**6)),
                        (f"{name} negative", name, _npy(-np.abs(array) - 1))]
        if name.endswith(".json") or name.endswith(".jsonl"):
            out += [(f"{name} []", name, b"[]"), (f"{name} null", name, b"null"), (f"{name} {{}}", name, b"{}"),
                    (f"{name} nested", name, b"[" * 100_000 + b"]" * 100_000)]
    meta = json.loads(files["chunks.json"])
    text = files["chunks.text.bin"]
    spans = np.load(io.BytesIO(files["chunks.spans.npy"]))
    number = np.load(io.BytesIO(files["chunks.number.npy"]))
    late = spans.copy()
    late[0, 0] = late[0, 1] + 5
    negative = spans.copy()
    negative[0] = (-3, spans[0, 1] - spans[0, 0] - 3)
    twice = number.copy()
    twice[1] = twice[0]
    two = next(i for i in range(len(text) - 1) if text[i] < 0x80 and text[i + 1] < 0x80)  # two ASCII letters
    out += [("chunks.spans.npy start after end", "chunks.spans.npy", _npy(late)),
            ("chunks.spans.npy negative start", "chunks.spans.npy", _npy(negative)),
            ("chunks.number.npy a chunk twice", "chunks.number.npy", _npy(twice)),
            ("chunks.text.bin text not at its offsets", "chunks.text.bin", text[:two] + "é".encode() + text[two + 2:]),
            ("chunks.text.bin not UTF-8", "chunks.text.bin", b"\xff" + text[1:])]  # loads; shows as U+FFFD
    for label, change in (("unknown document", {"docs": ["nobody", *meta["docs"][1:]]}),
                          ("a document twice", {"docs": [meta["docs"][0]] * len(meta["docs"])}),
                          ("ids numbers", {"ids": list(range(len(number)))}), ("ids short", {"ids": ["a#0"]}),
                          ("ids twice", {"ids": ["a#0"] * len(number)}), ("headings missing", {"headings": []})):
        out.append((f"chunks.json {label}", "chunks.json", json.dumps({**meta, **change}).encode()))
    docs = json.loads(files["documents.json"])
    for label, change in (("ids unsorted", {"ids": docs["ids"][::-1]}), ("an id twice", {"ids": [docs["ids"][0]] * 4}),
                          ("ids short", {"ids": docs["ids"][1:]}), ("an unknown language", {"languages": ["fr"]}),
                          ("metadata not objects", {"metadata": [1] * len(docs["ids"])}),
                          ("titles numbers", {"titles": list(range(len(docs["ids"])))}),
                          ("dates short", {"dates": []}), ("languages missing", {"languages": []})):
        out.append((f"documents.json {label}", "documents.json", json.dumps({**docs, **change}).encode()))
    return out


def test_a_catalogue_of_crafted_files_with_recomputed_digests(pristine, tmp_path):
    path, files = pristine
    data = {str(rel.name): blob for rel, blob in files.items() if rel.parent != rel.parent.parent and
            str(rel.parent) != "."}
    cases = _corruptions(data)
    refused = works = 0
    for i, (_label, name, blob) in enumerate(cases):
        target = _fresh(pristine, tmp_path / str(i))
        _replace_file(target, name, blob)
        outcome = _outcome(target)
        refused += outcome == "refused"
        works += outcome == "works"
    assert refused + works == len(cases) > 100
    assert refused >= 0.95 * len(cases), (refused, len(cases))  # one (zeroed vectors) still searches


@pytest.mark.parametrize("case", ["NaN weight", "infinite weight", "negative weight", "term frequency too high"])
def test_bm25_weights_and_term_frequencies_that_cannot_be_are_refused(pristine, tmp_path, case):
    """Values no build writes (a BM25 weight that is not a finite number >= 0, a term occurring more often than
    its chunk has tokens) would load and rank by garbage, so the load refuses them."""
    path, files = pristine
    data = {rel.name: blob for rel, blob in files.items()}
    target = _fresh(pristine, tmp_path)
    if case == "term frequency too high":
        name, tf = "lexical.tf.npy", np.load(io.BytesIO(data["lexical.tf.npy"])).astype(np.int64)
        tf[len(tf) // 2] = 10_000
        _replace_file(target, name, _npy(tf))
    else:
        weights = np.load(io.BytesIO(data["bm25.data.npy"])).copy()
        weights[len(weights) // 2] = {"NaN weight": np.nan, "infinite weight": np.inf, "negative weight": -0.5}[case]
        _replace_file(target, "bm25.data.npy", _npy(weights))
    with pytest.raises(IndexLoadError, match="BM25"):
        Index.load(target, model=HashEmbedder())
    assert _outcome(_fresh(pristine, tmp_path / "untouched")) == "works"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                     max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dotted=st.sampled_from(MANIFEST_PATHS), value=json_values)
def test_fuzzed_manifest_values(pristine, pristine_format_2, tmp_path_factory, dotted, value):
    path = _fresh(pristine_format_2 if dotted.startswith("documents.") else pristine, tmp_path_factory.mktemp("fuzz"))
    manifest = json.loads((path / "manifest.json").read_text())
    _set(manifest, dotted, value)
    _write_manifest(path, manifest)
    _outcome(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
       suffix=st.sampled_from([".txt", ".md", ".jsonl"]))
def test_fuzzed_corpus_files(tmp_path_factory, data, suffix):
    folder = tmp_path_factory.mktemp("corpus")
    path = folder / f"doc{suffix}"
    path.write_bytes(data)
    try:
        docs = load_corpus(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    for d in docs:
        d.text.encode("utf-8")  # whatever was accepted can be written to an index
        assert "\x00" not in d.text


@settings(max_examples=80, deadline=None)
@given(query=st.text(max_size=60), k=st.integers(-2, 50) | st.booleans() | st.floats(),
       language=st.sampled_from([None, "en", "zh", "other", "fr", ""]),
       where=st.none() | st.dictionaries(st.sampled_from(["date", "language", "id", "x"]),
                                         json_values, max_size=2))
def test_fuzzed_query_inputs(query, k, language, where):
    index = _fuzz_index()
    try:
        hits = index.search(query, k=k, language=language, where=where)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert len(hits) <= k and all(np.isfinite(h.score) for h in hits)


_INDEX: list[Index] = []


def _fuzz_index() -> Index:
    if not _INDEX:
        from swsearch import Document
        docs = [Document(id=name.split(".")[0], text=text, date=f"20{10 + i}-0{i + 1}-01")
                for i, (name, text) in enumerate(TINY_DOCS.items())]
        _INDEX.append(Index.build(docs, model=HashEmbedder()))
    return _INDEX[0]
