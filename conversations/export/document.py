"""One document model of a finished (or unfinished) ETP; every renderer reads only this.

Numbering: the sections are items 1 to 13 in the order of the document (the law's, or that of
IN SEGES/ME nº 58/2022, art. 9º), and each paragraph of a section's text is an item under it
(6.1, 6.2 …), so that a Termo de Referência or a legal opinion can cite "item 6.3 do ETP".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conversations.catalogue import messages as m
from conversations.catalogue.in58 import IN58_MANDATORY, IN58_TITLES
from conversations.catalogue.sections import BY_NUMBER, IN58_ORDER, ROMAN, SECTIONS, SectionSpec
from conversations.export.annexes import Annex, annexes
from conversations.identification import (
    designation_given,
    etp_number,
    reference_value,
)
from conversations.model import Etp, TeamMember, section_done
from conversations.pricing import to_document_json as research_json

ORDER_LAW = "law"
ORDER_IN58 = "in58"
ORDERS = (ORDER_LAW, ORDER_IN58)


def resolve_order(etp: Etp, requested: str | None, default: str) -> str:
    """The order a document is in: the one asked for, else the ETP's own, else the
    installation's (ETP_DOCUMENT_ORDER), else the law's."""
    for order in (requested, etp.identification.document_order, default):
        if order in ORDERS:
            return order
    return ORDER_LAW


@dataclass(frozen=True, slots=True)
class Item:
    number: str  # "6.3"
    text: str


@dataclass(frozen=True, slots=True)
class DocSection:
    number: int  # the law's inciso (1-13), whatever the order
    roman: str  # the law's inciso in roman numerals
    in58: int
    position: int  # the item number in this document (1-13)
    label: str  # the inciso of the document's numbering: the law's, or IN 58's
    title: str  # in the wording of the document's order
    statute: str
    legal_ref: str
    mandatory: bool  # by the rule of the document's order (law art. 18 §2º, IN 58 art. 9º §1º)
    state: str  # accepted | skipped | missing
    text: str
    justification: str
    items: tuple[Item, ...]  # the numbered paragraphs: of the text, or of the justification
    gaps: tuple[str, ...]
    authors: tuple[str, ...]  # the names shown in the chat (the API keeps them)
    prepared_by: tuple[str, ...]  # the planning team's members who wrote it

    @property
    def heading(self) -> str:
        return m.DOC_SECTION_HEADING.format(position=self.position, title=self.title)

    @property
    def situation(self) -> str:
        """The state in a reader's words (the summary table)."""
        if self.state == "accepted" and self.gaps:
            return m.DOC_STATE_ACCEPTED_WITH_GAPS
        return m.DOC_STATE[self.state]


@dataclass(frozen=True, slots=True)
class DocAnnex:
    label: str  # "Anexo I"
    title: str
    item: int | None  # the item it supports, in this document's numbering
    table: tuple[tuple[str, ...], ...] = ()
    paragraphs: tuple[str, ...] = ()
    # who prepared it, as the document names people (personal data: a `read` token gets none)
    prepared_by: tuple[str, ...] = ()

    @property
    def attached(self) -> bool:
        return bool(self.table or self.paragraphs)

    @property
    def body(self) -> tuple[str, ...]:
        """What the annex prints above its table: its paragraphs, then who prepared it."""
        if not self.prepared_by:
            return self.paragraphs
        return (*self.paragraphs, m.DOC_ANNEX_PREPARED.format(names=", ".join(self.prepared_by)))

    @property
    def line(self) -> str:
        """Its line in the list of annexes."""
        support = m.DOC_ANNEX_SUPPORTS.format(item=self.item) if self.item else ""
        where = m.DOC_ANNEX_BELOW if self.attached else m.DOC_ANNEX_TO_ATTACH
        return m.DOC_ANNEX_LINE.format(
            label=self.label, title=self.title, support=support, where=where
        )


