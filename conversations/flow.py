"""The conversation flow: a pure step from (position, ETP, event) to (changes, replies).

No I/O here. The service loads what `needs()` asks for, calls `step()`, saves the result and
hands the requested drafts to the queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER, SECTIONS, SectionSpec, failed_checks
from conversations.events import Inbound, is_known_command
from conversations.export import DEFAULT_FORMAT, FORMATS
from conversations.export.document import build_document
from conversations.model import (
    ETP_CONCLUDED,
    Answer,
    AuthorRef,
    ConversationState,
    Etp,
    EtpSummary,
    SectionEntry,
    TeamMember,
)
from conversations.ports import AuditEntry, Draft, DraftRequest
from conversations.replies import Button, DraftingStarted, Export, Reply, Text, TextRequest

MAX_TEXT = 12_000
MAX_TITLE = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029]")


class InputError(Exception):
    """A user input the flow refuses; the message is the pt-BR reply."""


def clean_text(raw: str) -> str:
    """Strip control characters and surrounding blanks; refuse empty or oversized text."""
    if len(raw) > MAX_TEXT:
        raise InputError(m.TEXT_TOO_LONG.format(size=len(raw), limit=MAX_TEXT))
    text = _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise InputError(m.EMPTY_TEXT)
    return text


@dataclass(frozen=True, slots=True)
class Needs:
    """What the service must load before stepping."""

    listing: bool = False
    etp_id: int | None = None
    create_title: str | None = None


@dataclass(slots=True)
class PendingRevision:
    section: int
    kind: str
    text: str
    author: AuthorRef


@dataclass(slots=True)
class StepContext:
    inbound: Inbound
    conv: ConversationState
    etp: Etp | None
    person_id: int
    now: datetime
    listing: Sequence[EtpSummary] | None = None
    candidate: Etp | None = None


@dataclass(slots=True)
class Outcome:
    replies: list[Reply | Export] = field(default_factory=list)
    etp: Etp | None = None
    drafts: list[tuple[int, int]] = field(default_factory=list)  # (section, attempt)
    revisions: list[PendingRevision] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)

    def say(self, text: str, *buttons: Button, expects_text: bool = False) -> None:
        self.replies.append(Text(text, tuple(buttons), expects_text))


def needs(inbound: Inbound) -> Needs:
    if inbound.kind not in ("command", "action"):
        return Needs()
    if inbound.command == "list":
        return Needs(listing=True)
    if inbound.command == "resume":
        number = _parse_int(inbound.args.lstrip("nº#").strip())
        return Needs(etp_id=number) if number is not None else Needs(listing=True)
    if inbound.command == "new":
        title = _CONTROL.sub("", inbound.args).strip()
        if len(title) <= MAX_TITLE and len(inbound.text) <= MAX_TEXT:
            return Needs(create_title=title)
    return Needs()


def _parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def draft_ref(entry: SectionEntry) -> str:
    """Which draft of which section a button is about: "3.2" (section III, second draft)."""
    return f"{entry.number}.{entry.draft_attempt}"


def section_header(spec: SectionSpec) -> str:
    return m.SECTION_HEADER.format(n=spec.number, title=spec.title)


def _formats() -> str:
    return "|".join(FORMATS)


def _export_buttons() -> tuple[Button, ...]:
    return tuple(
        Button(m.BTN_EXPORT.format(fmt=f.upper()), f"/exportar {f}") for f in FORMATS if f != "json"
    )


class Flow:
    """Steps one conversation. One instance per event; `ctx` and `out` are its working state."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.conv = ctx.conv
        self.etp = ctx.etp
        self.out = Outcome(etp=ctx.etp)
        self.author = AuthorRef(ctx.person_id, ctx.inbound.author.display_name)

    # --- entry points --------------------------------------------------------------------

    def step(self) -> Outcome:
        inbound = self.ctx.inbound
        try:
            if len(inbound.text) > MAX_TEXT or len(inbound.args) > MAX_TEXT:
                raise InputError(
                    m.TEXT_TOO_LONG.format(
                        size=max(len(inbound.text), len(inbound.args)), limit=MAX_TEXT
                    )
                )
            if inbound.kind == "start":
                self._start()
            elif inbound.kind in ("command", "action"):
                self._command(inbound.command or "", inbound.args)
            else:
                self._text(clean_text(inbound.text))
        except InputError as refusal:
            self.out.replies = [Text(str(refusal))]
            self.out.drafts.clear()
            self.out.revisions.clear()
            self.out.audits.clear()
            raise
        self.out.etp = self.etp
        return self.out

    def _start(self) -> None:
        self.out.say(m.WELCOME.format(name=self.ctx.inbound.author.display_name))
        if self.etp is not None:
            self.out.say(m.RESUMING.format(id=self.etp.id, title=self.etp.title))
            entry = self._entry()
            if self.conv.mode == "drafting" and entry is not None and entry.status == "drafting":
                # a draft job may have died with the previous process: submit the same job again
                # (same attempt, same job id: a queue that still holds it keeps one)
                self._request_draft(entry.number, entry.draft_attempt)
                return
            self._prompt()

    # --- commands ------------------------------------------------------------------------

    def _command(self, name: str, args: str) -> None:
        if not is_known_command(name):
            raise InputError(m.UNKNOWN_COMMAND.format(command=name))
        handler: Callable[[str], None] = getattr(self, f"_cmd_{name}")
        handler(args)

    def _cmd_start(self, args: str) -> None:
        self._start()

    def _cmd_help(self, args: str) -> None:
        self.out.say(m.HELP.format(formats=_formats()))

    def _cmd_new(self, args: str) -> None:
        candidate = self.ctx.candidate
        if candidate is None:
            raise InputError(m.TEXT_TOO_LONG.format(size=len(args), limit=MAX_TITLE))
        self.etp = candidate
        self.conv.etp_id = candidate.id
        self.out.audits.append(AuditEntry("etp.created", {"title": candidate.title}))
        self.out.say(m.CREATED.format(id=candidate.id, title=candidate.title or "(sem título)"))
        self._enter_ident("orgao")

    def _cmd_list(self, args: str) -> None:
        listing = self.ctx.listing or []
        if not listing:
            self.out.say(m.LIST_EMPTY)
            return
        lines = [m.LIST_HEADER]
        for item in listing:
            lines.append(
                m.LIST_ITEM.format(
                    id=item.id,
                    title=item.title,
                    done=item.done,
                    status=m.STATUS_LABELS.get(item.status, item.status),
                )
            )
        buttons = [Button(m.BTN_RESUME.format(id=i.id), f"/retomar {i.id}") for i in listing[:5]]
        self.out.say("\n".join(lines), *buttons)

    def _cmd_resume(self, args: str) -> None:
        number = _parse_int(args.lstrip("nº#").strip())
        if number is None:
            raise InputError(m.RESUME_USAGE)
        etp = self.ctx.candidate
        address = self.ctx.inbound.address
        if etp is None or not (etp.owner_id == self.ctx.person_id or etp.shared_key == address.key):
            raise InputError(m.RESUME_NOT_FOUND.format(id=number))
        self.etp = etp
        self.conv.etp_id = etp.id
        self.out.say(m.RESUMING.format(id=etp.id, title=etp.title))
        self._goto_first_open()

    def _cmd_status(self, args: str) -> None:
        etp = self._require_etp()
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
            mark = "✅" if entry.done else ("⏳" if entry.status != "pending" else "⬜")
            lines.append(
                m.STATUS_LINE.format(
                    mark=mark,
                    roman=spec.roman,
                    title=spec.title,
                    mandatory=f" {m.SECTION_MANDATORY}" if spec.mandatory else "",
                    state=m.STATUS_STATES[entry.display_status],
                    authors=m.STATUS_BY.format(names=", ".join(names)) if names else "",
                )
            )
            if entry.gaps and entry.done:
                lines.append(m.STATUS_GAPS.format(gaps="; ".join(entry.gaps)))
        self.out.say("\n".join(lines))

    def _cmd_section(self, args: str) -> None:
        self._require_etp()
        number = _parse_int(args)
        if number is None:
            raise InputError(m.SECTION_USAGE)
        if number not in BY_NUMBER:
            raise InputError(m.SECTION_OUT_OF_RANGE.format(n=number))
        self._enter_section(number)

    def _cmd_back(self, args: str) -> None:
        self._require_etp()
        keys = [f.key for f in m.IDENT_FIELDS]
        if self.conv.step == "ident":
            index = keys.index(self.conv.field or keys[0])
            if index == 0:
                raise InputError(m.BACK_AT_START)
            self._enter_ident(keys[index - 1])
        elif self.conv.step == "section":
            number = self.conv.section or 1
            if number == 1:
                self._enter_ident(keys[-1])
            else:
                self._enter_section(number - 1)
        elif self.conv.step == "done":
            self._enter_section(13)
        else:
            raise InputError(m.BACK_AT_START)

    def _cmd_skip(self, args: str) -> None:
        etp = self._require_etp()
        if self.conv.step == "ident":
            field_spec = m.IDENT_BY_KEY[self.conv.field or "orgao"]
            if not field_spec.optional:
                raise InputError(m.SKIP_NOTHING)
            etp.identification.portaria = ""
            etp.touch()
            self._after_ident_field(field_spec.key)
            return
        if self.conv.step != "section" or self.conv.section is None:
            raise InputError(m.SKIP_NOTHING)
        spec = BY_NUMBER[self.conv.section]
        entry = etp.section(spec.number)
        if spec.mandatory:
            raise InputError(m.SKIP_MANDATORY.format(roman=spec.roman, title=spec.title))
        if entry.accepted_text is not None:
            raise InputError(m.SKIP_ACCEPTED.format(roman=spec.roman))
        justification = _CONTROL.sub("", args).strip()
        if not justification:
            if self.conv.mode != "justify":
                self.conv.return_mode = self.conv.mode
            self.conv.mode = "justify"
            self._prompt()
            return
        self._skip(spec, justification)

    def _cmd_accept(self, args: str) -> None:
        etp = self._require_etp()
        self._refuse_stale_press(etp)
        if self.conv.step == "ident" and self.conv.field == "equipe":
            if not etp.identification.equipe:
                raise InputError(m.IDENT_TEAM_EMPTY)
            self._after_ident_field("equipe")
            return
        if self.conv.step != "section" or self.conv.section is None:
            raise InputError(m.NOTHING_TO_ACCEPT)
        spec = BY_NUMBER[self.conv.section]
        entry = etp.section(spec.number)
        if self.conv.mode == "followup":
            self._insist()
            return
        if self.conv.mode == "drafting":
            raise InputError(m.DRAFT_IN_PROGRESS)
        if self.conv.mode == "review" and entry.draft:
            self._accept_text(spec, entry.draft, "accepted")
            self.out.say(m.ACCEPTED.format(roman=spec.roman))
            self._advance()
            return
        if self.conv.mode == "review" and entry.accepted_text is not None:
            self.out.say(m.KEPT.format(roman=spec.roman))
            self._advance()
            return
        raise InputError(m.NOTHING_TO_ACCEPT)

    def _cmd_redo(self, args: str) -> None:
        etp = self._require_etp()
        self._refuse_stale_press(etp)
        if self.conv.step != "section" or self.conv.section is None:
            raise InputError(m.REDO_NOTHING)
        entry = etp.section(self.conv.section)
        if not entry.answers:
            self.out.say(m.REDO_NOTHING)
            self._enter_section(entry.number)
            return
        self._start_draft(entry.number, complement=False)

    def _refuse_stale_press(self, etp: Etp) -> None:
        """A press on a button about a draft that is no longer the current one (an old message,
        or a second member of a group pressing late) changes nothing."""
        context = self.ctx.inbound.context
        if not context:
            return
        number = self.conv.section if self.conv.step == "section" else None
        if number is None or context != draft_ref(etp.section(number)):
            raise InputError(m.BUTTON_STALE)

    def _cmd_edit(self, args: str) -> None:
        etp = self._require_etp()
        if self.conv.step != "section" or self.conv.section is None:
            raise InputError(m.EDIT_NOTHING)
        spec = BY_NUMBER[self.conv.section]
        entry = etp.section(spec.number)
        text = _CONTROL.sub("", args.replace("\r\n", "\n")).strip()
        if not text:
            current = entry.draft or entry.accepted_text
            if not current:
                raise InputError(m.EDIT_NOTHING)
            self.out.replies.append(
                Text(
                    m.EDIT_USAGE.format(text=current),
                    expects_text=True,
                    request=TextRequest("/editar", current),
                )
            )
            return
        self._accept_text(spec, text, "edited")
        self.out.say(m.EDITED.format(roman=spec.roman))
        self._advance()

    def _cmd_export(self, args: str) -> None:
        etp = self._require_etp()
        fmt = args.strip().lower().lstrip(".") or DEFAULT_FORMAT
        if fmt not in FORMATS:
            raise InputError(m.EXPORT_UNKNOWN.format(fmt=fmt, formats=", ".join(FORMATS)))
        document = build_document(etp, now=self.ctx.now)
        note = "" if document.complete else m.EXPORT_INCOMPLETE_NOTE
        caption = m.EXPORT_READY.format(id=etp.id, fmt=fmt.upper(), incomplete=note)
        self.out.replies.append(Export(document, fmt, caption))  # rendered by the service
        self.out.audits.append(AuditEntry("etp.exported", {"format": fmt}))

    def _cmd_cancel(self, args: str) -> None:
        etp = self._require_etp()
        if self.conv.mode == "justify":
            self.conv.mode = self.conv.return_mode or "asking"
            self.conv.return_mode = None
            self.out.say(m.CANCELLED_PENDING)
            self._prompt()
            return
        self.out.say(m.DETACHED.format(id=etp.id))
        self.conv.etp_id = None
        self.conv.step, self.conv.field, self.conv.section = "idle", None, None
        self.conv.mode = self.conv.check = self.conv.return_mode = None
        self.etp = None

    # --- free text -----------------------------------------------------------------------

    def _text(self, text: str) -> None:
        if self.etp is None or self.conv.step == "idle":
            raise InputError(m.NO_ACTIVE_ETP)
        if self.conv.step == "ident":
            self._ident_answer(text)
        elif self.conv.step == "section" and self.conv.section is not None:
            self._section_text(self.conv.section, text)
        else:
            self.out.say(m.ALL_DONE_REVIEW, *_export_buttons())

    # --- identification ------------------------------------------------------------------

    def _enter_ident(self, key: str) -> None:
        self.conv.step, self.conv.field = "ident", key
        self.conv.section = self.conv.mode = self.conv.check = self.conv.return_mode = None
        self._prompt()

    def _ident_answer(self, text: str) -> None:
        etp = self._require_etp()
        key = self.conv.field or "orgao"
        ident = etp.identification
        if key == "equipe":
            members: list[TeamMember] = []
            for line in (ln.strip(" -•*\t") for ln in text.split("\n")):
                if not line:
                    continue
                parts = [p.strip() for p in re.split(r"\s*[;|]\s*", line) if p.strip()]
                if len(parts) < 3:
                    parts = [p.strip() for p in re.split(r"\s*,\s*|\s+[-–—]\s+", line) if p.strip()]
                if len(parts) != 3:
                    raise InputError(m.IDENT_TEAM_INVALID.format(line=line[:80]))
                members.append(TeamMember(*parts))
            # the first message after entering the step replaces the team; later ones add to it
            ident.equipe = (ident.equipe if self.conv.check == "team" else []) + members
            self.conv.check = "team"
            ident.add_author(self.author)
            etp.touch()
            self.out.say(
                m.IDENT_TEAM_ADDED.format(names=", ".join(t.name for t in ident.equipe)),
                Button(m.BTN_TEAM_DONE, "/aceitar"),
                expects_text=True,
            )
            return
        else:
            setattr(ident, key, text[:500])
            if key == "objeto" and not etp.title:
                etp.title = text[:MAX_TITLE]
        ident.add_author(self.author)
        etp.touch()
        self.out.audits.append(AuditEntry("ident.answered", {"field": key}))
        self._after_ident_field(key)

    def _after_ident_field(self, key: str) -> None:
        etp = self._require_etp()
        keys = [f.key for f in m.IDENT_FIELDS]
        index = keys.index(key)
        if index + 1 < len(keys):
            self._enter_ident(keys[index + 1])
            return
        self.out.say(m.IDENT_SAVED)
        open_sections = [s for s in SECTIONS if not etp.section(s.number).done]
        if open_sections:
            self._enter_section(open_sections[0].number)
        else:
            self._advance()

    # --- sections ------------------------------------------------------------------------

    def _entry(self) -> SectionEntry | None:
        if self.etp is None or self.conv.section is None:
            return None
        return self.etp.section(self.conv.section)

    def _enter_section(self, number: int) -> None:
        etp = self._require_etp()
        entry = etp.section(number)
        self.conv.step, self.conv.section, self.conv.field = "section", number, None
        self.conv.check = self.conv.return_mode = None
        if entry.status == "drafting":
            self.conv.mode = "drafting"
        elif entry.draft or entry.accepted_text is not None:
            self.conv.mode = "review"
        elif entry.answers and entry.next_question() >= len(BY_NUMBER[number].questions):
            self._after_answers(number)
            return
        else:
            self.conv.mode = "asking"
        self._prompt()

    def _section_text(self, number: int, text: str) -> None:
        etp = self._require_etp()
        spec = BY_NUMBER[number]
        entry = etp.section(number)
        mode = self.conv.mode
        if mode == "justify":
            self._skip(spec, text)
            return
        if mode in ("drafting", "review"):
            entry.answers.append(Answer(-1, text, self.author, self.ctx.now.isoformat()))
            etp.touch(number)
            self.out.say(m.COMPLEMENT_ADDED)
            self._start_draft(number, complement=True)
            return
        if mode == "followup":
            entry.answers.append(Answer(-1, text, self.author, self.ctx.now.isoformat()))
            etp.touch(number)
            check = next((c for c in spec.checks if c.id == self.conv.check), None)
            if check is not None and not check.test(entry.answer_text()):
                self.out.say(m.GAP_RECORDED.format(gap=check.gap))
            self._after_answers(number, after=self.conv.check)
            return
        question = entry.next_question()
        if question >= len(spec.questions):
            entry.answers.append(Answer(-1, text, self.author, self.ctx.now.isoformat()))
        else:
            entry.answers.append(Answer(question, text, self.author, self.ctx.now.isoformat()))
        if entry.status in ("pending", "skipped") and entry.accepted_text is None:
            entry.status = "answering" if entry.status == "pending" else entry.status
        etp.touch(number)
        self.out.audits.append(
            AuditEntry("section.answered", {"section": number, "question": question})
        )
        if entry.next_question() < len(spec.questions):
            self.conv.mode = "asking"
            self._prompt()
        else:
            self._after_answers(number)

    def _after_answers(self, number: int, after: str | None = None) -> None:
        """All guiding questions answered: ask the next failed check's follow-up, or draft."""
        etp = self._require_etp()
        spec = BY_NUMBER[number]
        text = etp.section(number).answer_text()
        ids = [c.id for c in spec.checks]
        start = ids.index(after) + 1 if after in ids else 0
        for check in spec.checks[start:]:
            if not check.test(text):
                self.conv.mode, self.conv.check = "followup", check.id
                self._prompt()
                return
        self._start_draft(number, complement=False)

    def _insist(self) -> None:
        """/aceitar during a follow-up: the answer stands and the gap is recorded."""
        number = self.conv.section or 1
        check = next((c for c in BY_NUMBER[number].checks if c.id == self.conv.check), None)
        if check is not None:
            self.out.say(m.GAP_RECORDED.format(gap=check.gap))
        self._after_answers(number, after=self.conv.check)

    def _start_draft(self, number: int, *, complement: bool) -> None:
        etp = self._require_etp()
        spec = BY_NUMBER[number]
        entry = etp.section(number)
        entry.gaps = [c.gap for c in failed_checks(spec, entry.answer_text())]
        entry.draft_attempt += 1
        entry.status = "drafting"
        etp.touch(number)
        self.conv.step, self.conv.section, self.conv.mode, self.conv.check = (
            "section",
            number,
            "drafting",
            None,
        )
        self._request_draft(number, entry.draft_attempt)

    def _request_draft(self, number: int, attempt: int) -> None:
        """Ask the service to run this draft job, and tell the user it is being written."""
        spec = BY_NUMBER[number]
        self.out.drafts.append((number, attempt))
        etp_id = self.etp.id if self.etp is not None and self.etp.id is not None else 0
        job_id = DraftRequest(etp_id, number, attempt, self.ctx.inbound.address, "").job_id
        self.out.replies.append(
            DraftingStarted(job_id, m.DRAFTING.format(roman=spec.roman, title=spec.title))
        )

    def _accept_text(self, spec: SectionSpec, text: str, kind: str) -> None:
        etp = self._require_etp()
        entry = etp.section(spec.number)
        entry.accepted_text = text
        entry.accepted_by = self.author
        entry.draft = None
        entry.status = "accepted"
        entry.justification = None
        entry.justified_by = None
        if kind == "edited":
            entry.gaps = []
        etp.touch(spec.number)
        self.out.revisions.append(PendingRevision(spec.number, kind, text, self.author))
        self.out.audits.append(AuditEntry(f"section.{kind}", {"section": spec.number}))

    def _skip(self, spec: SectionSpec, justification: str) -> None:
        etp = self._require_etp()
        entry = etp.section(spec.number)
        entry.status = "skipped"
        entry.justification = justification
        entry.justified_by = self.author
        entry.draft = None
        etp.touch(spec.number)
        self.out.revisions.append(
            PendingRevision(spec.number, "skipped", justification, self.author)
        )
        self.out.audits.append(AuditEntry("section.skipped", {"section": spec.number}))
        self.out.say(m.SKIPPED.format(roman=spec.roman))
        self._advance()

    def _advance(self) -> None:
        """After a section is resolved: conclude the ETP, or go to the next open section."""
        etp = self._require_etp()
        if etp.complete():
            self.conv.step, self.conv.section, self.conv.mode = "done", None, None
            self.conv.check = self.conv.return_mode = None
            if etp.status != ETP_CONCLUDED:
                etp.status = ETP_CONCLUDED
                etp.touch()
                self.out.audits.append(AuditEntry("etp.concluded", {}))
                self.out.say(m.CONCLUDED.format(id=etp.id), *_export_buttons())
            else:
                self.out.say(m.ALL_DONE_REVIEW, *_export_buttons())
            return
        current = self.conv.section or 0
        order = [n for n in range(current + 1, 14)] + [n for n in range(1, current + 1)]
        for number in order:
            if not etp.section(number).done:
                self._enter_section(number)
                return

    def _goto_first_open(self) -> None:
        etp = self._require_etp()
        for spec in m.IDENT_FIELDS:
            if not spec.optional and not etp.identification.value(spec.key):
                self._enter_ident(spec.key)
                return
        for section in SECTIONS:
            if not etp.section(section.number).done:
                self._enter_section(section.number)
                return
        self.conv.step, self.conv.section, self.conv.mode = "done", None, None
        self.out.say(m.ALL_DONE_REVIEW, *_export_buttons())

    # --- the current question ------------------------------------------------------------

    def _prompt(self) -> None:
        """Say what the conversation waits for now."""
        conv, etp = self.conv, self.etp
        if etp is None or conv.step == "idle":
            self.out.say(m.NO_ACTIVE_ETP)
            return
        if conv.step == "ident":
            spec_f = m.IDENT_BY_KEY[conv.field or "orgao"]
            header = m.IDENT_HEADER.format(label=spec_f.label)
            current = etp.identification.value(spec_f.key)
            text = f"{header}\n{spec_f.question}"
            if current:
                text += f"\n(Atual: {current})"
            buttons: tuple[Button, ...] = (Button(m.BTN_SKIP, "/pular"),) if spec_f.optional else ()
            if spec_f.key == "equipe" and current:
                buttons = (Button(m.BTN_TEAM_DONE, "/aceitar"),)
            self.out.say(text, *buttons, expects_text=True)
            return
        if conv.step == "done" or conv.section is None:
            self.out.say(m.ALL_DONE_REVIEW, *_export_buttons())
            return
        spec = BY_NUMBER[conv.section]
        entry = etp.section(spec.number)
        header = section_header(spec)
        skip = (
            ()
            if spec.mandatory or entry.accepted_text is not None
            else (Button(m.BTN_SKIP, "/pular"),)
        )
        if conv.mode == "justify":
            self.out.replies.append(
                Text(
                    m.SKIP_ASK_JUSTIFICATION.format(roman=spec.roman, title=spec.title),
                    expects_text=True,
                    request=TextRequest("/pular"),
                )
            )
        elif conv.mode == "followup":
            check = next((c for c in spec.checks if c.id == conv.check), spec.checks[0])
            self.out.say(
                m.FOLLOW_UP.format(header=header, question=check.follow_up),
                Button(m.BTN_ACCEPT, "/aceitar"),
                expects_text=True,
            )
        elif conv.mode == "drafting":
            redo = Button(m.BTN_REDO, "/refazer", draft_ref(entry))
            self.out.say(f"{header}\n{m.DRAFT_IN_PROGRESS}", redo)
        elif conv.mode == "review":
            review = (
                Button(m.BTN_ACCEPT, "/aceitar", draft_ref(entry)),
                Button(m.BTN_EDIT, "/editar"),
                Button(m.BTN_REDO, "/refazer", draft_ref(entry)),
            )
            if entry.draft:
                self.out.say(m.DRAFT_READY.format(header=header, text=entry.draft), *review, *skip)
            elif entry.accepted_text is not None:
                author = entry.accepted_by.name if entry.accepted_by else "—"
                self.out.say(
                    m.SECTION_ACCEPTED_VIEW.format(
                        header=header, author=author, text=entry.accepted_text
                    ),
                    *review,
                )
            else:
                redo = Button(m.BTN_REDO, "/refazer", draft_ref(entry))
                self.out.say(f"{header}\n{m.DRAFT_FAILED}", redo, *skip)
        else:
            if entry.status == "skipped":
                author = entry.justified_by.name if entry.justified_by else "—"
                self.out.say(
                    m.SECTION_SKIPPED_VIEW.format(
                        header=header, author=author, text=entry.justification or ""
                    )
                )
            index = min(entry.next_question(), len(spec.questions) - 1)
            note = m.SECTION_MANDATORY if spec.mandatory else m.SECTION_OPTIONAL
            text = m.QUESTION.format(
                header=f"{header} {note}",
                i=index + 1,
                total=len(spec.questions),
                question=spec.questions[index].text,
            )
            self.out.say(text, *skip, expects_text=True)

    def _require_etp(self) -> Etp:
        if self.etp is None:
            raise InputError(m.NO_ACTIVE_ETP)
        return self.etp


