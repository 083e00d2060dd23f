"""The annexes an ETP lists: what supports its figures (calculation memory, price research).

Each kind of annex is a provider registered under a key: it looks at the ETP and returns its
annex, or None when the ETP has nothing for it. Registering again under a key replaces that
provider (a feature that builds the price map itself registers "mapa_precos" with the map's
table), so the list stays one list, in registration order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from conversations.catalogue import messages as m
from conversations.catalogue import pricing as pt
from conversations.model import PRICE_SECTION, Etp
from conversations.pricing import SourceKind, annex_paragraphs, annex_table


@dataclass(frozen=True, slots=True)
class Annex:
    """One annex. `section`: the law's number of the section it supports (0: none), so the
    document can say which item it supports in the order it is in. `table` (header row first)
    and `paragraphs`, when given, are printed as the annex itself after the approval block;
    without them the annex is a document to be attached to the process."""

    key: str
    title: str
    section: int = 0
    table: tuple[tuple[str, ...], ...] = ()
    paragraphs: tuple[str, ...] = ()
    # who prepared it (chat names; the document names them as it names a section's people)
    people: tuple[str, ...] = ()

    @property
    def attached(self) -> bool:
        """True when the document carries the annex's content; False: it is to be attached."""
        return bool(self.table or self.paragraphs)


AnnexProvider = Callable[[Etp], Annex | None]

_PROVIDERS: dict[str, AnnexProvider] = {}


def register_annex(key: str, provider: AnnexProvider) -> None:
    """Add a kind of annex, or replace the provider registered under `key` (same place)."""
    _PROVIDERS[key] = provider


def unregister_annex(key: str) -> None:
    _PROVIDERS.pop(key, None)


def annexes(etp: Etp) -> tuple[Annex, ...]:
    found = (provider(etp) for provider in _PROVIDERS.values())
    return tuple(annex for annex in found if annex is not None)


def _accepted(etp: Etp, number: int) -> str | None:
    return etp.section(number).accepted_text


def _calculation_memory(etp: Etp) -> Annex | None:
    if _accepted(etp, 4) is None:
        return None
    return Annex("memoria_calculo", m.ANNEX_CALCULATION_MEMORY, section=4)


def _price_map(etp: Etp) -> Annex | None:
    """The mapa comparativo de preços: the research's table and figures, printed in the
    document (marked confidential when the team chose so); before the research was data, an
    accepted section VI lists it as a document to attach."""
    research = etp.research()
    if research.closed and research.quotes:
        on = research.date_of_research((etp.updated_at or etp.created_at or _epoch()).date())
        title = pt.ANNEX_TITLE_SECRET if research.confidential else pt.ANNEX_TITLE
        return Annex(
            "mapa_precos",
            title,
            section=PRICE_SECTION,
            table=annex_table(research, on),
            paragraphs=tuple(
                annex_paragraphs(research, etp.quantity(), on, etp.identification.objeto)
            ),
            people=tuple(research.authors),
        )
    if _accepted(etp, PRICE_SECTION) is None:
        return None
    return Annex("mapa_precos", m.ANNEX_PRICE_MAP, section=PRICE_SECTION)


def _epoch() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)


_QUOTES = re.compile(r"cota[çc][õoã]|or[çc]amentos?\b|propostas?\s+de\s+fornecedor", re.I)


def _quotations(etp: Etp) -> Annex | None:
    """The suppliers' proposals and the other evidence of the prices (art. 5º, § 2º; art. 3º,
    VII), to be attached: when the research has supplier quotes, or (before the research was
    data) when section VI's words mention quotations."""
    if _accepted(etp, PRICE_SECTION) is None:
        return None
    research = etp.research()
    if research.quotes:
        if any(q.kind is SourceKind.FORNECEDOR for q in research.quotes):
            return Annex("cotacoes", m.ANNEX_QUOTATIONS, section=PRICE_SECTION)
        return None
    text = " ".join(a.text for a in etp.section(PRICE_SECTION).answers)
    if not _QUOTES.search(text + " " + (_accepted(etp, PRICE_SECTION) or "")):
        return None
    return Annex("cotacoes", m.ANNEX_QUOTATIONS, section=PRICE_SECTION)


register_annex("memoria_calculo", _calculation_memory)
register_annex("mapa_precos", _price_map)
register_annex("cotacoes", _quotations)
