"""Markdown and JSON renderers."""

from __future__ import annotations

import html
import json

from conversations.catalogue import messages as m
from conversations.export.document import DocSection, EtpDocument, document_json

_BLANK_LINE = "\\_" * 40


def _md(text: str) -> str:
    """User text made inert in Markdown: its HTML shown, not run (wherever another system
    renders the file it would be a script), and no link or image of its own."""
    escaped = html.escape(text, quote=False)
    return escaped.replace("[", "\\[").replace("]", "\\]")


def _line(text: str) -> str:
    """A value that must stay on its line (a header, a table cell, a name)."""
    return _md(" ".join(text.split())).replace("|", "\\|")


def _table(rows: tuple[tuple[str, ...], ...]) -> list[str]:
    head, *body = rows
    lines = [f"| {' | '.join(_line(c) for c in head)} |", "|" + "---|" * len(head)]
    return lines + [f"| {' | '.join(_line(c) for c in row)} |" for row in body]


def _item(number: str, text: str) -> str:
    # a line break inside an item stays a line break (two trailing spaces), not a new paragraph
    return f"**{number}** " + "  \n".join(_md(line) for line in text.split("\n"))


def _section(doc: EtpDocument, s: DocSection) -> list[str]:
    lines = [f"## {_line(s.heading)}", "", f"*{s.legal_ref}*", ""]
    if s.state == "skipped":
        lines += [doc.skipped_statement, ""]
    elif s.state == "missing":
        lines += [f"**{m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL}**", ""]
    for item in s.items:
        lines += [_item(item.number, item.text), ""]
    if s.prepared_by:
        names = _line(", ".join(s.prepared_by))
        lines += [f"<sub>{m.DOC_AUTHORS.format(names=names)}</sub>", ""]
    return lines


def render_markdown(doc: EtpDocument) -> bytes:
    lines: list[str] = []
    for line in (doc.orgao, doc.unidade):
        if line:
            lines.append(f"**{_line(line.upper())}**  ")
    lines += ["", f"# {_line(doc.heading)}", ""]
    for label, value in doc.header_rows:
        lines.append(f"**{label}:** {_line(value)}  ")
    lines.append("")
    if doc.in58:
        lines += [f"*{m.DOC_ORDER_IN58}*", ""]
    if doc.pendencias:
        lines += [f"> **{doc.mark}**", ">", f"> {m.DOC_MISSING}:"]
        lines += [f"> - {_line(item)}" for item in doc.pendencias]
        lines.append("")
    lines += [f"## {m.DOC_SUMMARY}", "", *_table(doc.summary_rows), ""]
    for s in doc.sections:
        lines += _section(doc, s)
    if doc.annexes:
        lines += [f"## {m.DOC_ANNEXES}", ""]
        lines += [f"- {_line(annex.line)}" for annex in doc.annexes]
        lines.append("")
    lines += [f"## {m.DOC_TEAM}", ""]
    if doc.portaria:
        lines += [m.DOC_DESIGNATION.format(portaria=_line(doc.portaria)), ""]
    lines += [_line(doc.place_date), ""]
    if not doc.team:
        lines += [f"**{m.DOC_NO_TEAM}**", ""]
    for member in doc.team:
        lines += [
            "",
            _BLANK_LINE,
            "",
            f"**{_line(member.name)}**  ",
            m.DOC_MEMBER_LINE.format(cargo=_line(member.cargo), matricula=_line(member.matricula)),
            "",
        ]
    lines += [f"## {m.DOC_APPROVAL}", "", f"*{m.DOC_APPROVAL_NOTE}*", ""]
    lines += [m.DOC_APPROVAL_TEXT, "", m.DOC_APPROVAL_DATE, "", "", _BLANK_LINE, ""]
    lines += [f"{m.DOC_APPROVAL_ROLE}  ", *(f"{line}  " for line in m.DOC_APPROVAL_FIELDS), ""]
    for annex in doc.annexes:
        if not annex.attached:
            continue
        lines += [f"## {_line(f'{annex.label} — {annex.title}')}", ""]
        for paragraph in annex.body:
            lines += [_md(paragraph), ""]
        if annex.table:
            lines += [*_table(annex.table), ""]
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


def render_json(doc: EtpDocument) -> bytes:
    return json.dumps(document_json(doc), ensure_ascii=False, indent=2).encode("utf-8")
