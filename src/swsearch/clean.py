"""Page-boilerplate removal: a captured web page → clean body text + title/date metadata.

News sites wrap an article in the same furniture: a title line, a date line, and after the body a footer
of editor credits, ``Source:``, a copyright or disclaimer statement, navigation words, a mailbox, a phone
number and an ICP licence number. These rules recognise that furniture by its shape, not by one page's
exact strings, and they only cut a trailing block that contains at least one unmistakable footer line,
so a plain text whose last line happens to be short is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_LINE = re.compile(
    r"^\s*(?:(?:date|published|时间|日期|发布时间)\s*[:：]?\s*)?"
    r"(?P<date>\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日"
    rf"|(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}})"
    r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*(?:source\s*[:：].*|来源\s*[:：].*)?$",
    re.IGNORECASE,
)

# Lines that only a page footer contains. Each is a shape seen across news and government sites.
_FOOTER_PATTERNS = [
    r"^(?:edit(?:or)?|editors?|responsible\s+editor|editor[- ]in[- ]charge|chief\s+editor|reporter|author"
    r"|translat(?:or|ed\s+by)|责任编辑|编辑|责编|审核|校对|记者|作者)\s*[:：]",
    r"^(?:source|来源|稿源|出处)\s*[:：]",
    r"copyright|©|\(c\)\s*\d{4}|all\s+rights\s+reserved|版权所有|未经授权",
    r"\bICP\s*[备证]?\s*[\d-]{6,}|[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]ICP",
    r"公网安备|公安备案",
    r"^(?:special\s+statement|statement|disclaimer|免责声明|特别声明|版权声明)\s*[:：]?",
    r"(?:mailbox|e-?mail|邮箱|投稿)\s*[:：]",
    r"[\w.+-]+@[\w-]+\.[\w.-]+",
    r"(?:\btel\b|\bphone\b|\bfax\b|电话|传真)\s*[:：]?\s*\+?[\d()\s-]{6,}",
]
_FOOTER = re.compile("|".join(f"(?:{p})" for p in _FOOTER_PATTERNS), re.IGNORECASE)
# Navigation and widget words: a few words, no sentence punctuation ("Return to list", "Links", "返回列表").
_NAV_MAX_WORDS = 5
_SENTENCE_END = re.compile(r"[.!?。！？;；:：\"”’)）]\s*$")
_PUNCT_ONLY = re.compile(r"^[\s>»<«|/\\*#=_~·•-]+$")


@dataclass(frozen=True)
class Cleaned:
    """The clean body text plus what was taken off it."""

    text: str
    title: str | None = None
    date: str | None = None
    removed: list[str] = field(default_factory=list)


def _is_nav(line: str) -> bool:
    s = line.strip()
    if not s or _PUNCT_ONLY.match(s):
        return True
    if _SENTENCE_END.search(s):
        return False
    words = s.split()
    if len(words) == 1 and re.search(r"[\u4e00-\u9fff]", s):
        return len(s) <= 8  # 返回列表, 相关阅读, 分享到
    return len(words) <= _NAV_MAX_WORDS and len(s) <= 40


def _is_footer(line: str) -> bool:
    return bool(_FOOTER.search(line))


def _split_header(lines: list[str]) -> tuple[int, str | None, str | None]:
    """Find a leading ``title / date`` pair; return (index of the first body line, title, date)."""
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if len(nonblank) < 3:
        return 0, None, None
    first, second = nonblank[0], nonblank[1]
    title = lines[first].strip()
    match = _DATE_LINE.match(lines[second])
    if match and len(title) <= 300 and not _DATE_LINE.match(title):
        return second + 1, title, match.group("date")
    match = _DATE_LINE.match(lines[first])
    if match:  # a page that starts with its date line and has no title line
        return first + 1, None, match.group("date")
    return 0, None, None


def _footer_start(lines: list[str]) -> int:
    """Index where the trailing footer block starts (``len(lines)`` when there is none)."""
    start = len(lines)
    saw_footer = False
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if _is_footer(line):
            saw_footer = True
        elif not _is_nav(line):
            break
        start = i
    return start if saw_footer else len(lines)


def clean_text(raw: str) -> Cleaned:
    """Strip a page's header (title, date) and footer; normalise newlines; keep the body byte for byte."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    body_start, title, date = _split_header(lines)
    body_end = _footer_start(lines)
    if body_end <= body_start:  # the whole text looked like furniture: keep it rather than lose it
        body_start, body_end, title, date = 0, len(lines), None, None
    removed = [line.strip() for line in lines[body_end:] if line.strip()]
    body = "\n".join(lines[body_start:body_end]).strip()
    return Cleaned(text=body, title=title, date=date, removed=removed)
