"""Days until a filesystem is full: least-squares line through its usage history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Forecast:
    """Growth in bytes per day and, when it grows, when it reaches its size."""

    bytes_per_day: float
    days_to_full: float | None
    full_at: datetime | None
    points: int


def least_squares(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
    """Slope and intercept of the best straight line, or None when x does not vary."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my - slope * mx


def days_to_full(history: list[tuple[datetime, int, int]], *, now: datetime,
                 window: timedelta = timedelta(days=90), min_points: int = 3) -> Forecast | None:
    """From (when, used_bytes, total_bytes) samples; None with too little history."""
    recent = [h for h in history if h[0] >= now - window]
    if len(recent) < min_points:
        return None
    t0 = recent[0][0]
    fit = least_squares([(t - t0).total_seconds() / DAY for t, _, _ in recent],
                        [float(used) for _, used, _ in recent])
    if fit is None:
        return None
    slope, intercept = fit
    if slope <= 0:
        return Forecast(slope, None, None, len(recent))
    total = recent[-1][2]
    now_days = (now - t0).total_seconds() / DAY
    remaining = (total - (intercept + slope * now_days)) / slope
    remaining = max(remaining, 0.0)
    return Forecast(slope, remaining, now + timedelta(days=remaining), len(recent))
