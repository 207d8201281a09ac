"""The report as a Word file (python-docx) from the same blocks as the HTML/PDF, in the
same layout (report.css): offices add the letterhead (红头) and the stamp in Word."""

from __future__ import annotations

import copy
import io
import re

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from .report_blocks import Block

SERIF = {"zh": ("Times New Roman", "宋体"), "en": ("Times New Roman", "宋体")}
SANS = {"zh": ("Arial", "黑体"), "en": ("Arial", "黑体")}
TONES = {"pass": RGBColor(0x12, 0x80, 0x5C), "basic": RGBColor(0xB5, 0x47, 0x08),
         "fail": RGBColor(0xB4, 0x23, 0x18)}
GREY = RGBColor(0x44, 0x44, 0x44)
TEXT_WIDTH_MM = 163  # A4 210 mm less the margins 25 + 22, as in report.css
BODY_PT = 12
INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _fonts(run_or_style: object, latin: str, east: str) -> None:
    font = run_or_style.font  # type: ignore[attr-defined]
    font.name = latin
    rpr = run_or_style.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), east)


def _page(doc: Document) -> None:
    s = doc.sections[0]
    s.orientation = WD_ORIENT.PORTRAIT
    s.page_width, s.page_height = Mm(210), Mm(297)
    s.top_margin, s.right_margin, s.bottom_margin, s.left_margin = Mm(25), Mm(22), Mm(22), Mm(25)
    p = s.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("— ")
    run = p.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    p.add_run(" —")


def _runs(p: Paragraph, block: Block, lang: str, *, size: float | None = None,
          bold: bool = False, sans: bool = False, colour: RGBColor | None = None) -> None:
    latin, east = (SANS if sans else SERIF)[lang]
    for r in block.runs:
        run = p.add_run(xml_text(r.text))
        _fonts(run, latin, east)
        run.bold = bold or r.bold or None
        if size:
            run.font.size = Pt(size)
        if r.tone in TONES:
            run.font.color.rgb = TONES[r.tone]
        elif colour is not None:
            run.font.color.rgb = colour


def _indent(p: Paragraph, lang: str, size: float = BODY_PT) -> None:
    if lang == "zh":
        p.paragraph_format.first_line_indent = Pt(2 * size)


CELL_STYLES = {  # style id → (sans, bold, alignment): table text, styled once, not per run
    "HPCell": (False, False, None), "HPCellNum": (False, False, WD_ALIGN_PARAGRAPH.RIGHT),
    "HPCellCenter": (False, False, WD_ALIGN_PARAGRAPH.CENTER),
    "HPCellHead": (True, True, WD_ALIGN_PARAGRAPH.CENTER)}


def _cell_styles(doc: Document, lang: str) -> None:
    """Paragraph styles for table cells (a register of thousands of cells styled run by
    run takes python-docx seconds a thousand rows)."""
    for style_id, (sans, bold, align) in CELL_STYLES.items():
        style = doc.styles.add_style(style_id, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = doc.styles["Normal"]
        _fonts(style, *(SANS if sans else SERIF)[lang])
        style.font.size = Pt(9.5)
        style.font.bold = bold or None
        fmt = style.paragraph_format
        fmt.space_after = Pt(0)
        fmt.line_spacing = 1.15
        fmt.first_line_indent = Pt(0)
        if align is not None:
            fmt.alignment = align


def _cell_text(cell: object, text: str, *, header: bool, align: str) -> None:
    p = cell.paragraphs[0]  # type: ignore[attr-defined]
    p._p.style = "HPCellHead" if header else {"num": "HPCellNum",
                                              "center": "HPCellCenter"}.get(align, "HPCell")
    p.add_run(xml_text(text))


def _shade(cell: object, fill: str) -> None:
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shd)  # type: ignore[attr-defined]


def _table(doc: Document, block: Block, lang: str) -> DocxTable:
    """A table block: fixed column widths, a shaded header repeated on every page, rows
    that never split."""
    assert block.table is not None  # noqa: S101 - a table block
    cols = block.table.columns
    t = doc.add_table(rows=1, cols=len(cols))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    total = sum(c.width for c in cols)
    _fixed(t, [Mm(TEXT_WIDTH_MM * c.width / total) for c in cols])
    header = t.rows[0]
    trpr = header._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # the header row again on every page
    repeat.set(qn("w:val"), "true")
    trpr.append(repeat)
    for i, cell in enumerate(header.cells):
        _cell_text(cell, cols[i].label, header=True, align=cols[i].align)
        _shade(cell, "F2F2F2")
    rows = block.table.rows
    if rows:  # the first data row built by python-docx, the others copied from it (its
        # object layer takes milliseconds a row: minutes for a large register)
        first = t.add_row()
        first._tr.get_or_add_trPr().append(_no_split())
        for i, cell in enumerate(first.cells):
            _cell_text(cell, "-", header=False, align=cols[i].align)
        template = copy.deepcopy(first._tr)
        _fill(first._tr, rows[0])
        for values in rows[1:]:
            tr = copy.deepcopy(template)
            _fill(tr, values)
            t._tbl.append(tr)
    return t


