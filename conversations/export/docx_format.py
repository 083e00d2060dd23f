"""DOCX renderer (python-docx): the document as a public body files it."""

from __future__ import annotations

import io
import re
from typing import Any

from docx import Document
from docx.enum.section import WD_SECTION_START
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from conversations.catalogue import messages as m
from conversations.export.document import DocSection, EtpDocument

_RED = RGBColor(0xB0, 0x00, 0x00)
_GREY = RGBColor(0x55, 0x55, 0x55)
_FONT = "Times New Roman"
# Characters XML 1.0 cannot carry; user text comes from chat platforms and may hold them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", _clean(text)) if p.strip()]


def _field(paragraph: Any, instruction: str, cached: str) -> None:
    """A complex field (PAGE, NUMPAGES): Word and LibreOffice compute it when laying out."""

    def char(kind: str) -> Any:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        return element

    paragraph.add_run()._r.append(char("begin"))
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    paragraph.add_run()._r.append(instr)
    paragraph.add_run()._r.append(char("separate"))
    paragraph.add_run(cached)
    paragraph.add_run()._r.append(char("end"))


def _page_numbers(paragraph: Any) -> None:
    """'Página X de Y' from the catalogue template, with PAGE and NUMPAGES fields in place."""
    for piece in re.split(r"(\{page\}|\{pages\})", m.DOC_PAGE):
        if piece == "{page}":
            _field(paragraph, "PAGE", "1")
        elif piece == "{pages}":
            _field(paragraph, "NUMPAGES", "1")
        elif piece:
            paragraph.add_run(piece)


def _set_language(document: Any) -> None:
    rpr = document.styles["Normal"].element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "pt-BR")