@dataclass(frozen=True, slots=True)
class EtpDocument:
    etp_id: int
    number: str
    title: str
    status: str
    orgao: str
    unidade: str
    processo: str
    objeto: str
    portaria: str  # "" when absent (also when the answer said there is none)
    team: tuple[TeamMember, ...]
    sections: tuple[DocSection, ...]
    missing: tuple[str, ...]  # what is not done: the document is a draft
    order: str
    generated_at: datetime
    authors: tuple[str, ...] = field(default=())
    municipio: str = ""
    dfd: str = ""
    own_number: str = ""  # the órgão's own ETP number, as given ("" when ours is used)
    pendencias: tuple[str, ...] = ()  # every open point, in one list (the missing ones first)
    annexes: tuple[DocAnnex, ...] = ()
    # section VI's price research as data (the JSON export's table), None before any price
    price_research: dict[str, Any] | None = None
    verdict: str = ""  # section XIII's explicit choice (a Verdict value), "" while not made

    @property
    def complete(self) -> bool:
        return not self.missing and not self.pendencias

    @property
    def mark(self) -> str:
        """The mark on every page: a draft, or a text with open points; "" when final."""
        if self.missing:
            return m.DOC_DRAFT_MARK
        if self.pendencias:
            return m.DOC_PENDING_MARK
        return ""

    @property
    def in58(self) -> bool:
        return self.order == ORDER_IN58

    @property
    def header_rows(self) -> tuple[tuple[str, str], ...]:
        rows = [
            (m.DOC_ROW_ORGAO, self.orgao or "—"),
            (m.DOC_ROW_UNIDADE, self.unidade or "—"),
            (m.DOC_ROW_MUNICIPIO, self.municipio or "—"),
            (m.DOC_ROW_PROCESSO, reference_value("processo", self.processo) or "—"),
        ]
        if self.dfd:
            rows.append((m.DOC_ROW_DFD, reference_value("dfd", self.dfd)))
        rows.append((m.DOC_ROW_OBJETO, self.objeto or "—"))
        if self.portaria:
            rows.append((m.DOC_ROW_PORTARIA, self.portaria))
        rows.append((m.DOC_ROW_BASIS, m.DOC_BASIS_IN58 if self.in58 else m.DOC_BASIS_LAW))
        return tuple(rows)

    @property
    def summary_rows(self) -> tuple[tuple[str, ...], ...]:
        """The summary table, header row first."""
        rows: list[tuple[str, ...]] = [m.DOC_SUMMARY_COLUMNS]
        rows += [
            (
                str(s.position),
                s.title,
                m.DOC_YES if s.mandatory else m.DOC_NO,
                s.situation,
            )
            for s in self.sections
        ]
        return tuple(rows)

    @property
    def heading(self) -> str:
        return m.DOC_TITLE.format(number=self.number)

    @property
    def skipped_statement(self) -> str:
        return m.DOC_SKIPPED_IN58 if self.in58 else m.DOC_SKIPPED

    @property
    def place_date(self) -> str:
        d = self.generated_at
        return m.DOC_PLACE_DATE.format(
            place=self.municipio or m.DOC_PLACE_BLANK,
            date=f"{d.day} de {m.MONTHS[d.month - 1]} de {d.year}",
        )

    def filename(self, extension: str) -> str:
        return f"ETP-{self.etp_id}.{extension}"

    def download_name(self, extension: str) -> str:
        """A descriptive file name that is safe in any header or file system: ASCII only."""
        ascii_title = (
            unicodedata.normalize("NFKD", self.title).encode("ascii", "ignore").decode("ascii")
        )
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
        stem = f"ETP-{self.etp_id}-{slug}" if slug else f"ETP-{self.etp_id}"
        return f"{stem}.{extension}"


# --- people -------------------------------------------------------------------------------


