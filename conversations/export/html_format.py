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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _e(text: str) -> str:
    return escape(_CONTROL.sub("", text), quote=True)


def _paragraphs(text: str, style: str = "text-align: justify;") -> list[str]:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [f'<p style="{style}">{_e(p).replace(chr(10), "<br>")}</p>' for p in parts]


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


def _section(s: DocSection) -> list[str]:
    out = [
        f"<h2>{_e(s.heading)}</h2>",
        f'<p style="{_SMALL} font-style: italic;">{_e(s.legal_ref)}</p>',
    ]
    if s.state == "accepted":
        out += _paragraphs(s.text)
        if s.gaps:
            out.append(f"<p><em>{_e(m.DOC_GAPS.format(gaps='; '.join(s.gaps)))}</em></p>")
    elif s.state == "skipped":
        out.append(f"<p>{_e(m.DOC_SKIPPED)}</p>")
        out.append('<blockquote style="margin: 0 0 0 24pt; font-style: italic;">')
        out += _paragraphs(s.justification)
        out.append("</blockquote>")
    else:
        text = m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL
        out.append(f'<p style="{_RED}"><strong>{_e(text)}</strong></p>')
    if s.authors:
        out.append(
            f'<p style="{_SMALL}">{_e(m.DOC_AUTHORS.format(names=", ".join(s.authors)))}</p>'
        )
    return out


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
            out.append(f'<p style="text-align: center; {style}">{_e(line.upper())}</p>')
    out.append(f'<h1 style="text-align: center;">{_e(doc.heading)}</h1>')
    rows = list(doc.header_rows)
    if doc.portaria:
        rows.append((m.IDENT_BY_KEY["portaria"].label, doc.portaria))
    out += _table(rows, head=False)
    if doc.order == "in58":
        out.append(f"<p><em>{_e(m.DOC_ORDER_IN58)}</em></p>")
    if not doc.complete:
        out.append(
            f'<p style="text-align: center; font-size: 20pt; {_RED}">'
            f"<strong>{_e(m.DOC_DRAFT_MARK)}</strong></p>"
        )
        out.append(f"<p><strong>{_e(m.DOC_MISSING)}:</strong></p>")
        out.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in doc.missing) + "</ul>")
    out.append(f"<h2>{_e(m.DOC_SUMMARY)}</h2>")
    summary: list[tuple[str, ...]] = [m.DOC_SUMMARY_COLUMNS]
    summary += [
        (s.label, s.title, m.DOC_YES if s.mandatory else m.DOC_NO, m.DOC_STATE[s.state])
        for s in doc.sections
    ]
    out += _table(summary, head=True)
    for section in doc.sections:
        out += _section(section)
    out.append(f"<h2>{_e(m.DOC_TEAM)}</h2>")
    if doc.portaria:
        out.append(f"<p>{_e(m.DOC_PORTARIA.format(portaria=doc.portaria))}</p>")
    out.append(f"<p>{_e(doc.place_date)}</p>")
    if not doc.team:
        out.append(f'<p style="{_RED}"><strong>{_e(m.DOC_NO_TEAM)}</strong></p>')
    for member in doc.team:
        role = m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula)
        out.append(
            '<p style="text-align: center; margin-top: 36pt;">'
            f"{'_' * 45}<br><strong>{_e(member.name)}</strong><br>{_e(role)}</p>"
        )
    out += ["</body>", "</html>"]
    return ("\n".join(out) + "\n").encode("utf-8")
