"""A section's course: answers, follow-ups, the draft, then accepted, edited or skipped."""

from __future__ import annotations

import re

from conversations.catalogue import messages as m
from conversations.catalogue.sections import (
    BY_NUMBER,
    SECTIONS,
    VERDICT_QUESTION,
    SectionSpec,
    Verdict,
    failed_checks,
    verdict_choice,
)
from conversations.flow import prices
from conversations.flow.presentation import (
    export_buttons,
    pendencias_text,
    prompt,
    verdict_buttons,
)
from conversations.flow.state import PendingRevision, Turn
from conversations.flow.text import MAX_ANSWERS, InputError
from conversations.model import ETP_CONCLUDED, VERDICT_CHOICE, Answer, Mode, SectionStatus, Step
from conversations.ports import AuditEntry, DraftRequest
from conversations.pricing import PriceInputError, parse_quantity
from conversations.replies import DraftingStarted


def enter_section(t: Turn, number: int) -> None:
    etp = t.require_etp()
    entry = etp.section(number)
    t.conv.step, t.conv.section, t.conv.field = Step.SECTION, number, None
    t.conv.check = t.conv.return_mode = None
    if entry.status == SectionStatus.DRAFTING:
        t.conv.mode = Mode.DRAFTING
    elif entry.draft or entry.accepted_text is not None:
        t.conv.mode = Mode.REVIEW
    elif BY_NUMBER[number].prices:
        research_step(t, number)
        return
    elif entry.answers and entry.next_question() >= len(BY_NUMBER[number].questions):
        after_answers(t, number)
        return
    else:
        t.conv.mode = Mode.ASKING
    prompt(t)


def section_text(t: Turn, number: int, text: str) -> None:
    """Free text in a section: a justification, a complement to a draft, or an answer."""
    etp = t.require_etp()
    spec = BY_NUMBER[number]
    entry = etp.section(number)
    mode = t.conv.mode
    if mode == Mode.JUSTIFY:
        skip(t, spec, text)
        return
    if spec.prices and mode in (Mode.ASKING, Mode.FOLLOWUP, None):
        mode = Mode.PRICES  # a conversation stored before the research was data
    if mode == Mode.PRICES:
        prices.research_text(t, text)
        research_step(t, number)
        return
    if mode == Mode.QUANTITY:
        try:
            quantity = parse_quantity(text)
        except PriceInputError as error:
            raise InputError(str(error)) from None
        prices.set_quantity(t, quantity)
        start_draft(t, number)
        return
    if len(entry.answers) >= MAX_ANSWERS:
        raise InputError(m.SECTION_ANSWERS_FULL.format(limit=MAX_ANSWERS))
    if mode in (Mode.DRAFTING, Mode.REVIEW):
        entry.answers.append(Answer(-1, text, t.author, t.ctx.now.isoformat()))
        etp.touch(number)
        t.out.say(m.COMPLEMENT_ADDED)
        start_draft(t, number)
        return
    if mode == Mode.FOLLOWUP:
        check = next((c for c in spec.checks if c.id == t.conv.check), None)
        # filed under the question the follow-up asked about, so the draft labels it as such
        about = check.question if check is not None else -1
        entry.answers.append(Answer(about, text, t.author, t.ctx.now.isoformat()))
        etp.touch(number)
        if check is not None and not check.test(entry.answer_text()):
            t.out.say(m.GAP_RECORDED.format(gap=check.gap))
        after_answers(t, number, after=t.conv.check)
        return
    question = entry.next_question()
    if spec.verdict and question == VERDICT_QUESTION:
        choice = verdict_choice(text)
        if choice is None:
            # the conclusion is the team's choice, never read out of a sentence
            t.out.say(m.VERDICT_NOT_A_CHOICE, *verdict_buttons(), expects_text=True)
            return
        set_verdict(t, number, choice)
        return
    if question >= len(spec.questions):
        entry.answers.append(Answer(-1, text, t.author, t.ctx.now.isoformat()))
    else:
        entry.answers.append(Answer(question, text, t.author, t.ctx.now.isoformat()))
    if entry.status == SectionStatus.PENDING and entry.accepted_text is None:
        entry.status = SectionStatus.ANSWERING
    etp.touch(number)
    t.out.audits.append(AuditEntry("section.answered", {"section": number, "question": question}))
    if entry.next_question() < len(spec.questions):
        t.conv.mode = Mode.ASKING
        prompt(t)
    else:
        after_answers(t, number)


