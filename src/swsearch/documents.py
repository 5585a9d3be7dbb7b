"""Documents and their loaders: the bundled corpus, a folder of .txt/.md files, JSONL, BEIR corpus.jsonl.

Everything a loader returns is a :class:`Document` whose ``text`` is already cleaned (see ``clean.py``),
so that chunk offsets always point into the same text the user sees.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clean import clean_text
from .errors import InputError

#: "other" is any text that is neither: the model may still embed it, but the lexical side reads it as English
LANGUAGES = ("en", "zh", "other")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
#: letters of other scripts: Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai, Lao, Georgian, Ethiopic
_OTHER_LETTERS = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff"
                            r"\u0900-\u0dff\u0e00-\u0eff\u10a0-\u10ff\u1200-\u137f]")
_WORDS = re.compile(r"[a-z\u00e0-\u024f]+")
#: function words: a Latin-script text that uses more of another language's than of English's is not English
_EN_FUNCTION = frozenset("the of and to in is that for it as was with be by on not are this from or have an which "
                         "at but shall its their they been has".split())
_OTHER_FUNCTION = frozenset("le la les des et est une du dans pour qui que sur au aux ce cette sont pas "
                            "der die das und ist nicht ein eine den dem mit sich auf für von zu "
                            "el los las del y por con una para es se lo como más "
                            "il di che per della delle gli nel sono "
                            "os um uma não em com".split())


@dataclass(frozen=True)
class Document:
    """One text to index: id, title, cleaned text, language and whatever metadata came with it."""

    id: str
    text: str
    title: str = ""
    language: str = "en"
    date: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """Digest of the cleaned text: the index manifest records it to notice a changed corpus."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def detect_language(text: str) -> str:
    """``"zh"``, ``"en"`` or ``"other"``, from the scripts of the first 5,000 characters.

    Chinese when Han characters outnumber a third of Latin letters (about one character per word against
    five letters) and kana and hangul are rare (they make it Japanese or Korean: ``other``); ``other`` when
    another script dominates, or when a Latin text uses more French, German, Spanish, Italian or Portuguese
    function words than English ones; else English.
    """
    sample = text[:5000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    kana, hangul = len(_KANA.findall(sample)), len(_HANGUL.findall(sample))
    others = len(_OTHER_LETTERS.findall(sample))
    if kana * 20 > cjk + kana and kana * 3 >= latin and kana > 0:
        return "other"  # Japanese writes kana among its kanji
    if hangul > cjk and hangul * 3 >= latin:
        return "other"
    if cjk > 0 and cjk * 3 >= latin:
        return "zh"
    if others > latin:
        return "other"
    words = _WORDS.findall(sample.lower())
    en = sum(w in _EN_FUNCTION for w in words)
    foreign = sum(w in _OTHER_FUNCTION for w in words)
    return "other" if foreign > en and foreign >= 2 else "en"


def bundled_corpus_dir() -> Path:
    """The corpus shipped with swsearch: inside the installed package, or ``corpus/`` of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "corpus", here.parents[1] / "corpus"):
        if (candidate / "manifest.json").is_file():
            return candidate
    raise InputError("the bundled corpus is missing from this installation; reinstall swsearch")


#: the largest file a loader reads (a corpus file larger than this is almost surely not a text)
MAX_FILE_BYTES = 1 << 30


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), or UTF-16 with a BOM or, without one, by its zero bytes."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    else:
        head = data[:4096]
        pairs = max(len(head) // 2, 1)
        odd, even = head[1::2].count(0), head[0::2].count(0)
        encoding = "utf-16-le" if odd > pairs * 0.3 and even < odd / 4 else \
            "utf-16-be" if even > pairs * 0.3 and odd < even / 4 else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{_shown(path)} is not {'UTF-8' if encoding == 'utf-8-sig' else encoding.upper()} text "
                         f"(byte {exc.start}); convert it to UTF-8 or remove it") from None


def _shown(path: Path) -> str:
    """A path as printable text, even when its name is not valid UTF-8."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _read_text(path: Path) -> str:
    """A regular file's text, size checked before reading; FIFOs and devices are refused without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"cannot read {_shown(path)}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{_shown(path)} is not a regular file; give text files")
        if st.st_size > MAX_FILE_BYTES:
            raise InputError(f"{_shown(path)} is {st.st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a corpus "
                             "file may have; split it")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {_shown(path)}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return _decode(data, path)


def _inside(directory: Path, name: str, where: str) -> Path:
    """``directory / name`` for a relative name that stays inside ``directory`` (symlinks resolved)."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise InputError(f"{where}: file {name!r} must be a relative path inside {_shown(directory)}")
    path = directory / name
    if not path.resolve().is_relative_to(directory.resolve()):
        raise InputError(f"{where}: file {name!r} leads outside {_shown(directory)} (a symlink); copy it in instead")
    return path


def _make_document(doc_id: str, raw: str, *, title: str = "", language: str | None = None,
                   date: str | None = None, source: str | None = None,
                   metadata: dict[str, Any] | None = None, clean: bool = True,
                   fallback_title: str = "") -> Document:
    """Clean ``raw``, take title/date from the page when the caller has none, detect the language.

    The title is the caller's, else the page's title line, else ``fallback_title``.
    """
    meta = dict(metadata or {})
    raw = raw.replace("\x00", "")  # NUL bytes carry nothing, and a model stops reading at the first one
    if clean:
        cleaned = clean_text(raw)
        text = cleaned.text
        title = title or cleaned.title or fallback_title
        date = date or cleaned.date
        if cleaned.removed:
            meta["removed_boilerplate"] = cleaned.removed
    else:
        text = raw.strip()
        title = title or fallback_title
    if language is not None and language not in LANGUAGES:
        raise InputError(f"document {doc_id!r}: unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    return Document(id=doc_id, text=text, title=title, language=language or detect_language(text),
                    date=date, source=source, metadata=meta)


def load_manifest(directory: Path) -> list[Document]:
    """Load a corpus folder described by ``manifest.json`` (the bundled corpus has this shape)."""
    manifest_path = directory / "manifest.json"
    try:
        entries = json.loads(_read_text(manifest_path))["documents"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(f"{manifest_path} is not a valid manifest (expected {{\"documents\": [...]}})") from None
    docs = []
    for entry in entries:
        if not isinstance(entry, dict) or "id" not in entry or "file" not in entry:
            raise InputError(f"{manifest_path}: every document needs an 'id' and a 'file'")
        known = {"id", "file", "title", "language", "date", "source"}
        docs.append(_make_document(
            str(entry["id"]), _read_text(_inside(directory, entry["file"], str(manifest_path))),
            title=entry.get("title", ""),
            language=entry.get("language"), date=entry.get("date"), source=entry.get("source"),
            metadata={k: v for k, v in entry.items() if k not in known}))
    return docs


def _title_from_text(raw: str, fallback: str) -> str:
    for line in raw.splitlines():
        line = line.strip()
        if line:
            heading = re.match(r"^#{1,6}\s+(.*)$", line)
            title = heading.group(1) if heading else line
            return title[:200] if len(title) <= 200 else fallback
    return fallback


def load_folder(directory: Path) -> list[Document]:
    """Load every ``.txt`` and ``.md`` file below ``directory``; the id is the relative path without suffix.

    A symlink is followed only when it resolves inside ``directory``; one that leads out is skipped with a
    one-line warning (a corpus folder never makes swsearch read elsewhere).
    """
    root = directory.resolve()
    files, outside = [], []
    for p in sorted(directory.rglob("*")):
        if p.suffix.lower() not in (".txt", ".md") or not p.is_file():
            continue
        (files if p.resolve().is_relative_to(root) else outside).append(p)
    if outside:
        logging.getLogger("swsearch").warning(
            "warning: skipped %d file%s whose symlink leads outside %s: %s", len(outside),
            "" if len(outside) == 1 else "s", _shown(directory),
            ", ".join(_shown(p.relative_to(directory)) for p in outside[:3]) + (" …" if len(outside) > 3 else ""))
    docs = []
    for path in files:
        raw = _read_text(path)
        if not raw.strip():
            continue
        doc_id = path.relative_to(directory).with_suffix("").as_posix()
        docs.append(_make_document(doc_id, raw, fallback_title=_title_from_text(raw, path.stem), source=str(path)))
    return docs


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _read_text(path)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path}:{lineno} is not valid JSON") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{lineno} must be a JSON object")
        yield lineno, record


