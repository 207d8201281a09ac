"""cron expressions: the classic five fields (minute hour day-of-month month day-of-week).

Supported per field: ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists
``a,b,c``; month and weekday names (``jan``, ``fri``); weekday 7 = Sunday; plus the
macros ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``. As in Vixie cron, when both
day-of-month and day-of-week are restricted, a day matching either one fires. Times
are evaluated in UTC (fleets span time zones; the splay spreads hosts anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
          ("month", 1, 12, MONTHS), ("day of week", 0, 7, DAYS))
MAX_YEARS = 9  # no valid expression needs longer to fire again (Feb 29: 8 across 2100)


class CronError(ValueError):
    """A cron expression that cannot be parsed (or can never fire)."""


def _value(text: str, lo: int, hi: int, names: dict[str, int], expr: str, name: str) -> int:
    raw = names.get(text.lower()) if not text.isdigit() else int(text)
    if raw is None or not lo <= raw <= hi:
        msg = f"cron {expr!r}: {name} value {text!r} is not in {lo}-{hi}"
        raise CronError(msg)
    return raw


def _field(text: str, index: int, expr: str) -> frozenset[int]:
    name, lo, hi, names = FIELDS[index]
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                msg = f"cron {expr!r}: {name} step {step_text!r} must be a positive number"
                raise CronError(msg)
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start = _value(a, lo, hi, names, expr, name)
            end = _value(b, lo, hi, names, expr, name)
            if start > end:
                msg = f"cron {expr!r}: {name} range {base!r} runs backwards"
                raise CronError(msg)
        else:
            start = _value(base, lo, hi, names, expr, name)
            end = hi if step_text else start
        out.update(range(start, end + 1, step))
    if index == 4 and 7 in out:
        out = (out - {7}) | {0}
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed expression; ``next_after`` finds the next firing time."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def _day_matches(self, ts: datetime) -> bool:
        dom = ts.day in self.days
        dow = (ts.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, ts: datetime) -> datetime:
        """The first firing time strictly after ``ts`` (aware; returned in UTC)."""
        try:
            return self._next_after(ts)
        except OverflowError:  # a last run near year 9999: a host clock gone wrong
            pass
        msg = f"cron {self.text!r} never fires before the end of the calendar after {ts}"
        raise CronError(msg)

    def _next_after(self, ts: datetime) -> datetime:
        t = ts.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * MAX_YEARS) if t.year < 9990 else datetime.max
        while t < limit.replace(tzinfo=UTC):
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            return t
        msg = f"cron {self.text!r} never fires"
        raise CronError(msg)

    def previous_interval(self, ts: datetime) -> timedelta:
        """The gap between the next two firings after ``ts`` (for display and splay)."""
        first = self.next_after(ts)
        return self.next_after(first) - first


def parse(text: str) -> Cron:
    """Parse a five-field expression or macro; raise CronError with the reason."""
    expr = MACROS.get(text.strip().lower(), text.strip())
    parts = expr.split()
    if len(parts) != 5:
        msg = (f"cron {text!r}: expected 5 fields (minute hour day month weekday) "
               f"or @hourly/@daily/@weekly/@monthly, got {len(parts)}")
        raise CronError(msg)
    fields = [_field(p, i, text) for i, p in enumerate(parts)]
    cron = Cron(text, *fields, any_day=parts[2] == "*", any_weekday=parts[4] == "*")
    cron.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # refuse "0 0 31 2 *" now
    return cron
