"""What a section's drafter sees: its own answers, the answers of the sections it depends on,
the identification, the date, the mandatory set, why sections were skipped, and accepted texts
only within a budget (the answers behind a text are the facts; the text is the model's)."""

from __future__ import annotations

from datetime import datetime

from conversations.catalogue import pricing as pt
from conversations.catalogue.sections import BY_NUMBER, MANDATORY, VERDICT_QUESTION
from conversations.model import VERDICT_CHOICE, Etp
from conversations.ports import DraftContext
from conversations.pricing import PriceInputError, Quantity, parse_quantity
from conversations.pricing import facts as research_facts

# Characters of accepted text a prompt may carry in all, and per section: the answers are the
# facts; an accepted text only helps the wording stay consistent.
EARLIER_BUDGET = 1_800
EARLIER_EACH = 600
# One very long answer must not crowd the others out of a dependent section's prompt.
DEPENDENT_ANSWER_CHARS = 700


def depends_on(section: int) -> tuple[int, ...]:
    return BY_NUMBER[section].depends_on


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " […]"


def _answers(etp: Etp, section: int) -> list[tuple[str, str]]:
    spec = BY_NUMBER[section]
    out: list[tuple[str, str]] = []
    for answer in etp.section(section).answers:
        if answer.question == VERDICT_CHOICE:
            continue  # the choice is the context's `verdict`, not words of an answer
        index = answer.question
        if spec.verdict and index == VERDICT_QUESTION:
            index += 1  # a text kept from before the verdict was a choice: the team's reasons
        question = spec.questions[index].text if 0 <= index < len(spec.questions) else ""
        out.append((question, answer.text))
    return out


def section_facts(etp: Etp, section: int, today: datetime | None = None) -> tuple[str, ...]:
    """The computed figures a section states: section VI's research, section IV's quantity."""
    spec = BY_NUMBER[section]
    quantity = etp.quantity()
    if spec.prices:
        research = etp.research()
        if not research.quotes:
            return ()
        on = research.date_of_research((today or datetime.now()).date())
        return tuple(research_facts(research, quantity, on))
    if spec.quantity and quantity is not None and not _answered(etp, section, quantity):
        return (pt.FACT_QUANTITY.format(quantity=quantity.text()),)
    return ()


def _answered(etp: Etp, section: int, quantity: Quantity) -> bool:
    """Whether the section's first answer is that quantity itself ("1200 resmas")."""
    first = next((a.text for a in etp.section(section).answers if a.question == 0), "")
    try:
        return parse_quantity(first) == quantity
    except PriceInputError:
        return False


def build_context(
    etp: Etp,
    section: int,
    attempt: int,
    *,
    today: datetime | None = None,
    instruction: str = "",
) -> DraftContext:
    """The context of one draft of `section` (attempt `attempt`)."""
    entry = etp.section(section)
    deps = depends_on(section)
    depends: list[tuple[int, str, str]] = []
    for n in deps:
        for question, text in _answers(etp, n):
            depends.append((n, question, _clip(text, DEPENDENT_ANSWER_CHARS)))
        for fact in section_facts(etp, n, today):
            depends.append((n, "", fact))
    earlier: list[tuple[int, str]] = []
    budget = EARLIER_BUDGET
    for n in deps:
        accepted = etp.section(n).accepted_text
        if not accepted or budget <= 0:
            continue
        piece = _clip(accepted, min(EARLIER_EACH, budget))
        budget -= len(piece)
        earlier.append((n, piece))
    skipped: tuple[tuple[int, str], ...] = ()
    if BY_NUMBER[section].reads_skips:
        skipped = tuple(
            (n, s.justification or "")
            for n, s in sorted(etp.sections.items())
            if s.status == "skipped" and n != section
        )
    ident = etp.identification
    # a redo shows the model the text it is to replace, so that it writes another
    previous = (entry.draft or "") if attempt > 1 else ""
    return DraftContext(
        section=section,
        attempt=attempt,
        objeto=ident.objeto or etp.title,
        processo=ident.processo,
        orgao=ident.orgao,
        answers=tuple(_answers(etp, section)),
        earlier=tuple(earlier),
        gaps=tuple(entry.gaps),
        unidade=ident.unidade,
        date=today.strftime("%d/%m/%Y") if today else "",
        mandatory=tuple(sorted(MANDATORY)),
        depends=tuple(depends),
        skipped=skipped,
        previous=previous,
        instruction=instruction,
        verdict=entry.verdict.value if entry.verdict is not None else "",
        facts=section_facts(etp, section, today),
    )
