"""Drafting: the context a drafter sees, and the deterministic offline drafter."""

from __future__ import annotations

import re
import unicodedata

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER, VERDICT_QUESTION, SectionSpec
from conversations.model import VERDICT_CHOICE, Etp
from conversations.ports import Draft, DraftContext
from conversations.wording import after_colon as _after_colon


def build_context(etp: Etp, section: int, attempt: int) -> DraftContext:
    spec = BY_NUMBER[section]
    entry = etp.section(section)
    answers: list[tuple[str, str]] = []
    for answer in entry.answers:
        if answer.question == VERDICT_CHOICE:
            continue  # the choice is `verdict` below, not words to put in the draft
        index = answer.question
        if spec.verdict and index == VERDICT_QUESTION:
            # a text kept from before the verdict was a choice: the team's reasons
            index = VERDICT_QUESTION + 1
        question = spec.questions[index].text if 0 <= index < len(spec.questions) else ""
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
        verdict=entry.verdict.value if entry.verdict is not None else "",
    )


_FIGURE = re.compile(r"R\$ [\d.]+,\d+|\d+(?:[.,]\d+)* ?%")


def keep_facts(text: str, facts: tuple[str, ...]) -> str:
    """`text` with every computed fact whose figures it does not all state added at its end:
    a drafter may word the facts, never drop or change a figure (a changed one is also
    reported by the grounding check, as a value not in the data)."""
    missing = [f for f in facts if any(v not in text for v in _FIGURE.findall(f))]
    return "\n\n".join([text.rstrip(), *missing]) if missing else text


def _sentence(text: str) -> str:
    """Tidy one answer: collapse blank runs, end with a full stop. Its words stay the user's."""
    text = re.sub(r"[ \t]+", " ", text.strip())
    text = re.sub(r"\n{3,}", "\n\n", text)
    if text and text[-1] not in ".!?:;…)":
        text += "."
    return text


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(re.findall(r"\w+", "".join(c for c in folded if not unicodedata.combining(c))))


def _labeled(label: str, texts: list[str]) -> str:
    """One paragraph: the label, then the answers given to its question. An answer that
    repeats the label ("Memória de cálculo: …") loses the repetition; a first answer that
    begins with the label's words as a sentence ("Composição da solução inclui…") stands
    without the label, which would double them."""
    parts: list[str] = []
    labelled = True
    for i, text in enumerate(texts):
        repeated = re.match(r"\s*" + re.escape(label) + r"\s*[:–—-]\s*", text, re.IGNORECASE)
        if repeated is not None:
            text = text[repeated.end() :]
            if i > 0 and text:
                text = text[0].upper() + text[1:]
        elif i == 0 and _plain(text).startswith(_plain(label)):
            labelled = False
        if text:
            parts.append(text)
    body = " ".join(parts)
    return m.DRAFT_LABELED.format(label=label, text=_after_colon(body)) if labelled else body


def opening(spec: SectionSpec, *, alt: bool) -> str:
    """The one sentence the drafter writes of its own: it names the element, in agreement."""
    verbs = m.DRAFT_OPENING_VERBS["record" if alt else "present"]
    verb = verbs[1] if spec.plural else verbs[0]
    template = m.DRAFT_OPENING_ALT if alt else m.DRAFT_OPENING
    return template.format(verb=verb, noun=spec.noun)


class OfflineDrafter:
    """Frames the answers in a numbered-ready, impersonal layout; it does not rewrite them.

    Deterministic, and it never invents a fact: every word beyond its frame (an opening that
    names the element, one label per question, the conclusion the team chose, the pending
    items) is the user's. The heading of the section in the document carries the legal
    reference and the document's header the objeto and processo, so a draft repeats neither.
    `attempt` picks between two wordings of the frame, so that /refazer gives another one. It
    needs no I/O, so the service drafts inline with it; `inline=False` makes it run as a job.
    """

    name = "offline"

    def __init__(self, *, inline: bool = True) -> None:
        self.inline = inline

    async def write(self, context: DraftContext) -> Draft:
        return Draft(self.compose(context), self.name)

    def compose(self, context: DraftContext) -> str:
        spec = BY_NUMBER[context.section]
        alt = context.attempt % 2 == 0
        labels = {q.text: (q.lead_alt if alt else q.lead) for q in spec.questions}
        by_label: dict[str, list[str]] = {}
        for question, answer in context.answers:
            text = _sentence(answer)
            if text:
                label = labels.get(question, m.DRAFT_COMPLEMENT)
                by_label.setdefault(label, []).append(text)
        paragraphs = [opening(spec, alt=alt)]
        if spec.prices:
            # the research's sentences, each figure as computed: the section's body
            paragraphs += list(context.facts)
        # in the order of the questions, whatever the order the answers came in
        for label in [*labels.values(), m.DRAFT_COMPLEMENT]:
            texts = by_label.pop(label, [])
            if texts:
                paragraphs.append(_labeled(label, texts))
        if not spec.prices:
            given = " ".join(a for _, a in context.answers)
            paragraphs += [f for f in context.facts if f not in given]
        if spec.verdict:
            paragraphs.append(m.DRAFT_VERDICT.get(context.verdict, m.DRAFT_NO_VERDICT))
        if context.gaps:
            template = m.DRAFT_GAP if len(context.gaps) == 1 else m.DRAFT_GAPS
            paragraphs.append(template.format(gaps="; ".join(context.gaps)))
        return "\n\n".join(paragraphs)
