"""The report as a list of blocks (title, paragraphs, tables …) in one language: what the
HTML/PDF and the Word file both render, so the two say the same in the same order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import get_locale

from . import timefmt

LANGS = {"en": "en", "zh-CN": "zh_CN", "zh_CN": "zh_CN", "zh": "zh_CN"}

# kinds of block: title, state, addressee, opening, heading, para, caption, note, table, closing,
# signature (unit and date, right), annexes (the 附件 list), signoff, footer, pagebreak,
# annex_label (附件1), annex_title


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of text; ``tone`` colours a verdict (pass | basic | fail)."""

    text: str
    bold: bool = False
    tone: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its header, alignment (left | num | center) and relative width."""

    label: str
    align: str = "left"
    width: float = 1.0


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a header row."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Block:
    """One block of the document."""

    kind: str
    runs: tuple[Run, ...] = ()
    id: str = ""
    table: Table | None = None
    lines: tuple[str, ...] = field(default=())  # signature and signoff: one line each

    @property
    def text(self) -> str:
        """The block's text (runs, or lines joined, or the table's cells)."""
        if self.table is not None:
            cells = [c.label for c in self.table.columns]
            cells += [cell for row in self.table.rows for cell in row]
            return "\n".join(cells)
        if self.lines:
            return "\n".join(self.lines)
        return "".join(r.text for r in self.runs)


def para(kind: str, *parts: str | Run, id: str = "") -> Block:  # noqa: A002 - the HTML id
    """A paragraph-like block from text and runs."""
    runs = tuple(p if isinstance(p, Run) else Run(p) for p in parts if p)
    return Block(kind, runs, id=id)


def locale_of(lang: str) -> str:
    """``zh-CN`` → ``zh_CN``; anything unknown → ``en``."""
    return LANGS.get(lang, "en")


def zh(locale_code: str | None = None) -> bool:
    """Whether the current (or given) locale is Chinese."""
    return (locale_code or str(get_locale())).startswith("zh")


def local_day(iso: str, zone: str) -> date:
    """The calendar day of a UTC ISO time in ``zone``."""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).date()


def long_date(day: date) -> str:
    """``2026年12月4日`` / ``4 Dec 2026``: the one date format of the language (timefmt)."""
    return timefmt.date_text(day, locale=str(get_locale()))


def short_date(iso: str | None, zone: str) -> str:
    """The day of a UTC ISO time in ``zone``, in the same format (blank for None)."""
    return long_date(local_day(iso, zone)) if iso else ""


def typed_day(text: str | None) -> str:
    """A day a person entered (``2027-01-15``) in the same format; other text as typed."""
    try:
        return long_date(date.fromisoformat(text)) if text else ""
    except ValueError:
        return text or ""


def pct(value: float | None) -> str:
    """``95.0%`` (``—`` for no value)."""
    return "—" if value is None else f"{value:.1f}%"


def joined(items: list[str]) -> str:
    """Items joined as a list in the current language (、 or , )."""
    return ("、" if zh() else ", ").join(items)
