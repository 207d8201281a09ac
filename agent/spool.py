"""The durable outbox: each signed report is a file, written before any delivery.

Write: temp file, fsync, rename, fsync dir. A report leaves the spool only when the
collector acknowledged it (accepted or duplicate); one it refused, or one too large
ever to be taken, moves to ``dead-letter/`` with the reason beside it. Files sort by
sequence number, so delivery is in order. Bounded by size (``max_bytes``) and age
(``max_age_days``): when over, the oldest reports are dropped (never the newest). Every
report that will never reach the collector (dropped or dead-lettered) is remembered in
``gap.json``; every report built carries that record as its ``gap`` field
``{"dropped": N, "first_seq": S, "last_seq": S, "report_ids": [...], "reasons":
{"spool_full": n, "too_large": n, "rejected": n}}`` (ids bounded), cumulative, until
the collector acknowledged a report carrying its latest content (a carrier may itself be
dropped). Several reports may carry the same record. An unreadable record is replaced by
what can be read of it; the gap never stops a run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .state import O_BINARY, fsync_dir, write_atomic

log = logging.getLogger("hostpatrol.agent.spool")
MAX_GAP_IDS = 100
GAP_REASONS = ("spool_full", "too_large", "rejected")
NAME = re.compile(r"^(\d{20})-([0-9a-f-]{36})\.jws$")


@dataclass(frozen=True, slots=True)
class Spooled:
    """One report waiting in the spool."""

    path: Path
    seq: int
    report_id: str

    def read(self) -> str:
        """The JWS as written."""
        return self.path.read_text(encoding="ascii").strip()


class Spool:
    """A directory of signed reports awaiting acknowledgement."""

    def __init__(self, root: Path, max_bytes: int = 64 * 1024 * 1024,
                 max_age_days: float = 30) -> None:
        self.root = Path(root)
        self.dead = self.root.parent / "dead-letter"
        self.gap_path = self.root.parent / "gap.json"
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_days * 86400

    def put(self, seq: int, report_id: str, jws: str) -> Spooled:
        """Durably store a signed report; return its entry."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{seq:020d}-{report_id}.jws"
        final = self.root / name
        tmp = self.root / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_BINARY, 0o600)
        try:
            os.write(fd, jws.encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        fsync_dir(self.root)
        return Spooled(final, seq, report_id)

    def enforce_bounds(self, now: float | None = None) -> list[Spooled]:
        """Drop the oldest reports (never the newest) over the size or age cap.

        What was dropped is added to ``gap.json`` for the next report to carry.
        """
        now = time.time() if now is None else now
        items = self.pending()
        sizes = [i.path.stat() for i in items]
        total = sum(st.st_size for st in sizes)
        dropped: list[Spooled] = []
        for item, st in zip(items[:-1], sizes[:-1], strict=False):
            if total <= self.max_bytes and now - st.st_mtime <= self.max_age_seconds:
                break
            item.path.unlink(missing_ok=True)
            total -= st.st_size
            dropped.append(item)
        if dropped:
            fsync_dir(self.root)
            self._note_gap(dropped, "spool_full")
            log.warning("spool over its bounds: dropped %d oldest report(s) seq=%d..%d "
                        "cap_bytes=%d max_age_days=%g; the next report carries a gap marker",
                        len(dropped), dropped[0].seq, dropped[-1].seq, self.max_bytes,
                        self.max_age_seconds / 86400)
        return dropped

    def _gap_record(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.gap_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.error("gap record unreadable path=%s", self.gap_path)
            doc = {"gap": {"dropped": 1}}  # something was lost; say so rather than nothing
        if not isinstance(doc, dict) or not isinstance(doc.get("gap"), dict):
            return {}
        carried = doc.get("carried_in")
        return {"gap": _clean_gap(doc["gap"]),
                "carried_in": [s for s in carried if _count(s) is not None]
                if isinstance(carried, list) else []}

    def _note_gap(self, lost: list[Spooled], reason: str) -> None:
        gap = self.gap() or {"dropped": 0, "first_seq": lost[0].seq,
                             "last_seq": lost[0].seq, "report_ids": [], "reasons": {}}
        gap["dropped"] += len(lost)
        gap["first_seq"] = min(gap["first_seq"], lost[0].seq)
        gap["last_seq"] = max(gap["last_seq"], lost[-1].seq)
        ids = gap["report_ids"] + [d.report_id for d in lost]
        gap["report_ids"] = ids[:MAX_GAP_IDS]
        gap["reasons"][reason] = gap["reasons"].get(reason, 0) + len(lost)
        # the content grew: reports that carried the older version no longer settle it
        write_atomic(self.gap_path, json.dumps({"gap": gap, "carried_in": []}).encode())

    def gap(self) -> dict[str, Any] | None:
        """Every report dropped since a report saying so was acknowledged, or None."""
        return self._gap_record().get("gap")

    def gap_carried(self, seq: int) -> None:
        """Report ``seq`` carries the current gap record; acknowledging it settles it."""
        record = self._gap_record()
        if record:
            record["carried_in"] = sorted({*record.get("carried_in", []), seq})
            write_atomic(self.gap_path, json.dumps(record).encode())

    def _settle_gap(self, item: Spooled) -> None:
        record = self._gap_record()
        if record and item.seq in record.get("carried_in", []):
            self.gap_path.unlink(missing_ok=True)

    def pending(self) -> list[Spooled]:
        """Reports not yet acknowledged, oldest first (partial temp files ignored)."""
        if not self.root.exists():
            return []
        out = []
        for entry in sorted(os.listdir(self.root)):
            m = NAME.match(entry)
            if m:
                out.append(Spooled(self.root / entry, int(m.group(1)), m.group(2)))
        return out

    def size(self) -> int:
        """Bytes held by pending reports."""
        return sum(s.path.stat().st_size for s in self.pending())

    def acknowledge(self, item: Spooled) -> None:
        """The collector has it: remove it."""
        item.path.unlink(missing_ok=True)
        fsync_dir(self.root)
        self._settle_gap(item)

    def reject(self, item: Spooled, status: int, reason: str, *,
               why: str = "rejected") -> Path:
        """It will never be taken (the collector refused it, or it is too large): move it
        aside with the reason and note it in the gap record (``why``: a GAP_REASONS key)."""
        self.dead.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.dead / item.path.name
        target.with_suffix(".reason.json").write_text(
            json.dumps({"status": status, "error": reason, "gap_reason": why}),
            encoding="utf-8")
        os.replace(item.path, target)
        fsync_dir(self.dead)
        fsync_dir(self.root)
        self._note_gap([item], why)
        return target

    def dead_letters(self) -> list[Path]:
        """Reports moved to ``dead-letter/``, oldest first."""
        return sorted(self.dead.glob("*.jws")) if self.dead.is_dir() else []

    def export(self, target: Path, *, remove: bool = False) -> int:
        """Write pending reports as JSON Lines (one JWS string per line); count them.

        The file is written durably before anything leaves the spool; without
        ``remove`` nothing does (exporting again gives a superset; imports are
        idempotent).
        """
        items = self.pending()
        lines = [json.dumps(item.read()) + "\n" for item in items]
        write_atomic(Path(target), "".join(lines).encode("ascii"), mode=0o644)
        if remove:
            for item in items:
                self.acknowledge(item)
        return len(items)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and \
        0 <= value < 2**63 else None


def _clean_gap(gap: dict[str, Any]) -> dict[str, Any]:
    """A gap record as read back, with every field of the right type (a damaged file
    keeps what can be read and still counts as a gap)."""
    first, last = _count(gap.get("first_seq")), _count(gap.get("last_seq"))
    ids = gap.get("report_ids")
    reasons = gap.get("reasons")
    return {"dropped": max(1, _count(gap.get("dropped")) or 0),
            "first_seq": first if first is not None else (last or 0),
            "last_seq": last if last is not None else (first or 0),
            "report_ids": [i for i in ids if isinstance(i, str)][:MAX_GAP_IDS]
            if isinstance(ids, list) else [],
            "reasons": {k: _count(reasons.get(k)) for k in GAP_REASONS
                        if _count(reasons.get(k))} if isinstance(reasons, dict) else {}}
