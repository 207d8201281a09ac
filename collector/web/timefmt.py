"""The one way dates and times are written, per language, on pages, exports and reports.

Chinese: 2026年12月4日 and 2026年12月4日 16:35; English: 4 Dec 2026 and 4 Dec 2026 16:35.
Times are shown in the dashboard's timezone (``dashboard.timezone``); a date without a time
(a report's day) is shown as it is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from flask import has_request_context
from flask_babel import get_locale, get_timezone

DATE = {"zh": "y年M月d日", "en": "d MMM y"}
TIME = "HH:mm"
BLANK = "—"


def _lang(locale: str | None) -> str:
    code = locale if locale is not None else (str(get_locale()) if has_request_context()
                                               else "en")
    return "zh" if code.replace("-", "_").lower().startswith("zh") else "en"


def _babel_locale(lang: str) -> str:
    return "zh_Hans_CN" if lang == "zh" else "en_GB"


def date_text(value: datetime | date | None, *, locale: str | None = None,
              zone: str | None = None) -> str:
    """A day: an instant in the timezone, or a date as it is; "—" for none."""
    if value is None:
        return BLANK
    lang = _lang(locale)
    if isinstance(value, datetime):
        return babel_datetime(_aware(value), DATE[lang], tzinfo=_zone(zone),
                              locale=_babel_locale(lang))
    return babel_date(value, DATE[lang], locale=_babel_locale(lang))


def datetime_text(value: datetime | None, *, locale: str | None = None,
                  zone: str | None = None) -> str:
    """An instant to the minute in the timezone; "—" for none."""
    if value is None:
        return BLANK
    lang = _lang(locale)
    return babel_datetime(_aware(value), f"{DATE[lang]} {TIME}", tzinfo=_zone(zone),
                          locale=_babel_locale(lang))


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant as stored in notes and JSON (UTC when it names no zone)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _aware(value)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _zone(zone: str | None):  # noqa: ANN202 - a babel/pytz-like tzinfo
    if zone is not None:
        from zoneinfo import ZoneInfo

        return ZoneInfo(zone)
    return get_timezone() if has_request_context() else UTC
