"""Identification values as an official types them, made fit for the document's header.

Shared by the chat's identification step (which refuses what it cannot read) and the document
(which must also read values stored before these rules existed).
"""

from __future__ import annotations

import re

# The 26 states and the Federal District.
UFS = frozenset(
    [
        "AC",
        "AL",
        "AP",
        "AM",
        "BA",
        "CE",
        "DF",
        "ES",
        "GO",
        "MA",
        "MT",
        "MS",
        "MG",
        "PA",
        "PB",
        "PR",
        "PE",
        "PI",
        "RJ",
        "RN",
        "RS",
        "RO",
        "RR",
        "SC",
        "SP",
        "SE",
        "TO",
    ]
)

_PLACE = re.compile(r"^(?P<city>.+?)\s*(?:[/,\-–—(]\s*|\s+)(?P<uf>[A-Za-z]{2})\)?\.?$")
_ETP_NUMBER_LABEL = re.compile(
    r"^(?:(?:etp|estudo\s+t[ée]cnico\s+preliminar)\s*)?(?:n[º°o]\.?|n\.|n[úu]mero)?\s*:?\s*",
    re.IGNORECASE,
)
_ETP_NUMBER = re.compile(r"^[0-9][0-9A-Za-z./\-]{0,29}$")
# A portaria field answered with its absence: "Não há", "Sem portaria", "Nenhuma", "N/A", "-".
_NO_DESIGNATION = re.compile(
    r"^\s*(?:n[ãa]o\s+h[áa]|n[ãa]o\s+(?:houve|existe|foi|possui|se\s+aplica|consta)|sem\s+"
    r"(?:portaria|designa[çc][ãa]o|ato)|nenhum[ao]?|inexistente|n/?a\b|-+\s*$|—\s*$)",
    re.IGNORECASE,
)
# Labels a user often types before the value ("Processo SEI nº 23000…"), which the document's
# own label already says.
_LEADING_LABELS = {
    "processo": re.compile(r"^processo(?:\s+administrativo)?\s*[:\-–]?\s*", re.IGNORECASE),
    "dfd": re.compile(
        r"^(?:dfd|documento\s+de\s+formaliza[çc][ãa]o\s+(?:da|de)\s+demanda)\s*[:\-–]?\s*",
        re.IGNORECASE,
    ),
}


def parse_place(text: str) -> str | None:
    """ "Campinas/SP", "Campinas - sp", "Campinas, SP", "Campinas SP" -> "Campinas/SP";
    None when no known UF closes the text."""
    match = _PLACE.match(" ".join(text.split()))
    if match is None or match["uf"].upper() not in UFS:
        return None
    city = match["city"].strip(" ,-/–—")
    if not city or not re.search(r"[A-Za-zÀ-ÿ]", city):
        return None
    return f"{city}/{match['uf'].upper()}"


def parse_etp_number(text: str) -> str | None:
    """The órgão's own ETP number without the words around it ("ETP nº 12/2026" -> "12/2026");
    None when what is left does not look like a number."""
    value = _ETP_NUMBER_LABEL.sub("", " ".join(text.split())).strip(" .")
    return value if _ETP_NUMBER.match(value) else None


def etp_number(own: str, etp_id: int, year: int) -> str:
    """The number the document shows: the órgão's own (with the year when it has none), else
    our record's."""
    own = own.strip()
    if not own:
        return f"{etp_id}/{year}"
    return f"{own}/{year}" if own.isdigit() else own


def designation_given(portaria: str) -> bool:
    """Whether the portaria field names an act (and not its absence, typed as an answer)."""
    return bool(portaria.strip()) and not _NO_DESIGNATION.match(portaria)


def reference_value(key: str, text: str) -> str:
    """A processo or DFD reference without the label the document already shows, with "nº"
    before a bare number: "Processo SEI nº 23000…" -> "SEI nº 23000…", "23000…" -> "nº 23000…"."""
    value = text.strip()
    label = _LEADING_LABELS.get(key)
    if label is not None:
        stripped = label.sub("", value)
        value = stripped or value
    if value[:1].isdigit():
        value = f"nº {value}"
    return value
