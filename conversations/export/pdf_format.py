"""PDF renderer (fpdf2), with the PDF standard fonts in WinAnsi (cp1252) encoding.

Why standard fonts: they need no font file (fpdf2 installs with pip alone and nothing is
shipped or looked up on the machine), every PDF reader has them, and the PDFs stay small and
fast to build. WinAnsi covers Portuguese and every character our catalogue uses ("—", "§",
"º", "ª", "·", "“”", "…", "€"). User text outside it is folded to its closest form (NFKD, e.g.
"ă" → "a", "₂" → "2") or to "?", so a document is always produced.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from conversations.catalogue import messages as m
from conversations.export.document import DocSection, EtpDocument

_ENCODING = "cp1252"
_FONT = "Times"
_RED = (176, 0, 0)
_GREY = (85, 85, 85)
_BLACK = (0, 0, 0)
_GUTTER = 12  # mm for an item's number
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FALLBACK = {"≤": "<=", "≥": ">=", "≠": "!=", "→": "->", "←": "<-", "✓": "v", "✔": "v"}


def _fold(char: str) -> str:
    if char in _FALLBACK:
        return _FALLBACK[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    try:
        base.encode(_ENCODING)
    except UnicodeEncodeError:
        return "?"
    return base or "?"


def _text(text: str) -> str:
    """Text the standard fonts can show."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\t", " "))
    try:
        text.encode(_ENCODING)
        return text
    except UnicodeEncodeError:
        pass
    out: list[str] = []
    for char in text:
        try:
            char.encode(_ENCODING)
            out.append(char)
        except UnicodeEncodeError:
            out.append(_fold(char))
    return "".join(out)


