"""The command handlers, each registered against its command of `conversations.commands`."""

from __future__ import annotations

from collections.abc import Callable

from conversations.catalogue import messages as m
from conversations.catalogue import pricing as pt
from conversations.catalogue.in58 import IN58_MANDATORY
from conversations.catalogue.sections import BY_NUMBER, SECTIONS, verdict_choice
from conversations.commands import BY_NAME, help_text
from conversations.export import (
    DEFAULT_FORMAT,
    FORMATS,
    ORDER_IN58,
    ORDER_WORDS,
    build_document,
    resolve_order,
)
from conversations.flow import prices
from conversations.flow.identification import KEYS, after_ident_field, enter_ident
from conversations.flow.presentation import (
    draft_ref,
    export_buttons,
    formats,
    law_text,
    pendencias_text,
    prompt,
    verdict_buttons,
)
from conversations.flow.sections import (
    accept_text,
    advance,
    enter_section,
    insist,
    request_draft,
    research_step,
    set_verdict,
    skip,
    start_draft,
)
from conversations.flow.state import Turn
from conversations.flow.text import MAX_TITLE, InputError, clean, parse_int
from conversations.model import PRICE_SECTION, QUANTITY_SECTION, Etp, Mode, SectionStatus, Step
from conversations.ports import AuditEntry
from conversations.pricing import PriceInputError, parse_quantity, table_text
from conversations.replies import Button, Export, Text, TextRequest

# the identification fields a section may not start without
REQUIRED_IDENT = tuple(f for f in m.IDENT_FIELDS if not f.optional)

Handler = Callable[[Turn, str], None]  # (the turn, the command's arguments)
HANDLERS: dict[str, Handler] = {}

MAX_REDO_INSTRUCTION = 300  # characters of a /refazer instruction


