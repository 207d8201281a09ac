"""importer: signed reports carried from air-gapped hosts (``hostpatrol-collector import``).

The file is what ``hostpatrol-agent export`` writes: JSON Lines, one JWS compact string
per line (a bare, unquoted JWS per line is accepted too). Each report goes through
:func:`ingest.ingest` exactly as over the network (``source="import"``), so the same
rejections apply and a second import of the same file stores nothing new (duplicates).
Only the replay horizon differs: carried files are often old, so import uses its own
(``--horizon-days``, default 365).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from .ingest import Outcome, ingest
from .trust import Limits

BATCH = 100
DEFAULT_HORIZON_DAYS = 365


@dataclass(frozen=True, slots=True)
class Line:
    """One token and where it came from."""

    number: int
    token: str


def read_lines(path: Path) -> Iterator[Line]:
    """Tokens of a JSON Lines export (blank lines skipped)."""
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, 1):
            text = raw.strip()
            if not text:
                continue
            if text.startswith('"'):
                try:
                    value = json.loads(text)
                except ValueError:
                    value = text
                text = value if isinstance(value, str) else text
            yield Line(number, text)


def import_file(engine: sa.Engine, path: Path, limits: Limits,
                horizon_days: int = DEFAULT_HORIZON_DAYS) -> list[tuple[Line, Outcome]]:
    """Ingest every line of ``path``; return each line with its outcome."""
    limits = dataclasses.replace(limits, replay_horizon=timedelta(days=horizon_days))
    out: list[tuple[Line, Outcome]] = []
    batch: list[Line] = []

    def flush() -> None:
        outcomes = ingest(engine, [b.token for b in batch], limits=limits, source="import")
        out.extend(zip(batch, outcomes, strict=True))
        batch.clear()

    for line in read_lines(path):
        batch.append(line)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return out
