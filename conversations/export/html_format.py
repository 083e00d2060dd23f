"""HTML renderer: one self-contained file (inline styles, no scripts, no external assets).

Plain semantic tags and tables with inline borders, so the document pastes cleanly into the
SEI document editor (CKEditor), which drops stylesheets, classes and scripts. User text is
escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from conversations.catalogue import messages as m
from conversations.export.document import DocSection, EtpDocument

_BODY = "font-family: 'Times New Roman', Times, serif; font-size: 12pt; line-height: 1.4;"
_TABLE = "border-collapse: collapse; width: 100%; margin: 6pt 0;"
_CELL = "border: 1px solid #000; padding: 3pt 5pt; text-align: left; vertical-align: top;"
_RED = "color: #b00000;"
_SMALL = "font-size: 9pt; color: #555;"
_CENTER = "text-align: center;"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SIGNATURE = "_" * 45


def _e(text: str) -> str:
    return escape(_CONTROL.sub("", text), quote=True)


def _lines(text: str) -> str:
    return _e(text).replace("\n", "<br>")


def _table(rows: Sequence[tuple[str, ...]], *, head: bool) -> list[str]:
    out = [f'<table style="{_TABLE}">']
    for i, row in enumerate(rows):
        cells = []
        for j, value in enumerate(row):
            tag = "th" if (head and i == 0) or (not head and j == 0) else "td"
            cells.append(f'<{tag} style="{_CELL}">{_e(value)}</{tag}>')
        out.append(f"<tr>{''.join(cells)}</tr>")
    out.append("</table>")
    return out


def _section(doc: EtpDocument, s: DocSection) -> list[str]:
    out = [
        f"<h2>{_e(s.heading)}</h2>",
        f'<p style="{_SMALL} font-style: italic;">{_e(s.legal_ref)}</p>',
    ]
    if s.state == "skipped":
        out.append(f"<p>{_e(doc.skipped_statement)}</p>")
    elif s.state == "missing":
        text = m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL
        out.append(f'<p style="{_RED}"><strong>{_e(text)}</strong></p>')
    for item in s.items:
        out.append(
            f'<p style="text-align: justify;"><strong>{_e(item.number)}</strong> '
            f"{_lines(item.text)}</p>"
        )
    if s.prepared_by:
        names = ", ".join(s.prepared_by)
        out.append(f'<p style="{_SMALL}">{_e(m.DOC_AUTHORS.format(names=names))}</p>')
    return out


def _signature(name: str, role: str) -> str:
    return (
        f'<p style="{_CENTER} margin-top: 36pt;">'
        f"{_SIGNATURE}<br><strong>{_e(name)}</strong><br>{_e(role)}</p>"
    )


def render_html(doc: EtpDocument) -> bytes:
    out = [
        "<!DOCTYPE html>",
        '<html lang="pt-BR">',
        '<head><meta charset="utf-8">',
        f"<title>{_e(doc.heading)} — {_e(doc.objeto)}</title></head>",
        f'<body style="{_BODY}">',
    ]
    for line, style in ((doc.orgao, "font-weight: bold;"), (doc.unidade, "")):
        if line:
            out.append(f'<p style="{_CENTER} {style}">{_e(line.upper())}</p>')
    out.append(f'<h1 style="{_CENTER}">{_e(doc.heading)}</h1>')
    out += _table(doc.header_rows, head=False)
    if doc.in58:
        out.append(f"<p><em>{_e(m.DOC_ORDER_IN58)}</em></p>")
    if doc.pendencias:
        out.append(
            f'<p style="{_CENTER} font-size: 20pt; {_RED}"><strong>{_e(doc.mark)}</strong></p>'
        )
        out.append(f"<p><strong>{_e(m.DOC_MISSING)}:</strong></p>")
        out.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in doc.pendencias) + "</ul>")
    out.append(f"<h2>{_e(m.DOC_SUMMARY)}</h2>")
    out += _table(doc.summary_rows, head=True)
    for section in doc.sections:
        out += _section(doc, section)
    if doc.annexes:
        out.append(f"<h2>{_e(m.DOC_ANNEXES)}</h2>")
        out.append("<ul>" + "".join(f"<li>{_e(a.line)}</li>" for a in doc.annexes) + "</ul>")
    out.append(f"<h2>{_e(m.DOC_TEAM)}</h2>")
    if doc.portaria:
        out.append(f"<p>{_e(m.DOC_DESIGNATION.format(portaria=doc.portaria))}</p>")
    out.append(f"<p>{_e(doc.place_date)}</p>")
    if not doc.team:
        out.append(f'<p style="{_RED}"><strong>{_e(m.DOC_NO_TEAM)}</strong></p>')
    for member in doc.team:
        role = m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula)
        out.append(_signature(member.name, role))
    out.append(f"<h2>{_e(m.DOC_APPROVAL)}</h2>")
    out.append(f'<p style="{_SMALL} font-style: italic;">{_e(m.DOC_APPROVAL_NOTE)}</p>')
    out.append(f"<p>{_e(m.DOC_APPROVAL_TEXT)}</p>")
    out.append(f"<p>{_e(m.DOC_APPROVAL_DATE)}</p>")
    out.append(
        f'<p style="{_CENTER} margin-top: 36pt;">{_SIGNATURE}<br>{_e(m.DOC_APPROVAL_ROLE)}</p>'
    )
    out += [f"<p>{_e(line)}</p>" for line in m.DOC_APPROVAL_FIELDS]
    for annex in doc.annexes:
        if not annex.attached:
            continue
        out.append(f"<h2>{_e(annex.label)} — {_e(annex.title)}</h2>")
        out += [f'<p style="text-align: justify;">{_lines(p)}</p>' for p in annex.body]
        if annex.table:
            out += _table(annex.table, head=True)
    out += ["</body>", "</html>"]
    return ("\n".join(out) + "\n").encode("utf-8")
