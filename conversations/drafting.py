"""Drafting: the context a drafter sees, and the deterministic offline drafter."""

from __future__ import annotations

import re

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER, verdict
from conversations.model import Etp
from conversations.ports import Draft, DraftContext


def build_context(etp: Etp, section: int, attempt: int) -> DraftContext:
    spec = BY_NUMBER[section]
    entry = etp.section(section)
    answers: list[tuple[str, str]] = []
    for answer in entry.answers:
        question = (
            spec.questions[answer.question].text
            if 0 <= answer.question < len(spec.questions)
            else ""
        )
        answers.append((question, answer.text))
    earlier = tuple(
        (n, s.accepted_text)
        for n, s in sorted(etp.sections.items())
        if n < section and s.accepted_text
    )
    ident = etp.identification
    return DraftContext(
        section=section,
        attempt=attempt,
        objeto=ident.objeto or etp.title,
        processo=ident.processo,
        orgao=ident.orgao,
        answers=tuple(answers),
        earlier=earlier,
        gaps=tuple(entry.gaps),
    )


def _sentence(text: str) -> str:
    """Tidy one answer into a sentence: collapse blank runs, end with a full stop."""
    text = re.sub(r"[ \t]+", " ", text.strip())
    text = re.sub(r"\n{3,}", "\n\n", text)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?:;…":
        text += "."
    return text


class OfflineDrafter:
    """Writes formal Portuguese from the answers alone: deterministic, and it never invents a number.

    Every figure in its output comes from the user's answers or the identification; `attempt`
    picks between two phrasings so that /refazer gives a different wording. It needs no I/O, so
    the service drafts inline with it (no job); `inline=False` makes it run as a job like an LLM.
    """

    name = "offline"

    def __init__(self, *, inline: bool = True) -> None:
        self.inline = inline

    async def write(self, context: DraftContext) -> Draft:
        return Draft(self.compose(context), self.name)

    def compose(self, context: DraftContext) -> str:
        spec = BY_NUMBER[context.section]
        alt = context.attempt % 2 == 0
        processo = m.DRAFT_PROCESSO.format(processo=context.processo) if context.processo else ""
        objeto = context.objeto.strip().rstrip(".") or m.DRAFT_OBJECT_FALLBACK
        if len(objeto) > 1 and objeto[0].isupper() and objeto[1].islower():
            objeto = objeto[0].lower() + objeto[1:]  # "Aquisição de…" reads mid-sentence
        intro = (m.DRAFT_INTRO_ALT if alt else m.DRAFT_INTRO).format(
            ref=spec.legal_ref,
            title_lower=spec.title[0].lower() + spec.title[1:],
            objeto=objeto,
            processo=processo,
        )
        paragraphs = [intro]
        by_question: dict[str, list[str]] = {}
        order: list[str] = []
        for question, answer in context.answers:
            if question not in by_question:
                by_question[question] = []
                order.append(question)
            by_question[question].append(_sentence(answer))
        for question in order:
            body = " ".join(s for s in by_question[question] if s)
            if not body:
                continue
            if question:
                q = next(q for q in spec.questions if q.text == question)
                lead = q.lead_alt if alt else q.lead
            else:
                lead = m.DRAFT_COMPLEMENT
            paragraphs.append(f"{lead} {body}")
        if spec.verdict:
            said = verdict(" ".join(a for _, a in context.answers))
            if said is True:
                paragraphs.append(m.DRAFT_VERDICT_YES)
            elif said is False:
                paragraphs.append(m.DRAFT_VERDICT_NO)
        if context.earlier and spec.cites_earlier:
            refs = ", ".join(
                m.DRAFT_SECTION_REF.format(
                    roman=BY_NUMBER[n].roman, title=BY_NUMBER[n].title.lower()
                )
                for n, _ in context.earlier
                if BY_NUMBER[n].cited and n != context.section
            )
            if refs:
                paragraphs.append(m.DRAFT_CONTEXT.format(refs=refs))
        for gap in context.gaps:
            paragraphs.append(m.DRAFT_GAP.format(gap=gap))
        return "\n\n".join(paragraphs)
