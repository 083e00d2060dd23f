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
        if self.doc.pendencias:
            self._draft_mark()
        self._summary()
        for section in self.doc.sections:
            self._section(section)
        self._annex_list()
        self._closing()
        self._approval()
        self._annexes()
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
        if doc.mark:
            mark = section.header.add_paragraph()
            mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = mark.add_run(doc.mark)
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
        for label, value in doc.header_rows:
            cells = table.add_row().cells
            _cell_text(cells[0], label, bold=True)
            _cell_text(cells[1], value)
            cells[0].width, cells[1].width = Cm(5), Cm(11)
        if doc.in58:
            out.add_paragraph().add_run(m.DOC_ORDER_IN58).italic = True

    def _draft_mark(self) -> None:
        out = self.out
        p = out.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(self.doc.mark)
        run.bold = True
        run.font.size = Pt(20)
        run.font.color.rgb = _RED
        out.add_paragraph().add_run(f"{m.DOC_MISSING}:").bold = True
        for item in self.doc.pendencias:
            self._styled("List Bullet", _clean(item))

    def _grid(self, rows: tuple[tuple[str, ...], ...], widths: tuple[Any, ...]) -> None:
        """A table whose first row is its header."""
        table = self._table(len(rows[0]))
        for i, values in enumerate(rows):
            for cell, value in zip(table.add_row().cells, values, strict=True):
                _cell_text(cell, value, bold=i == 0)
        for row in table.rows:
            for cell, width in zip(row.cells, widths, strict=True):
                cell.width = width

    def _summary(self) -> None:
        self._styled("Heading 1", m.DOC_SUMMARY)
        self._grid(self.doc.summary_rows, (Cm(1.5), Cm(8.5), Cm(2.5), Cm(3.5)))

    def _item(self, number: str, text: str) -> None:
        p = self.out.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        p.add_run(f"{number} ").bold = True
        lines = _clean(text).split("\n")
        run = p.add_run(lines[0])
        for line in lines[1:]:
            run.add_break()
            run = p.add_run(line)

    def _section(self, s: DocSection) -> None:
        out = self.out
        self._styled("Heading 1", s.heading)
        ref = out.add_paragraph()
        ref_run = ref.add_run(s.legal_ref)
        ref_run.italic = True
        ref_run.font.size = Pt(10)
        if s.state == "skipped":
            out.add_paragraph(self.doc.skipped_statement)
        elif s.state == "missing":
            run = out.add_paragraph().add_run(
                m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL
            )
            run.bold = True
            run.font.color.rgb = _RED
        for item in s.items:
            self._item(item.number, item.text)
        if s.prepared_by:
            run = out.add_paragraph().add_run(
                _clean(m.DOC_AUTHORS.format(names=", ".join(s.prepared_by)))
            )
            run.font.size = Pt(9)
            run.font.color.rgb = _GREY

    def _annex_list(self) -> None:
        if not self.doc.annexes:
            return
        self._styled("Heading 1", m.DOC_ANNEXES)
        for annex in self.doc.annexes:
            self._styled("List Bullet", _clean(annex.line))

    def _signature(self, name: str, role: str) -> None:
        out = self.out
        line = out.add_paragraph("_" * 45)
        line.alignment = WD_ALIGN_PARAGRAPH.CENTER
        line.paragraph_format.space_before = Pt(36)
        line.paragraph_format.keep_with_next = True
        if name:
            p = out.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.paragraph_format.space_after = Pt(0)
            p.paragraph_format.keep_with_next = True
            p.add_run(_clean(name)).bold = True
        role_p = out.add_paragraph(_clean(role))
        role_p.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def _closing(self) -> None:
        doc, out = self.doc, self.out
        self._styled("Heading 1", m.DOC_TEAM)
        if doc.portaria:
            out.add_paragraph(_clean(m.DOC_DESIGNATION.format(portaria=doc.portaria)))
        out.add_paragraph(_clean(doc.place_date))
        if not doc.team:
            run = out.add_paragraph().add_run(m.DOC_NO_TEAM)
            run.bold = True
            run.font.color.rgb = _RED
        for member in doc.team:
            self._signature(
                member.name,
                m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula),
            )

    def _approval(self) -> None:
        out = self.out
        self._styled("Heading 1", m.DOC_APPROVAL)
        note = out.add_paragraph().add_run(m.DOC_APPROVAL_NOTE)
        note.italic = True
        note.font.size = Pt(9)
        note.font.color.rgb = _GREY
        out.add_paragraph(m.DOC_APPROVAL_TEXT)
        out.add_paragraph(m.DOC_APPROVAL_DATE)
        self._signature("", m.DOC_APPROVAL_ROLE)
        for line in m.DOC_APPROVAL_FIELDS:
            out.add_paragraph(line)

    def _annexes(self) -> None:
        for annex in self.doc.annexes:
            if not annex.attached:
                continue
            heading = self._styled("Heading 1", _clean(f"{annex.label} — {annex.title}"))
            heading.paragraph_format.page_break_before = True
            for paragraph in annex.body:
                self.out.add_paragraph(_clean(paragraph))
            if annex.table:
                columns = len(annex.table[0])
                self._grid(annex.table, tuple(Cm(16 / columns) for _ in range(columns)))


def render_docx(doc: EtpDocument) -> bytes:
    return _Writer(doc).render()