def load_jsonl(path: Path) -> list[Document]:
    """Load JSONL with ``id``, ``title``, ``text`` (+ optional metadata), or BEIR's ``_id``/``title``/``text``."""
    docs = []
    for lineno, rec in _iter_jsonl(path):
        beir = "_id" in rec
        doc_id = rec.get("_id" if beir else "id")
        text = rec.get("text")
        if doc_id is None or not isinstance(text, str):
            raise InputError(f"{path}:{lineno} needs an 'id' (or BEIR '_id') and a 'text' string")
        if not text.strip() and not rec.get("title"):
            continue
        known = {"_id", "id", "title", "text", "language", "date", "source"}
        docs.append(_make_document(
            str(doc_id), text, title=str(rec.get("title") or ""), language=rec.get("language"),
            date=rec.get("date"), source=rec.get("source"),
            metadata={k: v for k, v in rec.items() if k not in known}, clean=not beir))
    return docs


def load_corpus(path: str | Path | None = None) -> list[Document]:
    """Load documents from the bundled corpus (``None``), a manifest folder, a folder of text files or JSONL.

    >>> docs = load_corpus()            # the bundled policy corpus
    >>> docs = load_corpus("notes/")    # every .txt/.md below notes/
    """
    if path is None:
        directory = bundled_corpus_dir()
        return load_manifest(directory)
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"corpus path {p} does not exist; give a folder of .txt/.md files or a .jsonl file")
    if p.is_dir():
        docs = load_manifest(p) if (p / "manifest.json").is_file() else load_folder(p)
    elif p.suffix.lower() in (".jsonl", ".json"):
        docs = load_jsonl(p)
    elif p.suffix.lower() in (".txt", ".md"):
        raw = _read_text(p)
        docs = [_make_document(p.stem, raw, fallback_title=_title_from_text(raw, p.stem), source=str(p))] \
            if raw.strip() else []
    else:
        raise InputError(f"{p}: unsupported corpus file; use a folder, .txt, .md or .jsonl")
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise InputError(f"{p} holds no readable text; add .txt/.md files or JSONL records with a 'text'")
    _check_unique(docs, str(p))
    return docs


