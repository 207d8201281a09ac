"""Lists as spreadsheets: CSV (UTF-8 with a BOM, so Excel on Chinese Windows reads it) and
XLSX (openpyxl), with text that a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

BOM = "\ufeff"
FORMATS = ("csv", "xlsx")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# a sign then a plain number ("-5", "+1.5e3") or a lone dash is data, not a formula
_PLAIN = re.compile(r"[-+]?(\d+([.,]\d+)*([eE][-+]?\d+)?)?%?")
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # XML 1.0 forbids them


def cell(value: Any) -> Any:
    """One cell: numbers stay numbers, None is empty, text that would start a formula
    (``=``, ``@``, tab, CR, or ``+``/``-`` before anything but a number) gets a ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return value
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    first = text[:1]
    if first in ("=", "@", "\t", "\r") or (first in ("+", "-") and not _PLAIN.fullmatch(text)):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The table as CSV text, BOM first."""
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf)
    w.writerow([cell(h) for h in header])
    w.writerows([cell(v) for v in r] for r in rows)
    return buf.getvalue()


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The table as one XLSX sheet (header row bold and frozen)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "sheet")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for h in header:
        c = WriteOnlyCell(ws, value=str(h))
        c.font = bold
        head.append(c)
    ws.append(head)
    for r in rows:
        ws.append([_xlsx_value(v) for v in r])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _xlsx_value(value: Any) -> Any:
    v = cell(value)
    if isinstance(value, datetime):  # a real date cell, shown in UTC (Excel has no zones)
        return value.replace(tzinfo=None)
    return _ILLEGAL_XLSX.sub("", v) if isinstance(v, str) else v


def response(fmt: str, name: str, title: str, header: Sequence[str],
             rows: Iterable[Sequence[Any]]) -> Response:
    """A download of the table as ``name``.csv or ``name``.xlsx."""
    body: str | bytes = (csv_text(header, rows) if fmt == "csv"
                         else xlsx_bytes(title, header, rows))
    return Response(body, content_type=MIME[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