def set_verdict(t: Turn, number: int, choice: Verdict) -> None:
    """Record the team's conclusion; then its reasons are asked, or (all answered) it is
    drafted again, so that the draft's closing sentence states the choice now made."""
    etp = t.require_etp()
    entry = etp.section(number)
    entry.verdict = choice
    label = m.VERDICT_LABELS[choice]
    entry.answers.append(Answer(VERDICT_CHOICE, label, t.author, t.ctx.now.isoformat()))
    if entry.status == SectionStatus.PENDING and entry.accepted_text is None:
        entry.status = SectionStatus.ANSWERING
    etp.touch(number)
    t.out.audits.append(AuditEntry("section.verdict", {"section": number, "verdict": choice}))
    t.out.say(m.VERDICT_SET.format(verdict=label))
    t.conv.step, t.conv.section, t.conv.field = Step.SECTION, number, None
    t.conv.check = t.conv.return_mode = None
    if entry.next_question() < len(BY_NUMBER[number].questions):
        t.conv.mode = Mode.ASKING
        prompt(t)
    else:
        after_answers(t, number)


MIN_JUSTIFICATION_WORDS = 5
_WORDS = re.compile(r"[^\W\d_]{2,}")


def check_justification(spec: SectionSpec, text: str) -> None:
    """A justification says why the element does not apply: some substance (words, several
    of them different), not a placeholder ("x", "n/a", "não se aplica"). Raises InputError."""
    words = [w.casefold() for w in _WORDS.findall(text[:2_000])]
    if len(words) < MIN_JUSTIFICATION_WORDS or len(set(words)) < 3:
        raise InputError(
            m.SKIP_WEAK_JUSTIFICATION.format(
                n=spec.number, title=spec.title, words=MIN_JUSTIFICATION_WORDS
            )
        )


def after_answers(t: Turn, number: int, after: str | None = None) -> None:
    """All guiding questions answered: ask the next failed check's follow-up, or draft."""
    etp = t.require_etp()
    spec = BY_NUMBER[number]
    text = etp.section(number).answer_text()
    ids = [c.id for c in spec.checks]
    start = ids.index(after) + 1 if after in ids else 0
    for check in spec.checks[start:]:
        if not check.test(text):
            t.conv.mode, t.conv.check = Mode.FOLLOWUP, check.id
            prompt(t)
            return
    if spec.quantity and etp.quantity() is None:
        ask_quantity(t, number)
        return
    start_draft(t, number)


def ask_quantity(t: Turn, number: int) -> None:
    """Section IV's total quantity as data, for the estimate of section VI: taken from the
    first answer when that answer is just a quantity ("120 resmas"), else asked for."""
    etp = t.require_etp()
    first = next((a.text for a in etp.section(number).answers if a.question == 0), "")
    try:
        quantity = parse_quantity(first)
    except PriceInputError:
        t.conv.mode, t.conv.check = Mode.QUANTITY, None
        prompt(t)
        return
    prices.set_quantity(t, quantity, announce=False)
    start_draft(t, number)


def research_step(t: Turn, number: int) -> None:
    """After a change in the price research: show what it needs next, or draft it."""
    t.conv.mode = Mode.PRICES
    if prices.show(t):
        start_draft(t, number)


def insist(t: Turn) -> None:
    """/aceitar during a follow-up: the answer stands and the gap is recorded."""
    number = t.conv.section or SECTIONS[0].number
    check = next((c for c in BY_NUMBER[number].checks if c.id == t.conv.check), None)
    if check is not None:
        t.out.say(m.GAP_RECORDED.format(gap=check.gap))
    after_answers(t, number, after=t.conv.check)


