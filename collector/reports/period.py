"""Report periods: ISO week ``2026-W48``, month ``2026-11``, quarter ``2026-Q4``, year ``2026``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..errors import CollectorError

PATTERNS = (
    ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("year", re.compile(r"^(\d{4})$")),
)
ZH_NUMERALS = "〇一二三四五六七八九十"
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


class PeriodError(CollectorError):
    """A period text that is not one of the four forms."""


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: its key and [start, end) as aware datetimes in the report's zone."""

    key: str
    kind: str  # week | month | quarter | year
    year: int
    number: int  # week, month or quarter number (1 for a year)
    start: datetime
    end: datetime

    def label(self, lang: str) -> str:
        """``2026年第48周`` / ``week 48 of 2026`` and so on."""
        zh = lang.startswith("zh")
        if self.kind == "week":
            return f"{self.year}年第{self.number}周" if zh else f"week {self.number} of {self.year}"
        if self.kind == "month":
            return (f"{self.year}年{self.number}月" if zh
                    else f"{MONTHS_EN[self.number - 1]} {self.year}")
        if self.kind == "quarter":
            return (f"{self.year}年第{ZH_NUMERALS[self.number]}季度" if zh
                    else f"Q{self.number} {self.year}")
        return f"{self.year}年度" if zh else str(self.year)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def parse(text: str, timezone: str = "UTC") -> Period:
    """Parse a period; boundaries are local midnights in ``timezone``."""
    tz = ZoneInfo(timezone)
    text = (text or "").strip()
    for kind, pattern in PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        year = int(m.group(1))
        number = int(m.group(2)) if kind != "year" else 1
        try:
            if kind == "week":
                first = date.fromisocalendar(year, number, 1)
                last = first + timedelta(days=7)
            elif kind == "month":
                first = date(year, number, 1)
                last = date(year + number // 12, number % 12 + 1, 1)
            elif kind == "quarter":
                first = date(year, 3 * number - 2, 1)
                last = date(year + number // 4, (3 * number) % 12 + 1, 1)
            else:
                first, last = date(year, 1, 1), date(year + 1, 1, 1)
        except ValueError as e:
            msg = f"period {text!r} does not exist ({e})"
            raise PeriodError(msg) from e
        return Period(text, kind, year, number, _midnight(first, tz), _midnight(last, tz))
    msg = (f"period {text!r}: use an ISO week (2026-W48), a month (2026-11), a quarter "
           "(2026-Q4) or a year (2026)")
    raise PeriodError(msg)


def current_week(now: datetime, timezone: str = "UTC") -> str:
    """The ISO week ``now`` falls in, as a period key."""
    year, week, _ = now.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def zh_numeral(n: int) -> str:
    """1 → 一 … 10 → 十 (section numbers of the Chinese layout)."""
    if 0 < n <= 10:
        return ZH_NUMERALS[n]
    return str(n)
