"""One document model of a finished (or unfinished) ETP; every renderer reads only this."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER, IN58_ORDER, ROMAN, SECTIONS
from conversations.model import Etp, TeamMember, section_done


@dataclass(frozen=True, slots=True)
class DocSection:
    number: int
    roman: str
    in58: int
    title: str
    statute: str
    legal_ref: str
    mandatory: bool
    state: str  # accepted | skipped | missing
    text: str
    justification: str
    gaps: tuple[str, ...]
    authors: tuple[str, ...]
    label: str = ""  # the number shown: the law's inciso, or the IN 58/2022 one in that order

    @property
    def heading(self) -> str:
        return f"{self.label or self.roman} — {self.title}"


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
    portaria: str
    team: tuple[TeamMember, ...]
    sections: tuple[DocSection, ...]
    missing: tuple[str, ...]
    order: str
    generated_at: datetime
    authors: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def header_rows(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Órgão/entidade", self.orgao or "—"),
            ("Unidade requisitante", self.unidade or "—"),
            ("Processo nº", self.processo or "—"),
            ("Objeto", self.objeto or "—"),
        )

    @property
    def heading(self) -> str:
        return m.DOC_TITLE.format(number=self.number)

    @property
    def place_date(self) -> str:
        d = self.generated_at
        return m.DOC_PLACE_DATE.format(date=f"{d.day} de {m.MONTHS[d.month - 1]} de {d.year}")

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


def build_document(etp: Etp, *, order: str = "law", now: datetime) -> EtpDocument:
    """Turn the aggregate into the document model, in law order or IN SEGES 58/2022 order."""
    if etp.id is None:
        raise ValueError("an ETP must be saved before it is exported")
    ident = etp.identification
    numbers = IN58_ORDER if order == "in58" else tuple(s.number for s in SECTIONS)
    sections: list[DocSection] = []
    missing: list[str] = []
    all_authors: list[str] = [a.name for a in ident.authors]
    for number in numbers:
        spec = BY_NUMBER[number]
        entry = etp.section(number)
        label = ROMAN[spec.in58 - 1] if order == "in58" else spec.roman
        legal_ref = (
            m.DOC_LEGAL_REF_IN58.format(in58=label, roman=spec.roman)
            if order == "in58"
            else m.DOC_LEGAL_REF.format(roman=spec.roman)
        )
        if entry.accepted_text is not None:
            state, text, justification = "accepted", entry.accepted_text, ""
        elif section_done(number, entry.status, has_accepted_text=False):
            state, text, justification = "skipped", "", entry.justification or ""
        else:
            state, text, justification = "missing", "", ""
            what = m.DOC_MISSING_MANDATORY if spec.mandatory else m.DOC_MISSING_OPTIONAL
            missing.append(m.DOC_MISSING_SECTION.format(roman=label, title=spec.title, what=what))
        names = tuple(entry.author_names())
        all_authors.extend(n for n in names if n not in all_authors)
        sections.append(
            DocSection(
                number=number,
                roman=spec.roman,
                in58=spec.in58,
                title=spec.title,
                statute=spec.statute,
                legal_ref=legal_ref,
                mandatory=spec.mandatory,
                state=state,
                text=text,
                justification=justification,
                gaps=tuple(entry.gaps) if state == "accepted" else (),
                authors=names,
                label=label,
            )
        )
    for field_spec in m.IDENT_FIELDS:
        if not field_spec.optional and not ident.value(field_spec.key):
            missing.insert(0, m.DOC_MISSING_IDENT.format(label=field_spec.label))
    created = etp.created_at or now
    return EtpDocument(
        etp_id=etp.id,
        number=f"{etp.id}/{created.year}",
        title=etp.title,
        status=etp.status,
        orgao=ident.orgao,
        unidade=ident.unidade,
        processo=ident.processo,
        objeto=ident.objeto or etp.title,
        portaria=ident.portaria,
        team=tuple(ident.equipe),
        sections=tuple(sections),
        missing=tuple(dict.fromkeys(missing)),
        order=order,
        generated_at=now,
        authors=tuple(dict.fromkeys(all_authors)),
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
            "processo": doc.processo,
            "objeto": doc.objeto,
            "portaria": doc.portaria,
            "equipe": [t.to_json() for t in doc.team],
        },
        "sections": [
            {
                "number": s.number,
                "roman": s.roman,
                "in58": s.in58,
                "label": s.label,
                "title": s.title,
                "legal_ref": s.legal_ref,
                "mandatory": s.mandatory,
                "status": s.state,
                "content": s.text or None,
                "justification": s.justification or None,
                "gaps": list(s.gaps),
                "authors": list(s.authors),
            }
            for s in doc.sections
        ],
        "missing": list(doc.missing),
        "authors": list(doc.authors),
        "generated_at": doc.generated_at.isoformat(),
    }
