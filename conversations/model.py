"""The ETP aggregate and the conversation position, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from conversations.catalogue import messages as m
from conversations.catalogue import pricing as pt
from conversations.catalogue.sections import (
    BY_NUMBER,
    MANDATORY,
    OPTIONAL,
    SECTIONS,
    VERDICT_QUESTION,
    Verdict,
    check_text,
)
from conversations.pricing import Quantity, Research

# the section of the price research, and the one whose quantity the estimate multiplies
PRICE_SECTION = next(s.number for s in SECTIONS if s.prices)
QUANTITY_SECTION = next(s.number for s in SECTIONS if s.quantity)

ETP_DRAFTING = "em_elaboracao"
ETP_CONCLUDED = "concluido"
# every section resolved, but something is still open (a gap recorded in a section, no explicit
# conclusion): the document keeps its MINUTA mark and lists what is open
ETP_CONCLUDED_WITH_GAPS = "concluido_com_pendencias"
ETP_STATUSES = (ETP_DRAFTING, ETP_CONCLUDED, ETP_CONCLUDED_WITH_GAPS)
CONCLUDED_STATUSES = frozenset({ETP_CONCLUDED, ETP_CONCLUDED_WITH_GAPS})


# The values below are stored (section rows, conversation state JSON): never change one.


class SectionStatus(StrEnum):
    PENDING = "pending"
    ANSWERING = "answering"
    DRAFTING = "drafting"
    DRAFTED = "drafted"
    ACCEPTED = "accepted"
    SKIPPED = "skipped"


class Step(StrEnum):
    """Where a conversation is: no ETP, the identification, a section, or all resolved."""

    IDLE = "idle"
    IDENT = "ident"
    SECTION = "section"
    DONE = "done"


class Mode(StrEnum):
    """What a conversation in a section waits for."""

    ASKING = "asking"  # the next guiding question's answer
    FOLLOWUP = "followup"  # the answer to a failed check's follow-up
    DRAFTING = "drafting"  # the draft being written
    REVIEW = "review"  # accept, edit or redo the draft (or the accepted text)
    JUSTIFY = "justify"  # the justification for skipping the section
    PRICES = "prices"  # the price research: what it needs next is derived from its data
    QUANTITY = "quantity"  # section IV's total quantity as data (number and unit)


# "Section done", the one definition (storage's count of done sections follows it): a section
# is done when it has an accepted text, or when it is skipped and skipping counts, which is
# only for an optional section (art. 18, §2º: a mandatory one needs its text).
DONE_WHEN_SKIPPED: frozenset[int] = OPTIONAL


def section_done(number: int, status: str, *, has_accepted_text: bool) -> bool:
    """Whether section `number` in `status` (with or without an accepted text) is done."""
    return has_accepted_text or (status == SectionStatus.SKIPPED and number in DONE_WHEN_SKIPPED)


@dataclass(frozen=True, slots=True)
class AuthorRef:
    """Who wrote a piece: our person id (when stored) and the display name at the time."""

    person_id: int | None
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.person_id, "name": self.name}

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> AuthorRef | None:
        if not data:
            return None
        return AuthorRef(data.get("id"), str(data.get("name", "")))


# Answer.question of the record of a verdict choice: who chose which conclusion, and when (the
# choice itself is SectionEntry.verdict); no draft or check reads it as an answer
VERDICT_CHOICE = -2


@dataclass(slots=True)
class Answer:
    # index of the guiding question; -1 for a complement, VERDICT_CHOICE for a choice made
    question: int
    text: str
    author: AuthorRef
    at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "q": self.question,
            "text": self.text,
            "author": self.author.to_json(),
            "at": self.at,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Answer:
        author = AuthorRef.from_json(data.get("author")) or AuthorRef(None, "")
        return Answer(int(data["q"]), str(data["text"]), author, str(data.get("at", "")))


@dataclass(slots=True)
class TeamMember:
    name: str
    cargo: str
    matricula: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "cargo": self.cargo, "matricula": self.matricula}


@dataclass(slots=True)
class Identification:
    orgao: str = ""
    unidade: str = ""
    processo: str = ""
    objeto: str = ""
    equipe: list[TeamMember] = field(default_factory=list)
    portaria: str = ""
    authors: list[AuthorRef] = field(default_factory=list)
    municipio: str = ""  # "Campinas/SP": the place in the document's "Local e data"
    dfd: str = ""  # the documento de formalização da demanda's reference, as given
    numero: str = ""  # the órgão's own number for this ETP ("" : the document uses our id)
    document_order: str = ""  # "law" | "in58" chosen for this ETP; "": the installation's

    def value(self, key: str) -> str:
        if key == "equipe":
            return "\n".join(f"{m.name}; {m.cargo}; {m.matricula}" for m in self.equipe)
        return str(getattr(self, key))

    def to_json(self) -> dict[str, Any]:
        return {
            "orgao": self.orgao,
            "unidade": self.unidade,
            "processo": self.processo,
            "objeto": self.objeto,
            "equipe": [m.to_json() for m in self.equipe],
            "portaria": self.portaria,
            "authors": [a.to_json() for a in self.authors],
            "municipio": self.municipio,
            "dfd": self.dfd,
            "numero": self.numero,
            "document_order": self.document_order,
        }

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> Identification:
        data = data or {}
        return Identification(
            orgao=data.get("orgao", ""),
            unidade=data.get("unidade", ""),
            processo=data.get("processo", ""),
            objeto=data.get("objeto", ""),
            equipe=[
                TeamMember(m["name"], m.get("cargo", ""), m.get("matricula", ""))
                for m in data.get("equipe", [])
            ],
            portaria=data.get("portaria", ""),
            authors=[a for a in (AuthorRef.from_json(x) for x in data.get("authors", [])) if a],
            municipio=data.get("municipio", ""),
            dfd=data.get("dfd", ""),
            numero=data.get("numero", ""),
            document_order=data.get("document_order", ""),
        )

    def add_author(self, author: AuthorRef) -> None:
        if all(a.name != author.name for a in self.authors):
            self.authors.append(author)


@dataclass(slots=True)
class SectionEntry:
    """One section of one ETP. `accepted_text` is only ever replaced by a newer accepted text."""

    number: int
    status: SectionStatus = SectionStatus.PENDING
    answers: list[Answer] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    draft: str | None = None
    draft_attempt: int = 0
    accepted_text: str | None = None
    accepted_by: AuthorRef | None = None
    justification: str | None = None
    justified_by: AuthorRef | None = None
    updated_at: datetime | None = None
    verdict: Verdict | None = None  # the concluding section's explicit choice
    # what a section holds as data besides its texts: section IV's quantity ("quantity"),
    # section VI's price research ("research"); JSON-ready values
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = SectionStatus(self.status)  # a stored row hands a plain string
        if self.verdict is not None:
            self.verdict = Verdict(self.verdict)

    @property
    def mandatory(self) -> bool:
        return self.number in MANDATORY

    @property
    def done(self) -> bool:
        return section_done(
            self.number, self.status, has_accepted_text=self.accepted_text is not None
        )

    @property
    def display_status(self) -> SectionStatus:
        if self.accepted_text is not None and self.status not in (
            SectionStatus.DRAFTING,
            SectionStatus.DRAFTED,
        ):
            return SectionStatus.ACCEPTED
        return self.status

    def answered_questions(self) -> set[int]:
        answered = {a.question for a in self.answers if a.question >= 0}
        if BY_NUMBER[self.number].verdict:
            # the choice answers it, not a text (an ETP stored before the choice existed has
            # a text there, and is asked for the choice)
            answered.discard(VERDICT_QUESTION)
            if self.verdict is not None:
                answered.add(VERDICT_QUESTION)
        return answered

    def next_question(self) -> int:
        """Index of the first guiding question without an answer (== count when all answered)."""
        answered = self.answered_questions()
        total = len(BY_NUMBER[self.number].questions)
        for i in range(total):
            if i not in answered:
                return i
        return total

    def answer_text(self) -> str:
        """What the checks read: a bounded slice of the answers (see check_text)."""
        return check_text(a.text for a in self.answers if a.question != VERDICT_CHOICE)

    def author_names(self) -> list[str]:
        names: list[str] = []
        refs = [a.author for a in self.answers]
        refs += [r for r in (self.accepted_by, self.justified_by) if r is not None]
        for ref in refs:
            if ref.name and ref.name not in names:
                names.append(ref.name)
        # the price research's people: who entered prices or took its decisions
        research = self.data.get("research") or {}
        names += [n for n in research.get("authors", []) if n and n not in names]
        return names


@dataclass(slots=True)
class Etp:
    id: int | None
    title: str
    status: str = ETP_DRAFTING
    owner_id: int | None = None
    shared_key: str | None = None
    identification: Identification = field(default_factory=Identification)
    sections: dict[int, SectionEntry] = field(
        default_factory=lambda: {s.number: SectionEntry(s.number) for s in SECTIONS}
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    dirty_sections: set[int] = field(default_factory=set)
    dirty: bool = False
    # what its LLM drafts cost in all (LLM_MAX_TOKENS_PER_ETP, /status, the admin API)
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    llm_cost_usd: float = 0.0

    def section(self, number: int) -> SectionEntry:
        return self.sections[number]

    @property
    def llm_tokens(self) -> int:
        return self.llm_prompt_tokens + self.llm_completion_tokens

    def spend(self, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        """Count what one LLM draft cost."""
        if prompt_tokens or completion_tokens or cost_usd:
            self.llm_prompt_tokens += prompt_tokens
            self.llm_completion_tokens += completion_tokens
            self.llm_cost_usd += cost_usd
            self.dirty = True

    def research(self) -> Research:
        """Section VI's price research (an empty one before any price)."""
        return Research.from_json(self.section(PRICE_SECTION).data.get("research"))

    def save_research(self, research: Research) -> None:
        self.section(PRICE_SECTION).data["research"] = research.to_json()
        self.touch(PRICE_SECTION)

    def quantity(self) -> Quantity | None:
        """Section IV's total quantity as data, once given."""
        return Quantity.from_json(self.section(QUANTITY_SECTION).data.get("quantity"))

    def save_quantity(self, quantity: Quantity) -> None:
        self.section(QUANTITY_SECTION).data["quantity"] = quantity.to_json()
        self.touch(QUANTITY_SECTION)

    def touch(self, number: int | None = None) -> None:
        self.dirty = True
        if number is not None:
            self.dirty_sections.add(number)

    def done_count(self) -> int:
        return sum(1 for s in self.sections.values() if s.done)

    def complete(self) -> bool:
        return all(s.done for s in self.sections.values())

    @property
    def verdict(self) -> Verdict | None:
        """The team's explicit conclusion (section XIII), or None while it is not chosen."""
        return next(
            (s.verdict for s in self.sections.values() if BY_NUMBER[s.number].verdict), None
        )

    def pendencias(self) -> list[Pendencia]:
        """What is still open, in one list (the document lists it, /status and the status
        follow it): identification fields, unresolved sections, the gaps recorded in accepted
        sections, and an accepted conclusion without the team's explicit choice."""
        open_items: list[Pendencia] = []
        ident = self.identification
        for field_spec in m.IDENT_FIELDS:
            if not field_spec.optional and not ident.value(field_spec.key):
                open_items.append(
                    Pendencia(None, m.PENDING_IDENT_FIELD.format(label=field_spec.label))
                )
        for number in sorted(self.sections):
            entry = self.sections[number]
            spec = BY_NUMBER[number]
            if not entry.done:
                what = m.PENDING_MANDATORY if spec.mandatory else m.PENDING_OPTIONAL
                open_items.append(Pendencia(number, what))
                continue
            if entry.accepted_text is None:
                continue  # skipped with its justification
            open_items.extend(Pendencia(number, gap, gap) for gap in entry.gaps)
            if spec.prices and self.research().stale:
                open_items.append(Pendencia(number, pt.PENDING_STALE, pt.PENDING_STALE))
            if spec.verdict and entry.verdict is None:
                open_items.append(Pendencia(number, m.PENDING_VERDICT, m.PENDING_VERDICT))
        return open_items

    def completion_status(self) -> str:
        """The status the ETP's sections give it: em elaboração until every section is
        resolved; then concluído, or concluído com pendências while anything is open."""
        if not self.complete():
            return ETP_DRAFTING
        return ETP_CONCLUDED_WITH_GAPS if self.pendencias() else ETP_CONCLUDED

    def ident_complete(self) -> bool:
        i = self.identification
        return bool(i.orgao and i.unidade and i.processo and i.objeto and i.equipe)