def _folded(name: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return re.findall(r"[a-z0-9]+", plain)


def _member_for(author: str, team: Sequence[TeamMember]) -> TeamMember | None:
    words = _folded(author)
    if not words:
        return None
    for member in team:
        if _folded(member.name) == words:
            return member
    # "Maria" or "maria.silva" for "Maria Silva Souza": only when it points to one member
    partial = [member for member in team if set(words) <= set(_folded(member.name))]
    return partial[0] if len(partial) == 1 else None


_PARTICLES = frozenset({"da", "das", "de", "do", "dos", "e"})


def _full_name(name: str) -> bool:
    """A person's name ("João Souza"), as opposed to a handle ("root", "ana", "joao.souza")."""
    words = name.split()
    return len(words) >= 2 and all(
        w in _PARTICLES or (w[0].isupper() and w.replace("-", "").replace("'", "").isalpha())
        for w in words
    )


def prepared_by(authors: Sequence[str], team: Sequence[TeamMember]) -> tuple[str, ...]:
    """The people behind the chat names that wrote a section, as the document names them.

    A chat name can be a handle ("root", "ana") that must not reach the document: it is shown
    as the team member it matches; failing that, a full name is kept as it is (someone outside
    the team wrote), and a handle is shown as the only member when the team has one, and
    otherwise not at all."""
    names: list[str] = []
    for author in authors:
        member = _member_for(author, team)
        if member is not None:
            name = member.name
        elif _full_name(author):
            name = author
        elif len(team) == 1:
            name = team[0].name
        else:
            continue
        if name not in names:
            names.append(name)
    return tuple(names)


# --- numbering ----------------------------------------------------------------------------

_ROMAN_ALT = "|".join(sorted(ROMAN, key=len, reverse=True))
_SECTION_REF = re.compile(rf"\b([Ss]e[çc][ãa]o)\s+({_ROMAN_ALT})\b(\s*\(([^()\n]{{1,120}})\))?")
_LAW_INCISO_REF = re.compile(
    rf"\bart\.\s*18,\s*§\s*1º,\s*inciso\s+({_ROMAN_ALT})\b(,\s*da\s+Lei\s+nº\s+14\.133/2021)?"
)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def renumber_for_in58(text: str) -> str:
    """Cross-references written in the law's numbering ("seção IV (estimativa das
    quantidades)", "art. 18, §1º, inciso VII") in the numbering of a document in IN 58 order."""

    def section(match: re.Match[str]) -> str:
        spec = BY_NUMBER[ROMAN.index(match[2]) + 1]
        out = f"{match[1]} {ROMAN[spec.in58 - 1]}"
        if match[3]:
            said = match[4].strip().lower()
            known = said in (
                spec.title.lower(),
                spec.statute.lower(),
                IN58_TITLES[spec.number].lower(),
            )
            out += f" ({_lower_first(IN58_TITLES[spec.number])})" if known else match[3]
        return out

    def inciso(match: re.Match[str]) -> str:
        spec = BY_NUMBER[ROMAN.index(match[1]) + 1]
        return m.DOC_REF_IN58.format(in58=ROMAN[spec.in58 - 1], roman=spec.roman)

    return _LAW_INCISO_REF.sub(inciso, _SECTION_REF.sub(section, text))


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]


def _items(position: int, text: str) -> tuple[Item, ...]:
    return tuple(Item(f"{position}.{i}", p) for i, p in enumerate(_paragraphs(text), start=1))


# --- the document --------------------------------------------------------------------------


def _mandatory(spec: SectionSpec, order: str) -> bool:
    return spec.number in IN58_MANDATORY if order == ORDER_IN58 else spec.mandatory


def build_document(etp: Etp, *, order: str = ORDER_LAW, now: datetime) -> EtpDocument:
    """Turn the aggregate into the document model, in law order or IN SEGES 58/2022 order."""
    if etp.id is None:
        raise ValueError("an ETP must be saved before it is exported")
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}")
    in58 = order == ORDER_IN58
    ident = etp.identification
    numbers = IN58_ORDER if in58 else tuple(s.number for s in SECTIONS)
    team = tuple(ident.equipe)
    sections: list[DocSection] = []
    missing: list[str] = []
    gaps: list[str] = []
    open_points = etp.pendencias()
    all_authors: list[str] = [a.name for a in ident.authors]
    for position, number in enumerate(numbers, start=1):
        spec = BY_NUMBER[number]
        entry = etp.section(number)
        title = IN58_TITLES[spec.number] if in58 else spec.title
        mandatory = _mandatory(spec, order)
        label = ROMAN[spec.in58 - 1] if in58 else spec.roman
        legal_ref = (
            m.DOC_LEGAL_REF_IN58.format(in58=label, roman=spec.roman)
            if in58
            else m.DOC_LEGAL_REF.format(roman=spec.roman)
        )
        renumber = renumber_for_in58 if in58 else (lambda text: text)
        if entry.accepted_text is not None:
            state, text, justification = "accepted", renumber(entry.accepted_text), ""
            items = _items(position, text)
        elif section_done(number, entry.status, has_accepted_text=False):
            state, text = "skipped", ""
            justification = renumber(entry.justification or "")
            items = _items(position, justification)
        else:
            state, text, justification, items = "missing", "", "", ()
        if state == "missing" or (state == "skipped" and mandatory):
            what = (
                (m.DOC_MISSING_MANDATORY_IN58 if state == "skipped" else m.DOC_MISSING_MANDATORY)
                if mandatory
                else m.DOC_MISSING_OPTIONAL
            )
            missing.append(m.DOC_MISSING_SECTION.format(position=position, title=title, what=what))
        section_gaps = tuple(p.gap for p in open_points if p.section == number and p.gap)
        gaps += [
            m.DOC_PENDING_GAP.format(position=position, title=title, gap=gap)
            for gap in section_gaps
        ]
        names = tuple(entry.author_names())
        all_authors.extend(n for n in names if n not in all_authors)
        sections.append(
            DocSection(
                number=number,
                roman=spec.roman,
                in58=spec.in58,
                position=position,
                label=label,
                title=title,
                statute=spec.statute,
                legal_ref=legal_ref,
                mandatory=mandatory,
                state=state,
                text=text,
                justification=justification,
                items=items,
                gaps=section_gaps,
                authors=names,
                prepared_by=prepared_by(names, team),
            )
        )
    for field_spec in m.IDENT_FIELDS:
        blank = not ident.value(field_spec.key)
        if blank and field_spec.pending_when_blank and not field_spec.optional:
            missing.insert(0, m.DOC_MISSING_IDENT.format(label=field_spec.label))
    created = etp.created_at or now
    positions = {s.number: s.position for s in sections}
    missing = list(dict.fromkeys(missing))
    return EtpDocument(
        etp_id=etp.id,
        number=etp_number(ident.numero, etp.id, created.year),
        title=etp.title,
        status=etp.status,
        orgao=ident.orgao,
        unidade=ident.unidade,
        processo=ident.processo,
        objeto=ident.objeto or etp.title,
        portaria=ident.portaria if designation_given(ident.portaria) else "",
        team=team,
        sections=tuple(sections),
        missing=tuple(missing),
        order=order,
        generated_at=now,
        verdict=etp.verdict.value if etp.verdict is not None else "",
        authors=tuple(dict.fromkeys(all_authors)),
        municipio=ident.municipio,
        dfd=ident.dfd,
        own_number=ident.numero,
        pendencias=tuple(dict.fromkeys(missing + gaps)),
        annexes=tuple(
            _doc_annex(i, a, positions, team) for i, a in enumerate(annexes(etp), start=1)
        ),
        price_research=_price_research(etp, now),
    )