class _Pdf(FPDF):
    def __init__(self, doc: EtpDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc = doc
        self.core_fonts_encoding = _ENCODING
        self.set_margins(25, 20, 25)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        self.set_font(_FONT, "", 8)
        self.set_text_color(*_GREY)
        line = _text(f"{self.doc.orgao or '—'} · {self.doc.heading}")
        self.cell(0, 4, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if self.doc.mark:
            self.set_font(_FONT, "B", 10)
            self.set_text_color(*_RED)
            self.cell(0, 5, self.doc.mark, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*_BLACK)
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(_FONT, "", 9)
        self.set_text_color(*_GREY)
        page = m.DOC_PAGE.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, 6, page, align="C")
        self.set_text_color(*_BLACK)

    # --- building blocks -------------------------------------------------------------

    def para(
        self,
        text: str,
        *,
        style: str = "",
        size: float = 11,
        align: str = "J",
        color: tuple[int, int, int] = _BLACK,
        indent: float = 0,
        after: float = 2,
    ) -> None:
        self.set_font(_FONT, style, size)
        self.set_text_color(*color)
        if indent:
            self.set_x(self.l_margin + indent)
        width = self.epw - indent
        self.multi_cell(
            width, size * 0.51, _text(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_text_color(*_BLACK)
        self.ln(after)

    def heading(self, text: str, *, size: float = 13) -> None:
        if self.will_page_break(30):
            self.add_page()
        self.ln(3)
        self.para(text, style="B", size=size, align="L", after=1)

    def item(self, number: str, text: str) -> None:
        """A numbered paragraph: the number in a gutter, the text wrapping beside it."""
        self.set_font(_FONT, "B", 11)
        self.cell(_GUTTER, 11 * 0.51, _text(number), new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.set_font(_FONT, "", 11)
        self.multi_cell(
            self.epw - _GUTTER,
            11 * 0.51,
            _text(text),
            align="J",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(2)

    def signature(self, name: str, role: str) -> None:
        if self.will_page_break(32):
            self.add_page()
        self.ln(12)
        self.para("_" * 45, align="C", after=0)
        if name:
            self.para(name, style="B", align="C", after=0)
        self.para(role, align="C", after=0)

    def grid(
        self, rows: Sequence[tuple[str, ...]], widths: tuple[float, ...], *, head: bool
    ) -> None:
        self.set_font(_FONT, "", 10)
        with self.table(
            col_widths=widths,
            first_row_as_headings=head,
            line_height=5,
            text_align="LEFT",
            width=self.epw,
            headings_style=FontFace(emphasis="BOLD"),
        ) as table:
            for values in rows:
                row = table.row()
                for j, value in enumerate(values):
                    bold = not head and j == 0
                    row.cell(_text(value), style=FontFace(emphasis="BOLD") if bold else None)
        self.set_font(_FONT, "", 11)
        self.ln(3)


def _section(pdf: _Pdf, doc: EtpDocument, s: DocSection) -> None:
    pdf.heading(s.heading)
    pdf.para(s.legal_ref, style="I", size=9.5, align="L", color=_GREY)
    if s.state == "skipped":
        pdf.para(doc.skipped_statement)
    elif s.state == "missing":
        pdf.para(m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL, style="B", color=_RED)
    for item in s.items:
        pdf.item(item.number, item.text)
    if s.prepared_by:
        pdf.para(m.DOC_AUTHORS.format(names=", ".join(s.prepared_by)), size=8.5, color=_GREY)


def render_pdf(doc: EtpDocument) -> bytes:
    pdf = _Pdf(doc)
    pdf.set_title(f"{doc.heading} — {doc.objeto}")
    pdf.set_subject(m.DOC_SUBJECT)
    pdf.set_author("; ".join(t.name for t in doc.team) or m.DOC_GENERATOR)
    pdf.set_keywords(m.DOC_KEYWORDS.format(processo=doc.processo or "—"))
    pdf.set_creator(m.DOC_GENERATOR)
    pdf.set_lang("pt-BR")
    pdf.set_creation_date(doc.generated_at)
    pdf.add_page()

    for line, style in ((doc.orgao, "B"), (doc.unidade, "")):
        if line:
            pdf.para(line.upper(), style=style, align="C", after=0)
    pdf.ln(4)
    pdf.para(doc.heading, style="B", size=15, align="C", after=4)
    pdf.grid(doc.header_rows, (45, 115), head=False)
    if doc.in58:
        pdf.para(m.DOC_ORDER_IN58, style="I", size=10)

    if doc.pendencias:
        pdf.para(doc.mark, style="B", size=20, align="C", color=_RED, after=2)
        pdf.para(f"{m.DOC_MISSING}:", style="B", align="L", after=1)
        for item in doc.pendencias:
            pdf.para(f"• {item}", align="L", indent=5, after=0.5)
        pdf.ln(2)

    pdf.heading(m.DOC_SUMMARY)
    pdf.grid(doc.summary_rows, (14, 86, 25, 35), head=True)

    for section in doc.sections:
        _section(pdf, doc, section)

    if doc.annexes:
        pdf.heading(m.DOC_ANNEXES)
        for annex in doc.annexes:
            pdf.para(f"• {annex.line}", align="L", indent=5, after=0.5)

    pdf.heading(m.DOC_TEAM)
    if doc.portaria:
        pdf.para(m.DOC_DESIGNATION.format(portaria=doc.portaria))
    pdf.para(doc.place_date)
    if not doc.team:
        pdf.para(m.DOC_NO_TEAM, style="B", color=_RED)
    for member in doc.team:
        pdf.signature(
            member.name, m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula)
        )

    pdf.heading(m.DOC_APPROVAL)
    pdf.para(m.DOC_APPROVAL_NOTE, style="I", size=9.5, color=_GREY)
    pdf.para(m.DOC_APPROVAL_TEXT)
    pdf.para(m.DOC_APPROVAL_DATE)
    pdf.signature("", m.DOC_APPROVAL_ROLE)
    for line in m.DOC_APPROVAL_FIELDS:
        pdf.para(line, align="L", after=1)

    for annex in doc.annexes:
        if not annex.attached:
            continue
        pdf.add_page()
        pdf.heading(f"{annex.label} — {annex.title}")
        for paragraph in annex.body:
            pdf.para(paragraph)
        if annex.table:
            columns = len(annex.table[0])
            pdf.grid(annex.table, tuple(pdf.epw / columns for _ in range(columns)), head=True)

    buffer = io.BytesIO()
    pdf.output(buffer)
    return buffer.getvalue()
