"""What the conversation shows: the prompt for where it stands, and the buttons of each view."""

from __future__ import annotations

from collections.abc import Sequence

from conversations.catalogue import messages as m
from conversations.catalogue import pricing as pt
from conversations.catalogue.sections import BY_NUMBER, VERDICT_QUESTION, SectionSpec, Verdict
from conversations.export import FORMATS
from conversations.flow import prices
from conversations.flow.state import Turn
from conversations.model import Mode, Pendencia, SectionEntry, SectionStatus, Step
from conversations.replies import Button, Text, TextRequest


def draft_ref(entry: SectionEntry) -> str:
    """Which draft of which section a button is about: "3.2" (section III, second draft)."""
    return f"{entry.number}.{entry.draft_attempt}"


def section_header(spec: SectionSpec) -> str:
    return m.SECTION_HEADER.format(n=spec.number, title=spec.title)


def formats() -> str:
    return "|".join(FORMATS)


def export_buttons() -> tuple[Button, ...]:
    return tuple(
        Button(m.BTN_EXPORT.format(fmt=f.upper()), f"/exportar {f}") for f in FORMATS if f != "json"
    )


def verdict_buttons() -> tuple[Button, ...]:
    """The three conclusions the team chooses among (section XIII)."""
    return tuple(Button(m.BTN_VERDICT[v], f"/conclusao {v.value}") for v in Verdict)


def law_button(spec: SectionSpec) -> Button:
    return Button(m.BTN_LAW, f"/lei {spec.number}")


def law_text(spec: SectionSpec) -> str:
    """What art. 18 asks of the section, in the statute's words, and whether it may be left out."""
    return m.LAW_TEXT.format(
        n=spec.number,
        title=spec.title,
        roman=spec.roman,
        statute=spec.statute,
        rule=m.LAW_MANDATORY if spec.mandatory else m.LAW_OPTIONAL,
    )


def pendencias_text(items: Sequence[Pendencia]) -> str:
    """The open items, one a line, each with where it is."""
    lines = []
    for item in items:
        if item.section is None:
            where = m.PENDING_IDENT
        else:
            where = m.PENDING_SECTION.format(n=item.section, title=BY_NUMBER[item.section].title)
        lines.append(m.PENDING_LINE.format(where=where, what=item.what))
    return "\n".join(lines)


def skip_buttons(spec: SectionSpec, entry: SectionEntry) -> tuple[Button, ...]:
    """Pular, where a section may be skipped: optional, and without an accepted text."""
    if spec.mandatory or entry.accepted_text is not None:
        return ()
    return (Button(m.BTN_SKIP, "/pular"),)


def review_buttons(spec: SectionSpec, entry: SectionEntry, *, failed: bool) -> tuple[Button, ...]:
    """The buttons under a draft (or an accepted text), or under a draft that failed."""
    redo = Button(m.BTN_REDO, "/refazer", draft_ref(entry))
    if failed:
        return (redo, *skip_buttons(spec, entry))
    return (
        Button(m.BTN_ACCEPT, "/aceitar", draft_ref(entry)),
        Button(m.BTN_EDIT, "/editar"),
        redo,
        *skip_buttons(spec, entry),
    )


def prompt(t: Turn) -> None:
    """Say what the conversation waits for now."""
    conv, etp = t.conv, t.etp
    if etp is None or conv.step == Step.IDLE:
        t.out.say(m.NO_ACTIVE_ETP)
        return
    if conv.step == Step.IDENT:
        spec_f = m.IDENT_BY_KEY[conv.field or m.IDENT_FIELDS[0].key]
        header = m.IDENT_HEADER.format(label=spec_f.label)
        current = etp.identification.value(spec_f.key)
        text = f"{header}\n{spec_f.question}"
        if current:
            text += f"\n(Atual: {current})"
        buttons: tuple[Button, ...] = (Button(m.BTN_SKIP, "/pular"),) if spec_f.optional else ()
        if spec_f.key == "equipe" and current:
            buttons = (Button(m.BTN_TEAM_DONE, "/aceitar"),)
        t.out.say(text, *buttons, expects_text=True)
        return
    if conv.step == Step.DONE or conv.section is None:
        t.out.say(m.ALL_DONE_REVIEW, *export_buttons())
        return
    spec = BY_NUMBER[conv.section]
    entry = etp.section(spec.number)
    header = section_header(spec)
    if conv.mode == Mode.JUSTIFY:
        t.out.replies.append(
            Text(
                m.SKIP_ASK_JUSTIFICATION.format(n=spec.number, title=spec.title),
                expects_text=True,
                request=TextRequest("/pular"),
            )
        )
    elif conv.mode == Mode.FOLLOWUP:
        check = next((c for c in spec.checks if c.id == conv.check), spec.checks[0])
        t.out.say(
            m.FOLLOW_UP.format(header=header, question=check.follow_up),
            Button(m.BTN_ACCEPT, "/aceitar"),
            expects_text=True,
        )
    elif conv.mode == Mode.PRICES:
        if prices.show(t):
            # all the research needs is given: its draft is next (/refazer writes it)
            t.out.say(f"{header}\n{prices.summary(t)}", Button(m.BTN_REDO, "/refazer"))
    elif conv.mode == Mode.QUANTITY:
        t.out.say(
            f"{header}\n{pt.QUANTITY_IN_IV}", Button(m.BTN_ACCEPT, "/aceitar"), expects_text=True
        )
    elif conv.mode == Mode.DRAFTING:
        redo = Button(m.BTN_REDO, "/refazer", draft_ref(entry))
        t.out.say(f"{header}\n{m.DRAFT_IN_PROGRESS}", redo)
    elif conv.mode == Mode.REVIEW:
        if entry.draft:
            t.out.say(
                m.DRAFT_READY.format(header=header, text=entry.draft),
                *review_buttons(spec, entry, failed=False),
            )
        elif entry.accepted_text is not None:
            author = entry.accepted_by.name if entry.accepted_by else "—"
            t.out.say(
                m.SECTION_ACCEPTED_VIEW.format(
                    header=header, author=author, text=entry.accepted_text
                ),
                *review_buttons(spec, entry, failed=False),
            )
            if spec.verdict and entry.verdict is None:
                # accepted before the conclusion was a choice: ask for it
                t.out.say(m.VERDICT_MISSING, *verdict_buttons())
        else:
            t.out.say(f"{header}\n{m.DRAFT_FAILED}", *review_buttons(spec, entry, failed=True))
    else:
        if entry.status == SectionStatus.SKIPPED:
            author = entry.justified_by.name if entry.justified_by else "—"
            t.out.say(
                m.SECTION_SKIPPED_VIEW.format(
                    header=header, author=author, text=entry.justification or ""
                )
            )
        index = min(entry.next_question(), len(spec.questions) - 1)
        if spec.verdict and index == VERDICT_QUESTION:
            t.out.say(
                m.VERDICT_ASK.format(header=header),
                *verdict_buttons(),
                law_button(spec),
                expects_text=True,
            )
            return
        note = m.SECTION_MANDATORY if spec.mandatory else m.SECTION_OPTIONAL
        text = m.QUESTION.format(
            header=f"{header} {note}",
            i=index + 1,
            total=len(spec.questions),
            question=spec.questions[index].text,
        )
        t.out.say(text, *skip_buttons(spec, entry), law_button(spec), expects_text=True)