def _price_research(etp: Etp, now: datetime) -> dict[str, Any] | None:
    research = etp.research()
    if not research.quotes:
        return None
    return research_json(research, etp.quantity(), research.date_of_research(now.date()))


def _doc_annex(
    index: int, annex: Annex, positions: dict[int, int], team: Sequence[TeamMember]
) -> DocAnnex:
    return DocAnnex(
        label=m.DOC_ANNEX_LABEL.format(roman=ROMAN[index - 1] if index <= 13 else index),
        title=annex.title,
        item=positions.get(annex.section),
        table=annex.table,
        paragraphs=annex.paragraphs,
        # who prepared it (for the price map, art. 3º, II, of IN SEGES/ME nº 65/2021)
        prepared_by=prepared_by(annex.people, team) if annex.attached else (),
    )


def document_json(doc: EtpDocument) -> dict[str, Any]:
    """The JSON shape shared by the JSON export and the admin API."""
    return {
        "id": doc.etp_id,
        "number": doc.number,
        "title": doc.title,
        "status": doc.status,
        "complete": doc.complete,
        "order": doc.order,
        "identification": {
            "orgao": doc.orgao,
            "unidade": doc.unidade,
            "municipio": doc.municipio,
            "processo": doc.processo,
            "dfd": doc.dfd,
            "numero": doc.own_number,
            "objeto": doc.objeto,
            "portaria": doc.portaria,
            "equipe": [t.to_json() for t in doc.team],
        },
        "sections": [
            {
                "number": s.number,
                "roman": s.roman,
                "in58": s.in58,
                "position": s.position,
                "label": s.label,
                "title": s.title,
                "legal_ref": s.legal_ref,
                "mandatory": s.mandatory,
                "status": s.state,
                "situation": s.situation,
                "content": s.text or None,
                "justification": s.justification or None,
                "items": [{"number": i.number, "text": i.text} for i in s.items],
                "gaps": list(s.gaps),
                "authors": list(s.authors),
                "prepared_by": list(s.prepared_by),
            }
            for s in doc.sections
        ],
        "missing": list(doc.missing),
        "verdict": doc.verdict or None,
        "pendencias": list(doc.pendencias),
        "annexes": [
            {"label": a.label, "title": a.title, "item": a.item, "attached": a.attached}
            for a in doc.annexes
        ],
        "authors": list(doc.authors),
        "generated_at": doc.generated_at.isoformat(),
        "price_research": doc.price_research,
    }
