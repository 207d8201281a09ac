"""``hostpatrol-collector report``: the self-inspection report of a period as HTML, PDF or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hostpatrol.shared.clock import utcnow

from .context import config_for, engine_for


def cmd_report(args: argparse.Namespace) -> int:
    """Render the period's report: the approved, locked one when it exists, else live figures."""
    from ..app import create_app
    from ..reports import records
    from ..reports.period import parse
    from ..web.report_pages import content
    from ..web.report_render import render_csv, render_html, render_pdf

    config = config_for(args)
    engine = engine_for(args)
    try:
        app = create_app(config, engine)
        timezone = config.settings["dashboard"]["timezone"]
        period = parse(args.period, timezone)
        with app.test_request_context(), engine.connect() as conn:
            row = records.get(conn, period.key)
            doc = content(conn, period, row, utcnow())
            approved = row is not None and row.state == "approved"
            if args.format == "csv":
                body: str | bytes = render_csv(doc, args.lang)
            else:
                html = ((row.html_zh if args.lang == "zh-CN" else row.html_en) if approved
                        else render_html(doc, args.lang))
                body = html if args.format == "html" else render_pdf(html)
    finally:
        engine.dispose()
    state = row.state if row is not None else "not started (live figures)"
    if args.output:
        out = Path(args.output)
        if isinstance(body, bytes):
            out.write_bytes(body)
        else:
            out.write_text(body, encoding="utf-8")
        print(f"report {period.key} ({state}) written to {out}", file=sys.stderr)
    elif isinstance(body, bytes):
        sys.stdout.buffer.write(body)
    else:
        sys.stdout.write(body)
    return 0