def _fill(tr: object, values: tuple[str, ...]) -> None:
    """Put ``values`` into the text elements of a copied row, one a cell."""
    for el, value in zip(tr.iter(qn("w:t")), values, strict=True):  # type: ignore[attr-defined]
        text = xml_text(value)
        el.text = text
        if text != text.strip():
            el.set(qn("xml:space"), "preserve")


def xml_text(value: str) -> str:
    """Text Word can hold: characters XML 1.0 refuses (controls, lone surrogates) dropped."""
    return INVALID_XML.sub("", value)


def _fixed(t: DocxTable, widths: list[Mm]) -> None:
    """Column widths Word and LibreOffice both keep: a fixed layout, the grid and the cells
    of the rows so far (rows added later take the grid's)."""
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    t._tbl.tblPr.append(layout)
    for i, col in enumerate(t.columns):
        col.width = widths[i]
    for row in t.rows:
        for i, cell in enumerate(row.cells):
            cell.width = widths[i]


def _no_split() -> object:
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "true")
    return el


def _lines_table(doc: Document, lines: tuple[str, ...], lang: str) -> None:
    """The sign-off: its lines side by side, no borders."""
    t = doc.add_table(rows=1, cols=len(lines))
    for i, line in enumerate(lines):
        _cell_text(t.rows[0].cells[i], line, header=False, align="left")
    _fixed(t, [Mm(TEXT_WIDTH_MM / len(lines))] * len(lines))


def _block(doc: Document, b: Block, lang: str) -> None:  # noqa: C901 - one branch a kind
    kind = b.kind
    if kind == "table":
        _table(doc, b, lang)
        doc.add_paragraph().paragraph_format.space_after = Pt(2)
        return
    if kind == "pagebreak":
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        return
    if kind == "signoff":
        _lines_table(doc, b.lines, lang)
        return
    if kind in ("signature", "footer"):
        for line in b.lines:
            p = doc.add_paragraph()
            run = p.add_run(xml_text(line))
            _fonts(run, *SERIF[lang])
            if kind == "signature":  # kept on one page with 特此报告 and the 附件 line
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                p.paragraph_format.right_indent = Pt(4 * BODY_PT)
                p.paragraph_format.space_after = Pt(0)
                p.paragraph_format.keep_with_next = True
            else:
                run.font.size = Pt(8)
                run.font.color.rgb = GREY
        return
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    if kind == "title":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt.space_after = Pt(14)
        _runs(p, b, lang, size=18, bold=True)
    elif kind == "state":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _runs(p, b, lang, bold=True, colour=TONES["fail"])
    elif kind == "heading":
        fmt.space_before = Pt(8)
        _indent(p, lang, 13)
        _runs(p, b, lang, size=13, bold=True, sans=True)
    elif kind == "annex_label":
        _runs(p, b, lang, size=13, sans=True)
    elif kind == "annex_title":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt.space_after = Pt(10)
        _runs(p, b, lang, size=15, bold=True)
    elif kind == "caption":  # a table's title, on the table's page
        fmt.keep_with_next = True
        _runs(p, b, lang, bold=True)
    elif kind == "note":
        _indent(p, lang, 9.5)
        _runs(p, b, lang, size=9.5, colour=GREY)
    else:  # addressee, opening, para, closing, annexes
        if kind != "addressee":
            _indent(p, lang)
        if kind == "closing":
            fmt.space_before = Pt(10)
            fmt.keep_with_next = True
        _runs(p, b, lang)


def render_docx(blocks: list[Block], lang: str) -> bytes:
    """The blocks as a .docx file (A4, page numbers, tables with repeating headers)."""
    code = "zh" if lang.startswith("zh") else "en"
    doc = Document()
    normal = doc.styles["Normal"]
    _fonts(normal, *SERIF[code])
    normal.font.size = Pt(BODY_PT)
    normal.paragraph_format.line_spacing = 1.4
    normal.paragraph_format.space_after = Pt(3)
    _page(doc)
    _cell_styles(doc, code)
    props = doc.core_properties
    props.title = xml_text(blocks[0].text) if blocks else ""
    props.author = props.last_modified_by = "hostpatrol"
    props.language = "zh-CN" if code == "zh" else "en"
    for b in blocks:
        _block(doc, b, code)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