def _cell_text(cell: Any, text: str, *, bold: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.add_run(_clean(text)).bold = bold


class _Writer:
    def __init__(self, doc: EtpDocument) -> None:
        self.doc = doc
        self.out = Document()
        self._style_ids: dict[str, str] = {}

    def _styled(self, style: str, text: str = "") -> Any:
        """A paragraph in a named style; python-docx's own name lookup is slow, so each is resolved once."""
        style_id = self._style_ids.get(style)
        if style_id is None:
            style_id = self._style_ids[style] = self.out.styles[style].style_id
        paragraph = self.out.add_paragraph(text)
        paragraph._p.style = style_id
        return paragraph

    def _table(self, cols: int) -> Any:
        table = self.out.add_table(rows=0, cols=cols)
        table._tbl.tblStyle_val = self._style_ids.setdefault(
            "Table Grid", self.out.styles["Table Grid"].style_id
        )
        return table

    def render(self) -> bytes:
        self._setup()
        self._heading()
        if not self.doc.complete:
            self._draft_mark()
        self._summary()
        for section in self.doc.sections:
            self._section(section)
        self._closing()
        buffer = io.BytesIO()
        self.out.save(buffer)
        return buffer.getvalue()

    def _setup(self) -> None:
        doc, out = self.doc, self.out
        normal = out.styles["Normal"]
        normal.font.name = _FONT
        normal.font.size = Pt(12)
        normal.paragraph_format.space_after = Pt(6)
        for name in ("Title", "Heading 1", "Heading 2"):
            out.styles[name].font.name = _FONT
            out.styles[name].font.color.rgb = RGBColor(0, 0, 0)
        _set_language(out)
        props = out.core_properties
        props.title = f"{doc.heading} — {doc.objeto}"[:255]
        props.subject = m.DOC_SUBJECT
        props.author = "; ".join(t.name for t in doc.team)[:255] or m.DOC_GENERATOR
        props.last_modified_by = m.DOC_GENERATOR
        props.keywords = m.DOC_KEYWORDS.format(processo=doc.processo or "—")[:255]
        props.category = m.DOC_CATEGORY
        props.comments = doc.orgao[:255]
        props.language = "pt-BR"
        props.created = doc.generated_at
        props.modified = doc.generated_at
        props.revision = 1
        section = out.sections[0]
        section.start_type = WD_SECTION_START.NEW_PAGE
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)
        section.left_margin = section.right_margin = Cm(2.5)
        section.top_margin = section.bottom_margin = Cm(2.0)
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = header.add_run(_clean(f"{doc.orgao or '—'} · {doc.heading}"))
        run.font.size = Pt(9)
        run.font.color.rgb = _GREY
        if not doc.complete:
            mark = section.header.add_paragraph()
            mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = mark.add_run(m.DOC_DRAFT_MARK)
            run.bold = True
            run.font.color.rgb = _RED
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _page_numbers(footer)

    def _heading(self) -> None:
        doc, out = self.doc, self.out
        for line, bold in ((doc.orgao, True), (doc.unidade, False)):
            if line:
                p = out.add_paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                p.add_run(_clean(line).upper()).bold = bold
        title = self._styled("Title", doc.heading)
        title.alignment = WD_ALIGN_PARAGRAPH.CENTER
        table = self._table(2)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        rows = list(doc.header_rows)
        if doc.portaria:
            rows.append((m.IDENT_BY_KEY["portaria"].label, doc.portaria))
        for label, value in rows:
            cells = table.add_row().cells
            _cell_text(cells[0], label, bold=True)
            _cell_text(cells[1], value)
            cells[0].width, cells[1].width = Cm(5), Cm(11)
        if doc.order == "in58":
            out.add_paragraph().add_run(m.DOC_ORDER_IN58).italic = True

    def _draft_mark(self) -> None:
        out = self.out
        p = out.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(m.DOC_DRAFT_MARK)
        run.bold = True
        run.font.size = Pt(20)
        run.font.color.rgb = _RED
        out.add_paragraph().add_run(f"{m.DOC_MISSING}:").bold = True
        for item in self.doc.missing:
            self._styled("List Bullet", _clean(item))

    def _summary(self) -> None:
        self._styled("Heading 1", m.DOC_SUMMARY)
        table = self._table(len(m.DOC_SUMMARY_COLUMNS))
        for cell, label in zip(table.add_row().cells, m.DOC_SUMMARY_COLUMNS, strict=True):
            _cell_text(cell, label, bold=True)
        for s in self.doc.sections:
            cells = table.add_row().cells
            values = (
                s.label,
                s.title,
                m.DOC_YES if s.mandatory else m.DOC_NO,
                m.DOC_STATE[s.state],
            )
            for cell, value in zip(cells, values, strict=True):
                _cell_text(cell, value)
        for row in table.rows:
            for cell, width in zip(row.cells, (Cm(1.5), Cm(9), Cm(2.5), Cm(3)), strict=True):
                cell.width = width

    def _section(self, s: DocSection) -> None:
        out = self.out
        self._styled("Heading 1", s.heading)
        ref = out.add_paragraph()
        ref_run = ref.add_run(s.legal_ref)
        ref_run.italic = True
        ref_run.font.size = Pt(10)
        if s.state == "accepted":
            for text in _paragraphs(s.text):
                p = out.add_paragraph(text)
                p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            if s.gaps:
                out.add_paragraph().add_run(
                    _clean(m.DOC_GAPS.format(gaps="; ".join(s.gaps)))
                ).italic = True
        elif s.state == "skipped":
            out.add_paragraph(m.DOC_SKIPPED)
            for text in _paragraphs(s.justification):
                quote = out.add_paragraph(text)
                quote.paragraph_format.left_indent = Cm(1)
                quote.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        else:
            run = out.add_paragraph().add_run(
                m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL
            )
            run.bold = True
            run.font.color.rgb = _RED
        if s.authors:
            run = out.add_paragraph().add_run(
                _clean(m.DOC_AUTHORS.format(names=", ".join(s.authors)))
            )
            run.font.size = Pt(9)
            run.font.color.rgb = _GREY

    def _closing(self) -> None:
        doc, out = self.doc, self.out
        self._styled("Heading 1", m.DOC_TEAM)
        if doc.portaria:
            out.add_paragraph(_clean(m.DOC_PORTARIA.format(portaria=doc.portaria)))
        out.add_paragraph(doc.place_date)
        if not doc.team:
            run = out.add_paragraph().add_run(m.DOC_NO_TEAM)
            run.bold = True
            run.font.color.rgb = _RED
        for member in doc.team:
            line = out.add_paragraph("_" * 45)
            line.alignment = WD_ALIGN_PARAGRAPH.CENTER
            line.paragraph_format.space_before = Pt(36)
            line.paragraph_format.keep_with_next = True
            name = out.add_paragraph()
            name.alignment = WD_ALIGN_PARAGRAPH.CENTER
            name.paragraph_format.space_after = Pt(0)
            name.paragraph_format.keep_with_next = True
            name.add_run(_clean(member.name)).bold = True
            role = out.add_paragraph(
                _clean(m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula))
            )
            role.alignment = WD_ALIGN_PARAGRAPH.CENTER


def render_docx(doc: EtpDocument) -> bytes:
    return _Writer(doc).render()