def start_draft(t: Turn, number: int, instruction: str = "") -> None:
    etp = t.require_etp()
    spec = BY_NUMBER[number]
    entry = etp.section(number)
    if spec.prices:
        entry.gaps = etp.research().gaps()
    else:
        entry.gaps = [c.gap for c in failed_checks(spec, entry.answer_text())]
    entry.draft_attempt += 1
    entry.status = SectionStatus.DRAFTING
    etp.touch(number)
    t.conv.step, t.conv.section, t.conv.mode, t.conv.check = (
        Step.SECTION,
        number,
        Mode.DRAFTING,
        None,
    )
    request_draft(t, number, entry.draft_attempt, instruction)


def request_draft(t: Turn, number: int, attempt: int, instruction: str = "") -> None:
    """Ask the service to run this draft job, and tell the user it is being written."""
    spec = BY_NUMBER[number]
    t.out.drafts.append((number, attempt))
    if instruction:
        t.out.instructions[number] = instruction
    etp_id = t.etp.id if t.etp is not None and t.etp.id is not None else 0
    job_id = DraftRequest(etp_id, number, attempt, t.ctx.inbound.address, "").job_id
    t.out.replies.append(
        DraftingStarted(job_id, m.DRAFTING.format(n=spec.number, title=spec.title))
    )


def accept_text(t: Turn, spec: SectionSpec, text: str, kind: str) -> None:
    """`text` becomes the section's accepted text (`kind`: accepted as drafted, or edited)."""
    etp = t.require_etp()
    entry = etp.section(spec.number)
    entry.accepted_text = text
    entry.accepted_by = t.author
    entry.draft = None
    entry.status = SectionStatus.ACCEPTED
    entry.justification = None
    entry.justified_by = None
    if kind == "edited":
        entry.gaps = []
    if spec.prices and etp.research().stale:
        research = etp.research()
        research.stale = False  # the text now accepted is the one written after the change
        etp.save_research(research)
    etp.touch(spec.number)
    t.out.revisions.append(PendingRevision(spec.number, kind, text, t.author))
    t.out.audits.append(AuditEntry(f"section.{kind}", {"section": spec.number}))


def skip(t: Turn, spec: SectionSpec, justification: str) -> None:
    check_justification(spec, justification)
    etp = t.require_etp()
    entry = etp.section(spec.number)
    entry.status = SectionStatus.SKIPPED
    entry.justification = justification
    entry.justified_by = t.author
    entry.draft = None
    etp.touch(spec.number)
    t.out.revisions.append(PendingRevision(spec.number, "skipped", justification, t.author))
    t.out.audits.append(AuditEntry("section.skipped", {"section": spec.number}))
    t.out.say(m.SKIPPED.format(n=spec.number))
    advance(t)


def advance(t: Turn) -> None:
    """After a section is resolved: conclude the ETP, or go to the next open section."""
    etp = t.require_etp()
    if etp.complete():
        t.conv.step, t.conv.section, t.conv.mode = Step.DONE, None, None
        t.conv.check = t.conv.return_mode = None
        status = etp.completion_status()
        if etp.status != status:
            etp.status = status
            etp.touch()
            open_items = etp.pendencias()
            t.out.audits.append(AuditEntry("etp.concluded", {"pendencias": len(open_items)}))
            if status == ETP_CONCLUDED:
                t.out.say(m.CONCLUDED.format(id=etp.id), *export_buttons())
            else:
                text = m.CONCLUDED_WITH_GAPS.format(
                    id=etp.id, pendencias=pendencias_text(open_items)
                )
                t.out.say(text, *export_buttons())
        else:
            t.out.say(m.ALL_DONE_REVIEW, *export_buttons())
        return
    # the sections after the current one first, then from the start
    current = t.conv.section or 0
    numbers = [s.number for s in SECTIONS]
    for number in [n for n in numbers if n > current] + [n for n in numbers if n <= current]:
        if not etp.section(number).done:
            enter_section(t, number)
            return
