"""Chart geometry for server-rendered SVG: pure numbers in, coordinates out (no markup)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Line:
    """One plotted series: its label, CSS class and SVG ``points`` attribute."""

    label: str
    css: str
    points: str
    dashed: bool = False
    dots: tuple[tuple[float, float], ...] = ()  # a marker per point: one point still shows


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick at pixel ``pos`` carrying the raw ``value`` (formatted by the template)."""

    pos: float
    value: float | datetime


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: x, y, width, height in pixels and its raw value."""

    x: float
    y: float
    w: float
    h: float
    value: float | None
    label: datetime | str


@dataclass(frozen=True, slots=True)
class Plot:
    """Everything a template needs to draw axes, lines and bars."""

    width: int
    height: int
    left: int
    top: int
    inner_w: float
    inner_h: float
    lines: tuple[Line, ...] = ()
    bars: tuple[Bar, ...] = ()
    x_ticks: tuple[Tick, ...] = ()
    y_ticks: tuple[Tick, ...] = ()


Point = tuple[float, float]


def _scale(v: float, lo: float, hi: float, size: float) -> float:
    return 0.0 if hi == lo else (v - lo) / (hi - lo) * size


def time_plot(series: list[tuple[str, str, list[tuple[datetime, float]], bool]], *,
              y_max: float, width: int = 720, height: int = 220, left: int = 44,
              top: int = 12, x_max: datetime | None = None, y_step: float = 25) -> Plot:
    """Lines over time; each series is (label, css class, [(when, value)], dashed)."""
    times = [t for _, _, pts, _ in series for t, _ in pts]
    if x_max is not None:
        times.append(x_max)
    inner_w, inner_h = width - left - 12, height - top - 24
    if not times:
        return Plot(width, height, left, top, inner_w, inner_h)
    t0, t1 = min(times).timestamp(), max(times).timestamp()

    def x_of(t: float) -> float:  # one moment only: the middle, not the left edge
        return left + (_scale(t, t0, t1, inner_w) if t1 > t0 else inner_w / 2)

    lines = []
    for label, css, pts, dashed in series:
        coords = [(round(x_of(t.timestamp()), 1),
                   round(top + inner_h - _scale(min(max(v, 0.0), y_max), 0, y_max, inner_h), 1))
                  for t, v in pts]
        if coords:
            lines.append(Line(label, css, " ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
                              dashed, dots=tuple(coords) if len(coords) <= 60 else ()))
    n = 4 if t1 > t0 else 0
    x_ticks = tuple(Tick(x_of(t0 + (t1 - t0) * i / max(n, 1)),
                         datetime.fromtimestamp(t0 + (t1 - t0) * i / max(n, 1),
                                                tz=min(times).tzinfo))
                    for i in range(n + 1))
    y_ticks = tuple(Tick(top + inner_h - _scale(v, 0, y_max, inner_h), v)
                    for v in _steps(y_max, y_step))
    return Plot(width, height, left, top, inner_w, inner_h, lines=tuple(lines),
                x_ticks=x_ticks, y_ticks=y_ticks)


def _steps(y_max: float, step: float) -> list[float]:
    out, v = [], 0.0
    while v <= y_max + 1e-9:
        out.append(v)
        v += step
    return out


def bar_plot(values: list[tuple[datetime | str, float | None]], *, y_max: float | None = None,
             width: int = 720, height: int = 180, left: int = 44, top: int = 12,
             y_step: float | None = None) -> Plot:
    """Vertical bars, one per value (None draws nothing but keeps the slot)."""
    inner_w, inner_h = width - left - 12, height - top - 24
    peak = y_max if y_max is not None else max([v or 0 for _, v in values] + [1])
    slot = inner_w / max(len(values), 1)
    bars = []
    for i, (label, v) in enumerate(values):
        h = _scale(v or 0, 0, peak, inner_h)
        bars.append(Bar(left + i * slot + slot * 0.15, top + inner_h - h, slot * 0.7, h, v,
                        label))
    step = y_step or nice_step(peak)
    y_ticks = tuple(Tick(top + inner_h - _scale(v, 0, peak, inner_h), v)
                    for v in _steps(peak, step))
    return Plot(width, height, left, top, inner_w, inner_h, bars=tuple(bars), y_ticks=y_ticks)


def nice_step(peak: float) -> float:
    """A round axis step giving at most five steps up to ``peak``."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if peak / step <= 5:
            return float(step)
    return peak / 5