def step(ctx: StepContext) -> Outcome:
    """Run one event through the flow. Raises InputError (with the reply) when it refuses."""
    return Flow(ctx).step()


def apply_draft(
    conv: ConversationState, etp: Etp, request: DraftRequest, draft: Draft | None
) -> list[Reply]:
    """Store a finished draft (or its failure) if it is still the one awaited; say so."""
    entry = etp.section(request.section)
    if entry.draft_attempt != request.attempt or entry.status != "drafting":
        return []  # a newer request superseded this one, or it was already applied
    spec = BY_NUMBER[request.section]
    here = conv.etp_id == etp.id and conv.step == "section" and conv.section == request.section
    if here:
        conv.mode = "review"
    etp.touch(request.section)
    header = section_header(spec)
    skip = (
        () if spec.mandatory or entry.accepted_text is not None else (Button(m.BTN_SKIP, "/pular"),)
    )
    if draft is None:
        entry.status = "answering"
        entry.draft = None
        return [
            Text(
                f"{header}\n{m.DRAFT_FAILED}",
                (Button(m.BTN_REDO, "/refazer", draft_ref(entry)), *skip),
                replaces=request.job_id,
            )
        ]
    entry.status = "drafted"
    entry.draft = draft.text
    text = m.DRAFT_READY.format(header=header, text=draft.text)
    if draft.note:
        text = f"{draft.note}\n{text}"
    buttons = (
        Button(m.BTN_ACCEPT, "/aceitar", draft_ref(entry)),
        Button(m.BTN_EDIT, "/editar"),
        Button(m.BTN_REDO, "/refazer", draft_ref(entry)),
        *skip,
    )
    if not here:
        text = m.DRAFT_READY_ELSEWHERE.format(roman=spec.roman, title=spec.title, n=spec.number)
        buttons = (Button(m.BTN_GOTO.format(roman=spec.roman), f"/secao {spec.number}"),)
    return [Text(text, buttons, replaces=request.job_id)]
