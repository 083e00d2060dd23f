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


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


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
        if not self.doc.complete:
            self.set_font(_FONT, "B", 10)
            self.set_text_color(*_RED)
            self.cell(0, 5, m.DOC_DRAFT_MARK, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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


def _section(pdf: _Pdf, s: DocSection) -> None:
    pdf.heading(s.heading)
    pdf.para(s.legal_ref, style="I", size=9.5, align="L", color=_GREY)
    if s.state == "accepted":
        for text in _paragraphs(s.text):
            pdf.para(text)
        if s.gaps:
            pdf.para(m.DOC_GAPS.format(gaps="; ".join(s.gaps)), style="I")
    elif s.state == "skipped":
        pdf.para(m.DOC_SKIPPED)
        for text in _paragraphs(s.justification):
            pdf.para(text, indent=10, style="I")
    else:
        pdf.para(m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL, style="B", color=_RED)
    if s.authors:
        pdf.para(m.DOC_AUTHORS.format(names=", ".join(s.authors)), size=8.5, color=_GREY)


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
    rows = list(doc.header_rows)
    if doc.portaria:
        rows.append((m.IDENT_BY_KEY["portaria"].label, doc.portaria))
    pdf.grid(rows, (45, 115), head=False)
    if doc.order == "in58":
        pdf.para(m.DOC_ORDER_IN58, style="I", size=10)

    if not doc.complete:
        pdf.para(m.DOC_DRAFT_MARK, style="B", size=20, align="C", color=_RED, after=2)
        pdf.para(f"{m.DOC_MISSING}:", style="B", align="L", after=1)
        for item in doc.missing:
            pdf.para(f"• {item}", align="L", indent=5, after=0.5)
        pdf.ln(2)

    pdf.heading(m.DOC_SUMMARY)
    summary: list[tuple[str, ...]] = [m.DOC_SUMMARY_COLUMNS]
    summary += [
        (s.label, s.title, m.DOC_YES if s.mandatory else m.DOC_NO, m.DOC_STATE[s.state])
        for s in doc.sections
    ]
    pdf.grid(summary, (14, 96, 25, 25), head=True)

    for section in doc.sections:
        _section(pdf, section)

    pdf.heading(m.DOC_TEAM)
    if doc.portaria:
        pdf.para(m.DOC_PORTARIA.format(portaria=doc.portaria))
    pdf.para(doc.place_date)
    if not doc.team:
        pdf.para(m.DOC_NO_TEAM, style="B", color=_RED)
    for member in doc.team:
        if pdf.will_page_break(32):
            pdf.add_page()
        pdf.ln(12)
        pdf.para("_" * 45, align="C", after=0)
        pdf.para(member.name, style="B", align="C", after=0)
        pdf.para(
            m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula),
            align="C",
            after=0,
        )

    buffer = io.BytesIO()
    pdf.output(buffer)
    return buffer.getvalue()
