"""Markdown and JSON renderers."""

from __future__ import annotations

import html
import json

from conversations.catalogue import messages as m
from conversations.export.document import EtpDocument, document_json


def _md(text: str) -> str:
    """User text made inert in Markdown: its HTML shown, not run (wherever another system
    renders the file it would be a script), and no link or image of its own."""
    escaped = html.escape(text, quote=False)
    return escaped.replace("[", "\\[").replace("]", "\\]")


def _line(text: str) -> str:
    """A value that must stay on its line (a header, a table cell, a name)."""
    return _md(" ".join(text.split())).replace("|", "\\|")


def render_markdown(doc: EtpDocument) -> bytes:
    lines: list[str] = [f"# {_line(doc.heading)}", ""]
    for label, value in doc.header_rows:
        lines.append(f"**{label}:** {_line(value)}  ")
    lines.append("")
    if doc.order == "in58":
        lines += [f"*{m.DOC_ORDER_IN58}*", ""]
    if not doc.complete:
        lines += [f"> **{m.DOC_DRAFT_MARK}**", ">", f"> {m.DOC_MISSING}:"]
        lines += [f"> - {_line(item)}" for item in doc.missing]
        lines.append("")
    lines += [f"## {m.DOC_SUMMARY}", ""]
    cols = m.DOC_SUMMARY_COLUMNS
    lines += [f"| {' | '.join(cols)} |", "|" + "---|" * len(cols)]
    for s in doc.sections:
        lines.append(
            f"| {s.label} | {s.title} | {m.DOC_YES if s.mandatory else m.DOC_NO} | {m.DOC_STATE[s.state]} |"
        )
    lines.append("")
    for s in doc.sections:
        lines += [f"## {s.heading}", "", f"*{s.legal_ref}*", ""]
        if s.state == "accepted":
            lines += [_md(s.text), ""]
            if s.gaps:
                lines += [f"*{m.DOC_GAPS.format(gaps=_line('; '.join(s.gaps)))}*", ""]
        elif s.state == "skipped":
            lines += [m.DOC_SKIPPED, "", f"> {_line(s.justification)}", ""]
        else:
            lines += [f"**{m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL}**", ""]
        if s.authors:
            names = _line(", ".join(s.authors))
            lines += [f"<sub>{m.DOC_AUTHORS.format(names=names)}</sub>", ""]
    lines += [f"## {m.DOC_TEAM}", ""]
    if doc.portaria:
        lines += [m.DOC_PORTARIA.format(portaria=_line(doc.portaria)), ""]
    lines += [_line(doc.place_date), ""]
    if not doc.team:
        lines += [f"**{m.DOC_NO_TEAM}**", ""]
    for member in doc.team:
        lines += [
            "",
            "\\_" * 40,
            "",
            f"**{_line(member.name)}**  ",
            m.DOC_MEMBER_LINE.format(cargo=_line(member.cargo), matricula=_line(member.matricula)),
            "",
        ]
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


def render_json(doc: EtpDocument) -> bytes:
    return json.dumps(document_json(doc), ensure_ascii=False, indent=2).encode("utf-8")