def handles(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of command `name`."""
    if name not in BY_NAME:
        raise KeyError(f"no command {name!r} in conversations.commands")

    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def resume_number(args: str) -> int | None:
    """The ETP number of /retomar's arguments: "12", "nº 12", "#12"."""
    return parse_int(args.lstrip("nº#").strip())


@handles("start")
def start(t: Turn, args: str) -> None:
    t.out.say(m.WELCOME.format(name=t.ctx.inbound.author.display_name))
    if t.etp is not None:
        t.out.say(m.RESUMING.format(id=t.etp.id, title=t.etp.title))
        entry = t.entry()
        if (
            t.conv.mode == Mode.DRAFTING
            and entry is not None
            and entry.status == SectionStatus.DRAFTING
        ):
            # a draft job may have died with the previous process: submit the same job again
            # (same attempt, same job id: a queue that still holds it keeps one)
            request_draft(t, entry.number, entry.draft_attempt)
            return
        prompt(t)


@handles("help")
def help_(t: Turn, args: str) -> None:
    t.out.say(help_text(formats()))


@handles("new")
def new(t: Turn, args: str) -> None:
    candidate = t.ctx.candidate
    if not clean(args):
        # an ETP without a title lists as "nº 1 — " for ever: ask for it, create nothing
        t.out.replies.append(Text(m.NEW_ASK_TITLE, request=TextRequest("/novo")))
        return
    if candidate is None:
        raise InputError(m.TEXT_TOO_LONG.format(size=len(args), limit=MAX_TITLE))
    t.etp = candidate
    t.conv.etp_id = candidate.id
    t.out.audits.append(AuditEntry("etp.created", {"title": candidate.title}))
    t.out.say(m.CREATED.format(id=candidate.id, title=candidate.title))
    enter_ident(t, KEYS[0])


@handles("list")
def list_(t: Turn, args: str) -> None:
    listing = t.ctx.listing or []
    if not listing:
        t.out.say(m.LIST_EMPTY)
        return
    lines = [m.LIST_HEADER]
    for item in listing:
        lines.append(
            m.LIST_ITEM.format(
                id=item.id,
                title=item.title or m.UNTITLED,
                done=item.done,
                status=m.STATUS_LABELS.get(item.status, item.status),
            )
        )
    buttons = [Button(m.BTN_RESUME.format(id=i.id), f"/retomar {i.id}") for i in listing[:5]]
    t.out.say("\n".join(lines), *buttons)


@handles("resume")
def resume(t: Turn, args: str) -> None:
    number = resume_number(args)
    if number is None:
        raise InputError(m.RESUME_USAGE)
    etp = t.ctx.candidate
    address = t.ctx.inbound.address
    if etp is None or not address.reaches(etp.shared_key, etp.owner_id, t.ctx.person_id):
        raise InputError(m.RESUME_NOT_FOUND.format(id=number))
    t.etp = etp
    t.conv.etp_id = etp.id
    t.out.say(m.RESUMING.format(id=etp.id, title=etp.title))
    goto_first_open(t)


def goto_first_open(t: Turn) -> None:
    etp = t.require_etp()
    for spec in m.IDENT_FIELDS:
        if not spec.optional and not etp.identification.value(spec.key):
            enter_ident(t, spec.key)
            return
    for section in SECTIONS:
        if not etp.section(section.number).done:
            enter_section(t, section.number)
            return
    t.conv.step, t.conv.section, t.conv.mode = Step.DONE, None, None
    t.out.say(m.ALL_DONE_REVIEW, *export_buttons())


@handles("status")
def status(t: Turn, args: str) -> None:
    etp = t.require_etp()
    lines = [
        m.STATUS_HEADER.format(
            id=etp.id, title=etp.title, status=m.STATUS_LABELS.get(etp.status, etp.status)
        )
    ]
    ident_state = m.STATUS_IDENT_DONE if etp.ident_complete() else m.STATUS_IDENT_PENDING
    lines.append(m.STATUS_IDENT.format(state=ident_state))
    for spec in SECTIONS:
        entry = etp.section(spec.number)
        names = entry.author_names()
        mark = "✅" if entry.done else ("⏳" if entry.status != SectionStatus.PENDING else "⬜")
        lines.append(
            m.STATUS_LINE.format(
                mark=mark,
                n=spec.number,
                title=spec.title,
                mandatory=f" {m.SECTION_MANDATORY}" if spec.mandatory else "",
                state=m.STATUS_STATES[entry.display_status],
                authors=m.STATUS_BY.format(names=", ".join(names)) if names else "",
            )
        )
        if entry.gaps and entry.done:
            lines.append(m.STATUS_GAPS.format(gaps="; ".join(entry.gaps)))
    if etp.verdict is not None:
        lines.append(m.STATUS_VERDICT.format(verdict=m.VERDICT_LABELS[etp.verdict]))
    open_items = etp.pendencias()
    if etp.complete() and open_items:
        lines.append(m.STATUS_PENDING_HEADER)
        lines.append(pendencias_text(open_items))
    if etp.llm_tokens:
        tokens = f"{etp.llm_tokens:,}".replace(",", ".")
        cost = f"{etp.llm_cost_usd:.4f}".replace(".", ",")
        lines.append(m.STATUS_LLM.format(tokens=tokens, cost=cost))
    t.out.say("\n".join(lines))


@handles("section")
def section(t: Turn, args: str) -> None:
    t.require_etp()
    number = parse_int(args)
    if number is None:
        raise InputError(m.SECTION_USAGE)
    if number not in BY_NUMBER:
        raise InputError(m.SECTION_OUT_OF_RANGE.format(n=number))
    goto_section(t, number)


def goto_section(t: Turn, number: int) -> None:
    """Enter section `number`, once the identification's required fields are given."""
    missing = next(
        (f for f in REQUIRED_IDENT if not t.require_etp().identification.value(f.key)), None
    )
    if missing is not None:
        raise InputError(m.SECTION_IN_IDENT.format(label=missing.label))
    enter_section(t, number)


@handles("prices")
def prices_(t: Turn, args: str) -> None:
    """/precos [ação]: the price research of section VI (see pricing and flow.prices)."""
    etp = t.require_etp()
    here = t.conv.step == Step.SECTION and t.conv.section == PRICE_SECTION
    if not here:
        if args.strip():
            raise InputError(pt.NOT_IN_RESEARCH)
        goto_section(t, PRICE_SECTION)
        return
    entry = etp.section(PRICE_SECTION)
    if t.conv.mode == Mode.DRAFTING:
        if args.strip():
            raise InputError(m.DRAFT_IN_PROGRESS)
        t.out.say(table_text(etp.research(), t.ctx.now.date()))
        return
    if t.conv.mode == Mode.REVIEW and not args.strip():
        t.out.say(table_text(etp.research(), t.ctx.now.date()))
        return
    written = t.conv.mode == Mode.REVIEW and (entry.accepted_text is not None or entry.draft)
    prices.research_command(t, args)
    if written:
        # the text on screen was written from the figures just changed
        research = etp.research()
        research.stale = research.stale or entry.accepted_text is not None
        prices.save(t, research)
        entry.draft = None
    research_step(t, PRICE_SECTION)


@handles("quantity")
def quantity(t: Turn, args: str) -> None:
    """/quantidade 150 resmas: section IV's total quantity; the estimate's total follows."""
    t.require_etp()
    try:
        amount = parse_quantity(args)
    except PriceInputError as error:
        raise InputError(str(error)) from None
    prices.set_quantity(t, amount)
    if t.conv.step == Step.SECTION and t.conv.mode == Mode.QUANTITY:
        start_draft(t, t.conv.section or QUANTITY_SECTION)
    elif t.conv.step == Step.SECTION and t.conv.mode == Mode.PRICES:
        research_step(t, PRICE_SECTION)


@handles("law")
def law(t: Turn, args: str) -> None:
    number = (
        parse_int(args)
        if args.strip()
        else (t.conv.section if t.etp is not None and t.conv.step == Step.SECTION else None)
    )
    if number is None or number not in BY_NUMBER:
        raise InputError(m.LAW_USAGE)
    t.out.say(law_text(BY_NUMBER[number]))


@handles("verdict")
def verdict(t: Turn, args: str) -> None:
    etp = t.require_etp()
    spec = next(s for s in SECTIONS if s.verdict)
    if t.conv.step != Step.SECTION or t.conv.section != spec.number:
        raise InputError(m.VERDICT_ELSEWHERE)
    if t.conv.mode in (Mode.DRAFTING, Mode.JUSTIFY):
        raise InputError(
            m.DRAFT_IN_PROGRESS if t.conv.mode == Mode.DRAFTING else m.VERDICT_ELSEWHERE
        )
    choice = verdict_choice(args.strip())
    if choice is None:
        t.out.say(m.VERDICT_USAGE, *verdict_buttons())
        return
    if etp.section(spec.number).verdict == choice and t.conv.mode == Mode.REVIEW:
        t.out.say(m.VERDICT_SET.format(verdict=m.VERDICT_LABELS[choice]))
        return
    set_verdict(t, spec.number, choice)


@handles("back")
def back(t: Turn, args: str) -> None:
    t.require_etp()
    if t.conv.step == Step.IDENT:
        index = KEYS.index(t.conv.field or KEYS[0])
        if index == 0:
            raise InputError(m.BACK_AT_START)
        enter_ident(t, KEYS[index - 1])
    elif t.conv.step == Step.SECTION:
        number = t.conv.section or SECTIONS[0].number
        if number == SECTIONS[0].number:
            enter_ident(t, KEYS[-1])
        else:
            enter_section(t, number - 1)
    elif t.conv.step == Step.DONE:
        enter_section(t, SECTIONS[-1].number)
    else:
        raise InputError(m.BACK_AT_START)


@handles("skip")
def skip_(t: Turn, args: str) -> None:
    etp = t.require_etp()
    if t.conv.step == Step.IDENT:
        field_spec = m.IDENT_BY_KEY[t.conv.field or KEYS[0]]
        if not field_spec.optional:
            raise InputError(m.SKIP_NOTHING)
        setattr(etp.identification, field_spec.key, "")
        etp.touch()
        after_ident_field(t, field_spec.key)
        return
    if t.conv.step != Step.SECTION or t.conv.section is None:
        raise InputError(m.SKIP_NOTHING)
    spec = BY_NUMBER[t.conv.section]
    entry = etp.section(spec.number)
    if spec.mandatory:
        raise InputError(m.SKIP_MANDATORY.format(n=spec.number, title=spec.title))
    if spec.number in IN58_MANDATORY and document_order(t, etp) == ORDER_IN58:
        raise InputError(m.SKIP_MANDATORY_IN58.format(roman=spec.roman, title=spec.title))
    if entry.accepted_text is not None:
        raise InputError(m.SKIP_ACCEPTED.format(n=spec.number))
    justification = clean(args)
    if not justification:
        if t.conv.mode != Mode.JUSTIFY:
            t.conv.return_mode = t.conv.mode
        t.conv.mode = Mode.JUSTIFY
        prompt(t)
        return
    skip(t, spec, justification)


@handles("accept")
def accept(t: Turn, args: str) -> None:
    etp = t.require_etp()
    refuse_stale_press(t, etp)
    if t.conv.step == Step.IDENT and t.conv.field == "equipe":
        if not etp.identification.equipe:
            raise InputError(m.IDENT_TEAM_EMPTY)
        after_ident_field(t, "equipe")
        return
    if t.conv.step != Step.SECTION or t.conv.section is None:
        raise InputError(m.NOTHING_TO_ACCEPT)
    spec = BY_NUMBER[t.conv.section]
    entry = etp.section(spec.number)
    if t.conv.mode == Mode.FOLLOWUP:
        insist(t)
        return
    if t.conv.mode == Mode.QUANTITY:
        # drafted without the quantity as data: section VI asks for it before its total
        start_draft(t, spec.number)
        return
    if t.conv.mode == Mode.DRAFTING:
        raise InputError(m.DRAFT_IN_PROGRESS)
    if t.conv.mode == Mode.REVIEW and entry.draft:
        accept_text(t, spec, entry.draft, "accepted")
        t.out.say(m.ACCEPTED.format(n=spec.number))
        advance(t)
        return
    if t.conv.mode == Mode.REVIEW and entry.accepted_text is not None:
        t.out.say(m.KEPT.format(n=spec.number))
        advance(t)
        return
    raise InputError(m.NOTHING_TO_ACCEPT)


@handles("redo")
def redo(t: Turn, args: str) -> None:
    etp = t.require_etp()
    refuse_stale_press(t, etp)
    if t.conv.step != Step.SECTION or t.conv.section is None:
        raise InputError(m.REDO_NOTHING)
    entry = etp.section(t.conv.section)
    # "/refazer mais conciso": what the new draft should do differently
    instruction = " ".join(clean(args).split())
    if len(instruction) > MAX_REDO_INSTRUCTION:
        raise InputError(
            m.REDO_INSTRUCTION_TOO_LONG.format(length=len(instruction), limit=MAX_REDO_INSTRUCTION)
        )
    if not entry.answers and not (BY_NUMBER[entry.number].prices and etp.research().closed):
        t.out.say(m.REDO_NOTHING)
        enter_section(t, entry.number)
        return
    start_draft(t, entry.number, instruction)


def refuse_stale_press(t: Turn, etp: Etp) -> None:
    """A press on a button about a draft that is no longer the current one (an old message,
    or a second member of a group pressing late) changes nothing."""
    context = t.ctx.inbound.context
    if not context:
        return
    number = t.conv.section if t.conv.step == Step.SECTION else None
    if number is None or context != draft_ref(etp.section(number)):
        raise InputError(m.BUTTON_STALE)


@handles("edit")
def edit(t: Turn, args: str) -> None:
    etp = t.require_etp()
    if t.conv.step != Step.SECTION or t.conv.section is None:
        raise InputError(m.EDIT_NOTHING)
    spec = BY_NUMBER[t.conv.section]
    entry = etp.section(spec.number)
    text = clean(args)
    if not text:
        current = entry.draft or entry.accepted_text
        if not current:
            raise InputError(m.EDIT_NOTHING)
        t.out.replies.append(
            Text(
                m.EDIT_USAGE.format(text=current),
                expects_text=True,
                request=TextRequest("/editar", current),
            )
        )
        return
    accept_text(t, spec, text, "edited")
    t.out.say(m.EDITED.format(n=spec.number))
    advance(t)


def document_order(t: Turn, etp: Etp, requested: str | None = None) -> str:
    """The order of this ETP's document: asked for, else the ETP's, else the installation's."""
    return resolve_order(etp, requested, t.ctx.document_order)


@handles("export")
def export(t: Turn, args: str) -> None:
    etp = t.require_etp()
    fmt, order = DEFAULT_FORMAT, None
    for word in args.lower().split():
        word = word.lstrip(".")
        if word in FORMATS:
            fmt = word
        elif word in ORDER_WORDS:
            order = ORDER_WORDS[word]
        else:
            raise InputError(m.EXPORT_UNKNOWN.format(fmt=word, formats="|".join(FORMATS)))
    document = build_document(etp, order=document_order(t, etp, order), now=t.ctx.now)
    note = "" if document.complete else m.EXPORT_INCOMPLETE_NOTE
    caption = m.EXPORT_READY.format(id=etp.id, fmt=fmt.upper(), incomplete=note)
    t.out.replies.append(Export(document, fmt, caption))  # rendered by the service
    t.out.audits.append(AuditEntry("etp.exported", {"format": fmt, "order": document.order}))


@handles("order")
def order(t: Turn, args: str) -> None:
    etp = t.require_etp()
    word = args.strip().lower()
    if not word:
        chosen = etp.identification.document_order
        current = document_order(t, etp)
        source = "" if chosen else m.ORDER_DEFAULT_SOURCE
        t.out.say(m.ORDER_CURRENT.format(order=m.ORDER_NAMES[current], source=source))
        return
    if word not in ORDER_WORDS:
        raise InputError(m.ORDER_USAGE.format(order=args.strip()[:40]))
    etp.identification.document_order = ORDER_WORDS[word]
    etp.touch()
    t.out.audits.append(AuditEntry("etp.order", {"order": ORDER_WORDS[word]}))
    t.out.say(m.ORDER_SET.format(order=m.ORDER_NAMES[ORDER_WORDS[word]]))


@handles("cancel")
def cancel(t: Turn, args: str) -> None:
    etp = t.require_etp()
    if t.conv.mode == Mode.JUSTIFY:
        t.conv.mode = t.conv.return_mode or Mode.ASKING
        t.conv.return_mode = None
        t.out.say(m.CANCELLED_PENDING)
        prompt(t)
        return
    t.out.say(m.DETACHED.format(id=etp.id))
    t.conv.etp_id = None
    t.conv.step, t.conv.field, t.conv.section = Step.IDLE, None, None
    t.conv.mode = t.conv.check = t.conv.return_mode = None
    t.etp = None