@dataclass(frozen=True, slots=True)
class Pendencia:
    """One open item: of a section (`section`, its number) or of the identification (None);
    `what` says in pt-BR what is missing (a noun phrase)."""

    section: int | None
    what: str
    # for a point an accepted section is still open on (a check's gap, the missing verdict):
    # what is missing there; empty for a section not done or an identification field
    gap: str = ""


@dataclass(frozen=True, slots=True)
class EtpSummary:
    id: int
    title: str
    status: str
    done: int
    updated_at: datetime | None = None


@dataclass(slots=True)
class ConversationState:
    """Where a conversation (channel + chat + thread) stands; `version` guards concurrent saves."""

    id: int | None
    etp_id: int | None = None
    step: Step = Step.IDLE
    field: str | None = None  # identification field key while step == ident
    section: int | None = None
    mode: Mode | None = None  # while step == section
    check: str | None = None  # the check whose follow-up is pending
    return_mode: Mode | None = None  # mode to restore when a pending justification is cancelled
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "field": self.field,
            "section": self.section,
            "mode": self.mode,
            "check": self.check,
            "return_mode": self.return_mode,
        }

    def load_json(self, data: dict[str, Any] | None) -> None:
        data = data or {}
        self.step = Step(data.get("step") or Step.IDLE)
        self.field = data.get("field")
        self.section = data.get("section")
        self.mode = _mode(data.get("mode"))
        self.check = data.get("check")
        self.return_mode = _mode(data.get("return_mode"))


def _mode(value: str | None) -> Mode | None:
    return Mode(value) if value else None
