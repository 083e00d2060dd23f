"""The ETP aggregate and the conversation position, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from conversations.catalogue.sections import BY_NUMBER, MANDATORY, OPTIONAL, SECTIONS

ETP_DRAFTING = "em_elaboracao"
ETP_CONCLUDED = "concluido"
ETP_STATUSES = (ETP_DRAFTING, ETP_CONCLUDED)


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


@dataclass(slots=True)
class Answer:
    question: int  # index of the guiding question; -1 for a follow-up or complement
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

    def __post_init__(self) -> None:
        self.status = SectionStatus(self.status)  # a stored row hands a plain string

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
        return {a.question for a in self.answers if a.question >= 0}

    def next_question(self) -> int:
        """Index of the first guiding question without an answer (== count when all answered)."""
        answered = self.answered_questions()
        total = len(BY_NUMBER[self.number].questions)
        for i in range(total):
            if i not in answered:
                return i
        return total

    def answer_text(self) -> str:
        return "\n".join(a.text for a in self.answers)

    def author_names(self) -> list[str]:
        names: list[str] = []
        refs = [a.author for a in self.answers]
        refs += [r for r in (self.accepted_by, self.justified_by) if r is not None]
        for ref in refs:
            if ref.name and ref.name not in names:
                names.append(ref.name)
        return names


@dataclass(frozen=True, slots=True)
class Pendencia:
    """An open point of an ETP: a mandatory section not done (`gap` empty), or a point an
    accepted section was accepted without (a check's follow-up the user chose to keep)."""

    section: int
    gap: str = ""


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

    def touch(self, number: int | None = None) -> None:
        self.dirty = True
        if number is not None:
            self.dirty_sections.add(number)

    def done_count(self) -> int:
        return sum(1 for s in self.sections.values() if s.done)

    def pendencias(self) -> list[Pendencia]:
        """The open points, in the law's order: each mandatory section not done (art. 18,
        §2º), and each recorded gap of an accepted section."""
        found: list[Pendencia] = []
        for number in sorted(self.sections):
            entry = self.sections[number]
            if entry.mandatory and not entry.done:
                found.append(Pendencia(number))
            elif entry.accepted_text is not None:
                found += [Pendencia(number, gap) for gap in entry.gaps]
        return found

    def complete(self) -> bool:
        return all(s.done for s in self.sections.values())

    def ident_complete(self) -> bool:
        i = self.identification
        return bool(i.orgao and i.unidade and i.processo and i.objeto and i.equipe)


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
