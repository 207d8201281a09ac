"""``hostpatrol-collector report``: the self-inspection report of a period as HTML, PDF,
Word (docx) or CSV; an approved report exactly as stored at approval."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hostpatrol.shared.clock import utcnow

from .context import CliError, config_for, engine_for


def cmd_report(args: argparse.Namespace) -> int:
    """Render the period's report: the approved, locked one when it exists, else live figures."""
    from ..app import create_app
    from ..reports import records
    from ..reports.period import parse
    from ..web.report_pages import content
    from ..web.report_render import render, render_pdf

    config = config_for(args)
    lang = args.lang or config.settings["language"]
    engine = engine_for(args)
    try:
        app = create_app(config, engine)
        period = parse(args.period, config.settings["report"]["timezone"])
        with app.test_request_context(), engine.connect() as conn:
            row = records.get(conn, period.key)
            if row is not None and row.state == "approved":
                body = (records.frozen_pdf(engine, row, lang, render_pdf)
                        if args.format == "pdf"
                        else records.frozen_file(conn, row, args.format, lang))
                if body is None:
                    msg = (f"the report for {period.key} was approved before "
                           f"{args.format} files were kept; its HTML and PDF are the record")
                    raise CliError(msg)
            else:
                body = render(content(conn, period, row, utcnow()), args.format, lang)
    finally:
        engine.dispose()
    state = row.state if row is not None else "not started (live figures)"
    if args.output:
        out = Path(args.output)
        out.write_bytes(body)
        print(f"report {period.key} ({state}, {lang}) written to {out}", file=sys.stderr)
    elif args.format in ("pdf", "docx") and sys.stdout.isatty():
        msg = f"a {args.format} file is binary: give --output FILE"
        raise CliError(msg)
    else:
        sys.stdout.buffer.write(body)
    return 0


def add_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``report --period P [--format html|pdf|docx|csv] [--lang en|zh-CN] [--output F]``."""
    s = sub.add_parser("report", parents=[common], help="self-inspection report")
    s.add_argument("--period", required=True, help="2026-W48 | 2026-11 | 2026-Q4 | 2026")
    s.add_argument("--format", choices=["html", "pdf", "docx", "csv"], default="html")
    s.add_argument("--lang", choices=["en", "zh-CN"],
                   help="language (default: the collector's `language` setting)")
    s.add_argument("--output", help="write to FILE (default: standard output)")
    s.set_defaults(func=cmd_report)
