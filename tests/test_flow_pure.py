"""The conversation rules on the pure `step()`: no database, no queue, no I/O.

A `Session` plays the service's part in memory: it loads what `needs()` asks for, keeps the
ETP and the conversation, throws away what a refused event changed (as the service's rolled
back transaction does), and writes requested drafts with the offline drafter.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER, MANDATORY, OPTIONAL, SECTIONS
from conversations.drafting import OfflineDrafter, build_context
from conversations.events import Address, Author, Inbound
from conversations.flow import InputError, Outcome, StepContext, apply_draft, needs, step
from conversations.flow.identification import parse_team
from conversations.model import (
    ConversationState,
    Etp,
    EtpSummary,
    Mode,
    SectionStatus,
    Step,
    TeamMember,
    section_done,
)
from conversations.ports import Draft, DraftRequest
from conversations.replies import DraftingStarted, Export, Text
from tests.helpers import GOOD_ANSWERS, IDENTIFICATION

ADDRESS = Address("test", "chat-1")
AUTHOR = Author("test", "u1", "Maria Silva")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PERSON = 7


class Session:
    def __init__(self) -> None:
        self.conv = ConversationState(id=1)
        self.etp: Etp | None = None
        self.etps: dict[int, Etp] = {}
        self.replies: list[object] = []
        self.last: Outcome | None = None

    def send(self, text: str, *, kind: str | None = None, context: str = "") -> Outcome:
        """Step `text`; a refusal raises InputError and leaves everything as it was."""
        inbound = Inbound.from_text(ADDRESS, AUTHOR, text, kind=kind, context=context)
        wanted = needs(inbound)
        conv, etp = copy.deepcopy(self.conv), copy.deepcopy(self.etp)
        ctx = StepContext(inbound, conv, etp, PERSON, NOW)
        if wanted.listing:
            ctx.listing = [
                EtpSummary(e.id or 0, e.title, e.status, e.done_count()) for e in self.etps.values()
            ]
        if wanted.etp_id is not None:
            ctx.candidate = copy.deepcopy(self.etps.get(wanted.etp_id))
        if wanted.create_title is not None:
            new = Etp(id=len(self.etps) + 1, title=wanted.create_title, owner_id=PERSON)
            self.etps[new.id or 0] = new
            ctx.candidate = copy.deepcopy(new)
        outcome = step(ctx)  # raises before anything below is kept
        self.conv, self.etp, self.last = conv, outcome.etp, outcome
        if self.etp is not None and self.etp.id is not None:
            self.etps[self.etp.id] = self.etp
        self.replies += outcome.replies
        return outcome

    def refused(self, text: str, *, kind: str | None = None, context: str = "") -> str:
        before = (copy.deepcopy(self.conv), copy.deepcopy(self.etp))
        with pytest.raises(InputError) as refusal:
            self.send(text, kind=kind, context=context)
        assert (self.conv, self.etp) == before  # a refusal changes nothing
        return str(refusal.value)

    def draft(self, *, fail: bool = False) -> list[Text]:
        """Write the drafts the last step asked for, as the queue would."""
        assert self.last is not None and self.etp is not None and self.etp.id is not None
        written: list[Text] = []
        for number, attempt in self.last.drafts:
            request = DraftRequest(self.etp.id, number, attempt, ADDRESS, AUTHOR.display_name)
            context = build_context(self.etp, number, attempt)
            draft = None if fail else Draft(OfflineDrafter().compose(context), "offline")
            written += [
                r for r in apply_draft(self.conv, self.etp, request, draft) if isinstance(r, Text)
            ]
        self.replies += written
        return written

    def last_text(self) -> str:
        return [r.text for r in self.replies if isinstance(r, Text | DraftingStarted)][-1]

    def identify(self) -> None:
        self.send("/novo Papel A4")
        for line in IDENTIFICATION:
            self.send(line)

    def answer(self, number: int) -> Outcome:
        outcome = Outcome()
        for answer in GOOD_ANSWERS[number]:
            outcome = self.send(answer)
        return outcome

    @property
    def section(self) -> int | None:
        return self.conv.section


@pytest.fixture
def s() -> Session:
    return Session()


def test_identification_then_section_one(s: Session) -> None:
    outcome = s.send("/novo Compra de papel")
    assert m.CREATED.format(id=1, title="Compra de papel") == outcome.replies[0].text  # type: ignore[union-attr]
    assert s.conv.step == Step.IDENT and s.conv.field == "orgao"
    for line in IDENTIFICATION[:7]:
        s.send(line)
    assert s.conv.field == "equipe"
    assert "Ana" in s.refused("Ana; Analista")  # the line it cannot read is named
    s.send("Ana; Analista; 1\n- Bruno, Técnico, 2")
    s.send("Carla | Assessora | 3")
    assert [t.name for t in s.etp.identification.equipe] == ["Ana", "Bruno", "Carla"]  # type: ignore[union-attr]
    s.send("/aceitar")
    assert s.conv.field == "portaria"
    s.send("/pular")
    assert s.conv.step == Step.SECTION and s.section == 1 and s.conv.mode == Mode.ASKING
    assert s.last_text().startswith("Seção 1 de 13 · Descrição da necessidade")
    assert s.etp is not None and s.etp.ident_complete()


def test_parse_team_reads_the_three_separators_and_refuses_a_short_line() -> None:
    assert parse_team("• Ana; Analista; 1\n\nBruno, Técnico, 2\nCarla - Assessora - 3") == [
        TeamMember("Ana", "Analista", "1"),
        TeamMember("Bruno", "Técnico", "2"),
        TeamMember("Carla", "Assessora", "3"),
    ]
    with pytest.raises(InputError, match="Só um nome"):
        parse_team("Ana; Analista; 1\nSó um nome")


def test_answers_then_a_draft_is_requested_and_applied(s: Session) -> None:
    s.identify()
    outcome = s.send(GOOD_ANSWERS[1][0])
    assert outcome.drafts == [] and s.conv.mode == Mode.ASKING
    assert s.last_text().startswith("Seção 1 de 13") and "Pergunta 2 de 3" in s.last_text()
    for answer in GOOD_ANSWERS[1][1:]:
        outcome = s.send(answer)
    assert outcome.drafts == [(1, 1)]
    assert isinstance(outcome.replies[-1], DraftingStarted)
    assert s.conv.mode == Mode.DRAFTING
    assert s.etp is not None and s.etp.section(1).status == SectionStatus.DRAFTING
    [ready] = s.draft()
    assert "Minuta:" in ready.text
    assert [b.label for b in ready.buttons] == ["Aceitar", "Editar", "Refazer"]  # mandatory
    assert s.conv.mode == Mode.REVIEW and s.etp.section(1).status == SectionStatus.DRAFTED


def test_a_weak_answer_gets_its_follow_up_and_insisting_records_the_gap(s: Session) -> None:
    s.identify()
    for answer in ("Falta papel.", "Todos.", "Atraso."):
        s.send(answer)
    assert s.conv.mode == Mode.FOLLOWUP and s.conv.check == "detail"
    assert BY_NUMBER[1].checks[0].follow_up in s.last_text()
    outcome = s.send("/aceitar")
    assert m.GAP_RECORDED.format(gap=BY_NUMBER[1].checks[0].gap) in outcome.replies[0].text  # type: ignore[union-attr]
    assert outcome.drafts == [(1, 1)]
    assert s.etp is not None and s.etp.section(1).gaps == [BY_NUMBER[1].checks[0].gap]


def test_a_good_follow_up_answer_drafts_without_a_gap(s: Session) -> None:
    s.identify()
    for answer in ("Falta papel.", "Todos.", "Atraso."):
        s.send(answer)
    outcome = s.send(GOOD_ANSWERS[1][0] + " " + GOOD_ANSWERS[1][2])
    assert outcome.drafts == [(1, 1)]
    assert s.etp is not None and s.etp.section(1).gaps == []


def test_accept_moves_on_and_records_the_revision(s: Session) -> None:
    s.identify()
    s.answer(1)
    s.draft()
    outcome = s.send("/aceitar", kind="action", context="1.1")
    assert s.etp is not None and s.etp.section(1).done
    assert s.etp.section(1).status == SectionStatus.ACCEPTED
    assert [(r.section, r.kind) for r in outcome.revisions] == [(1, "accepted")]
    assert s.section == 2 and s.last_text().startswith("Seção 2 de 13")


def test_a_press_on_an_older_draft_changes_nothing(s: Session) -> None:
    s.identify()
    s.answer(1)
    s.draft()
    s.send("/refazer")
    s.draft()
    assert s.refused("/aceitar", kind="action", context="1.1") == m.BUTTON_STALE
    s.send("/aceitar", kind="action", context="1.2")
    assert s.section == 2


def test_edit_replaces_the_draft_and_accepts_it(s: Session) -> None:
    s.identify()
    s.answer(1)
    s.draft()
    outcome = s.send("/editar")
    assert outcome.replies[0].request is not None  # type: ignore[union-attr]
    assert s.section == 1  # asking for the text changed nothing
    outcome = s.send("/editar\r\nTexto novo\x00 da seção.")
    assert s.etp is not None and s.etp.section(1).accepted_text == "Texto novo da seção."
    assert [(r.section, r.kind) for r in outcome.revisions] == [(1, "edited")]
    assert s.section == 2


def test_redo_asks_for_a_new_attempt_and_a_failed_draft_offers_redo(s: Session) -> None:
    s.identify()
    s.answer(1)
    s.draft()
    outcome = s.send("/refazer")
    assert outcome.drafts == [(1, 2)]
    [failed] = s.draft(fail=True)
    assert m.DRAFT_FAILED in failed.text
    assert [b.label for b in failed.buttons] == ["Refazer"]
    assert s.etp is not None and s.etp.section(1).status == SectionStatus.ANSWERING


def test_a_late_draft_of_a_superseded_attempt_is_dropped(s: Session) -> None:
    s.identify()
    first = s.answer(1)
    s.send("/refazer")  # attempt 2 while attempt 1 is still being written
    assert s.etp is not None and s.etp.id is not None
    request = DraftRequest(s.etp.id, 1, first.drafts[0][1], ADDRESS, "")
    assert apply_draft(s.conv, s.etp, request, Draft("velha", "offline")) == []
    assert s.etp.section(1).draft is None


def test_a_mandatory_section_cannot_be_skipped(s: Session) -> None:
    s.identify()
    assert s.refused("/pular Não se aplica") == m.SKIP_MANDATORY.format(
        n=1, title=BY_NUMBER[1].title
    )


def test_an_optional_section_is_skipped_with_a_justification(s: Session) -> None:
    s.identify()
    s.send("/secao 2")
    s.send("/pular")
    assert s.conv.mode == Mode.JUSTIFY and s.conv.return_mode == Mode.ASKING
    s.send("/cancelar")
    assert s.conv.mode == Mode.ASKING and s.conv.return_mode is None
    s.send("/pular")
    outcome = s.send("O PCA deste exercício ainda não foi publicado.")
    assert s.etp is not None and s.etp.section(2).status == SectionStatus.SKIPPED
    assert s.etp.section(2).done
    assert [(r.section, r.kind) for r in outcome.revisions] == [(2, "skipped")]
    assert s.section == 3  # the next open section


def test_back_goes_from_section_one_to_the_identification(s: Session) -> None:
    s.send("/novo Papel")
    assert s.refused("/voltar") == m.BACK_AT_START
    s.identify()
    s.send("/voltar")
    assert s.conv.step == Step.IDENT and s.conv.field == "portaria"
    s.send("/voltar")
    assert s.conv.field == "equipe"


def test_section_jump(s: Session) -> None:
    s.identify()
    s.send("/seção 5")
    assert s.section == 5 and s.last_text().startswith("Seção 5 de 13")
    assert s.refused("/secao 99") == m.SECTION_OUT_OF_RANGE.format(n=99)
    assert s.refused("/secao cinco") == m.SECTION_USAGE
    s.send("/secao 13")
    s.send("/voltar")
    assert s.section == 12


def test_export_request(s: Session) -> None:
    s.identify()
    outcome = s.send("/exportar md")
    [export] = outcome.replies
    assert isinstance(export, Export) and export.fmt == "md"
    assert not export.document.complete
    assert [a.action for a in outcome.audits] == ["etp.exported"]
    assert "xyz" in s.refused("/exportar xyz")


def test_unknown_command_and_commands_that_need_an_etp(s: Session) -> None:
    assert s.refused("/xyz") == m.UNKNOWN_COMMAND.format(command="xyz")
    for line in ("/status", "/secao 1", "/voltar", "/pular", "/aceitar", "/refazer", "/editar"):
        assert s.refused(line) == m.NO_ACTIVE_ETP, line
    assert s.refused("Uma resposta") == m.NO_ACTIVE_ETP


def test_a_whole_etp_concludes_when_every_section_is_done(s: Session) -> None:
    s.identify()
    for spec in SECTIONS:
        assert s.section == spec.number
        s.answer(spec.number)
        s.draft()
        s.send("/aceitar")
    assert s.conv.step == Step.DONE
    assert s.etp is not None and s.etp.complete() and s.etp.status == "concluido"
    s.send("/voltar")
    assert s.section == SECTIONS[-1].number


def test_the_done_rule_counts_a_skip_only_for_optional_sections() -> None:
    for number in MANDATORY:
        assert not section_done(number, SectionStatus.SKIPPED, has_accepted_text=False)
        assert section_done(number, SectionStatus.SKIPPED, has_accepted_text=True)
    for number in OPTIONAL:
        assert section_done(number, SectionStatus.SKIPPED, has_accepted_text=False)
        assert not section_done(number, SectionStatus.DRAFTED, has_accepted_text=False)
    assert {s.number for s in SECTIONS} == MANDATORY | OPTIONAL and not MANDATORY & OPTIONAL


def test_stored_state_values_stay_the_same() -> None:
    """Steps, modes and statuses are stored as strings: renaming one would strand old rows."""
    assert [v.value for v in Step] == ["idle", "ident", "section", "done"]
    assert [v.value for v in Mode] == [
        "asking",
        "followup",
        "drafting",
        "review",
        "justify",
        "prices",
        "quantity",
    ]
    assert [v.value for v in SectionStatus] == [
        "pending",
        "answering",
        "drafting",
        "drafted",
        "accepted",
        "skipped",
    ]
    stored = {"step": "section", "field": None, "section": 3, "mode": "justify"}
    conv = ConversationState(id=1)
    conv.load_json({**stored, "check": None, "return_mode": "review"})
    assert conv.step is Step.SECTION and conv.mode is Mode.JUSTIFY
    assert conv.return_mode is Mode.REVIEW
    assert conv.to_json() == {**stored, "check": None, "return_mode": "review"}
