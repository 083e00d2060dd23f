"""Markdown and JSON renderers."""

from __future__ import annotations

import json

from conversations.catalogue import messages as m
from conversations.export.document import EtpDocument, document_json


def render_markdown(doc: EtpDocument) -> bytes:
    lines: list[str] = [f"# {doc.heading}", ""]
    for label, value in doc.header_rows:
        lines.append(f"**{label}:** {value}  ")
    lines.append("")
    if doc.order == "in58":
        lines += [f"*{m.DOC_ORDER_IN58}*", ""]
    if not doc.complete:
        lines += [f"> **{m.DOC_DRAFT_MARK}**", ">", f"> {m.DOC_MISSING}:"]
        lines += [f"> - {item}" for item in doc.missing]
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
            lines += [s.text, ""]
            if s.gaps:
                lines += [f"*{m.DOC_GAPS.format(gaps='; '.join(s.gaps))}*", ""]
        elif s.state == "skipped":
            lines += [m.DOC_SKIPPED, "", f"> {s.justification}", ""]
        else:
            lines += [f"**{m.DOC_NOT_DONE if s.mandatory else m.DOC_NOT_DONE_OPTIONAL}**", ""]
        if s.authors:
            lines += [f"<sub>{m.DOC_AUTHORS.format(names=', '.join(s.authors))}</sub>", ""]
    lines += [f"## {m.DOC_TEAM}", ""]
    if doc.portaria:
        lines += [m.DOC_PORTARIA.format(portaria=doc.portaria), ""]
    lines += [doc.place_date, ""]
    if not doc.team:
        lines += [f"**{m.DOC_NO_TEAM}**", ""]
    for member in doc.team:
        lines += [
            "",
            "\\_" * 40,
            "",
            f"**{member.name}**  ",
            m.DOC_MEMBER_LINE.format(cargo=member.cargo, matricula=member.matricula),
            "",
        ]
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


def render_json(doc: EtpDocument) -> bytes:
    return json.dumps(document_json(doc), ensure_ascii=False, indent=2).encode("utf-8")
