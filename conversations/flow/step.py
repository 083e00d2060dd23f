"""The two entry points: `step` an event, `apply_draft` a finished draft; and `needs`."""

from __future__ import annotations

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER
from conversations.commands import BY_NAME
from conversations.events import Inbound
from conversations.flow.handlers import HANDLERS, resume_number, start
from conversations.flow.identification import ident_answer
from conversations.flow.presentation import (
    export_buttons,
    review_buttons,
    section_header,
)
from conversations.flow.sections import section_text
from conversations.flow.state import Needs, Outcome, StepContext, Turn
from conversations.flow.text import MAX_TEXT, MAX_TITLE, InputError, clean, clean_text
from conversations.model import ConversationState, Etp, Mode, SectionStatus, Step
from conversations.ports import Draft, DraftRequest
from conversations.replies import Button, Reply, Text


def needs(inbound: Inbound) -> Needs:
    """What the service must load before stepping `inbound`."""
    if inbound.kind not in ("command", "action"):
        return Needs()
    if inbound.command == "list":
        return Needs(listing=True)
    if inbound.command == "resume":
        number = resume_number(inbound.args)
        return Needs(etp_id=number) if number is not None else Needs(listing=True)
    if inbound.command == "new":
        title = clean(inbound.args)
        # no title: the handler asks for one, and nothing is created
        if title and len(title) <= MAX_TITLE and len(inbound.text) <= MAX_TEXT:
            return Needs(create_title=title)
    return Needs()


def step(ctx: StepContext) -> Outcome:
    """Run one event through the flow. Raises InputError (with the reply) when it refuses."""
    t = Turn(ctx)
    inbound = ctx.inbound
    try:
        if len(inbound.text) > MAX_TEXT or len(inbound.args) > MAX_TEXT:
            raise InputError(
                m.TEXT_TOO_LONG.format(
                    size=max(len(inbound.text), len(inbound.args)), limit=MAX_TEXT
                )
            )
        if inbound.kind == "start":
            start(t, "")
        elif inbound.kind in ("command", "action"):
            _command(t, inbound.command or "", inbound.args)
        else:
            _text(t, clean_text(inbound.text))
    except InputError as refusal:
        t.out.replies = [Text(str(refusal))]
        t.out.drafts.clear()
        t.out.instructions.clear()
        t.out.revisions.clear()
        t.out.audits.clear()
        raise
    t.out.etp = t.etp
    return t.out


def _command(t: Turn, name: str, args: str) -> None:
    command = BY_NAME.get(name)
    if command is None:
        raise InputError(m.UNKNOWN_COMMAND.format(command=name))
    if command.needs_etp:
        t.require_etp()
    HANDLERS[command.name](t, args)


def _text(t: Turn, text: str) -> None:
    if t.etp is None or t.conv.step == Step.IDLE:
        raise InputError(m.NO_ACTIVE_ETP)
    if t.conv.step == Step.IDENT:
        ident_answer(t, text)
    elif t.conv.step == Step.SECTION and t.conv.section is not None:
        section_text(t, t.conv.section, text)
    else:
        t.out.say(m.ALL_DONE_REVIEW, *export_buttons())


def apply_draft(
    conv: ConversationState, etp: Etp, request: DraftRequest, draft: Draft | None
) -> list[Reply]:
    """Store a finished draft (or its failure) if it is still the one awaited; say so."""
    entry = etp.section(request.section)
    if entry.draft_attempt != request.attempt or entry.status != SectionStatus.DRAFTING:
        return []  # a newer request superseded this one, or it was already applied
    spec = BY_NUMBER[request.section]
    here = conv.etp_id == etp.id and conv.step == Step.SECTION and conv.section == request.section
    if here:
        conv.mode = Mode.REVIEW
    etp.touch(request.section)
    header = section_header(spec)
    if draft is None:
        entry.status = SectionStatus.ANSWERING
        entry.draft = None
        return [
            Text(
                f"{header}\n{m.DRAFT_FAILED}",
                review_buttons(spec, entry, failed=True),
                replaces=request.job_id,
            )
        ]
    entry.status = SectionStatus.DRAFTED
    entry.draft = draft.text
    text = m.DRAFT_READY.format(header=header, text=draft.text)
    if draft.note:
        text = f"{draft.note}\n{text}"
    buttons = review_buttons(spec, entry, failed=False)
    if not here:
        text = m.DRAFT_READY_ELSEWHERE.format(title=spec.title, n=spec.number)
        buttons = (Button(m.BTN_GOTO.format(n=spec.number), f"/secao {spec.number}"),)
    return [Text(text, buttons, replaces=request.job_id)]