def _check_unique(docs: list[Document], where: str) -> None:
    """Document ids must be unique: two documents with one id would merge into chunks with the same ids.
    Ids, titles and texts must be valid Unicode (JSON escapes can carry lone surrogates; file names, bytes
    that are not UTF-8), or they could not be written to the index."""
    seen: set[str] = set()
    for d in docs:
        for name, value in (("id", d.id), ("title", d.title), ("text", d.text)):
            if not isinstance(value, str):
                raise InputError(f"{where}: a document's {name} must be text (got {type(value).__name__})")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"{where}: document {ascii(d.id)}: its {name} is not valid Unicode "
                                 f"(character {exc.start}: {ascii(value[exc.start])}); fix the source") from None
        if d.id in seen:
            raise InputError(f"{where}: document id {d.id!r} appears more than once; ids must be unique")
        seen.add(d.id)


def as_documents(source: str | Path | Iterable[Document | str] | None) -> list[Document]:
    """Accept a path, ``None`` (bundled corpus), Documents, or plain strings (ids ``doc0``, ``doc1``...)."""
    if source is None or isinstance(source, (str, Path)):
        return load_corpus(source)
    docs = []
    for i, item in enumerate(source):
        if isinstance(item, Document):
            docs.append(item)
        elif isinstance(item, str):
            docs.append(_make_document(f"doc{i}", item))
        else:
            raise InputError(f"cannot index a {type(item).__name__}; pass Documents, strings or a path")
    if not docs:
        raise InputError("nothing to index: the document list is empty")
    _check_unique(docs, "the documents")
    return docs
