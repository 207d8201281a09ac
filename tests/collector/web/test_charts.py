"""Chart geometry: a single point is drawn (a marker in the middle), not a blank chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hostpatrol.collector.web.charts import time_plot

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def test_one_point_is_a_visible_marker_in_the_middle() -> None:
    plot = time_plot([("compliance", "line-ok", [(T0, 80.0)], False)], y_max=100,
                     width=720, height=200)
    [line] = plot.lines
    [(x, y)] = line.dots
    assert abs(x - (plot.left + plot.inner_w / 2)) < 0.1
    assert plot.top < y < plot.top + plot.inner_h
    [tick] = plot.x_ticks
    assert abs(tick.pos - x) < 0.1


def test_several_points_span_the_width_and_each_has_a_marker() -> None:
    pts = [(T0 + timedelta(weeks=i), 50.0 + i) for i in range(4)]
    plot = time_plot([("c", "line-ok", pts, False)], y_max=100)
    [line] = plot.lines
    xs = [x for x, _ in line.dots]
    assert len(xs) == 4
    assert xs[0] == plot.left
    assert abs(xs[-1] - (plot.left + plot.inner_w)) < 0.1


def test_overview_draws_a_single_week(tmp_path) -> None:
    from webapp import BASE, make_webapp

    w = make_webapp(tmp_path)  # two hosts that reported this week only: one point
    html = w.client("admin").get("/", base_url=BASE).text
    chart = html.split("Compliance per week</h2>")[1].split("</svg>")[0]
    assert chart.count("<circle") == 1
    assert "No data yet" not in chart
    w.engine.dispose()
