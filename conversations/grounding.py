"""Grounding checks: every figure and legal citation in a draft must come from somewhere.

Amounts, quantities, percentages and dates must appear in the user's material (answers,
identification, accepted texts, figures computed from them), compared as numbers after
Brazilian normalisation ("R$ 1.234,50" is 1234.5). A legal citation must name a norm of the
shipped data file (conversations/data/norms.json) and an article, inciso and paragraph that
norm has; a norm or decision that is not in the file passes only when the user cited it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from itertools import combinations
from typing import Any

from conversations.catalogue import messages as m

_MONTHS = (
    "janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro"
)
_NUMBER = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_ORD = r"(?:\s*[º°o](?![a-zà-ú]))?"

# "Lei nº 14.133/2021", "Lei Complementar 123, de 2006", "IN SEGES/ME nº 65/2021",
# "Decreto nº 7.746, de 5 de junho de 2012", "Acórdão TCU nº 9.999/2031"
_NORM = re.compile(
    r"(?P<kind>lei complementar|lei federal|lei|lc|instru[çc][ãa]o normativa|in|decreto federal|"
    r"decreto|ac[óo]rd[ãa]o|portaria)"
    r"(?P<issuer>(?:\s+(?:seges|sgd|mp|me|mgi|tcu|plen[áa]rio|n?[º°])(?:\s*/\s*(?:me|mp|mgi))?)*)"
    r"\s*(?:n\.?\s*[º°o]\.?\s*|n[º°]\s*|nº\s*)?"
    r"(?P<number>\d{1,3}(?:\.\d{3})*|\d+)"
    rf"(?:\s*/\s*(?P<year>\d{{4}}|\d{{2}})(?!\d)|,?\s+de\s+(?:\d{{1,2}}{_ORD}\s+de\s+(?:{_MONTHS})\s+de\s+)?(?P<year2>\d{{4}}))",
    re.IGNORECASE,
)
_CF = re.compile(
    r"constitui[çc][ãa]o(?:\s+federal|\s+da\s+rep[úu]blica)?|\bCF(?:/88|/1988)?\b", re.I
)

_ROMAN = r"[IVXLC]+"
# "art. 75, inciso XX", "art. 18, § 1º, inciso XIII", "arts. 40 e 47", "artigo 6º, incisos I e II"
_ARTICLE = re.compile(
    r"\b(?:arts?\.|artigos?)\s*"
    rf"(?P<arts>\d+{_ORD}(?:-[A-Z])?(?:\s*(?:,|e)\s*\d+{_ORD})*)"
    rf"(?P<tail>(?:\s*,?\s*(?:caput|§+\s*\d+{_ORD}(?:\s*(?:,|e)\s*\d+{_ORD})*|par[áa]grafo\s+[úu]nico|"
    rf"(?:incisos?|inc\.)\s+{_ROMAN}(?:\s*(?:,|e|a)\s*{_ROMAN})*|al[íi]nea\s+\"?[a-z]\"?))*)",
    re.IGNORECASE,
)
# "inciso XX do art. 75", "§ 2º do art. 18", "inciso XIII do § 1º do art. 18"
_ARTICLE_AFTER = re.compile(
    rf"(?:(?:incisos?|inc\.)\s+(?P<inc>{_ROMAN})\s+do\s+)?(?:§\s*(?P<par>\d+){_ORD}\s+do\s+)?"
    rf"(?:art\.|artigo)\s*(?P<art>\d+){_ORD}",
    re.IGNORECASE,
)
_INCISO_TAIL = re.compile(rf"(?:incisos?|inc\.)\s+((?:{_ROMAN})(?:\s*(?:,|e|a)\s*{_ROMAN})*)", re.I)
_PARAGRAPH_TAIL = re.compile(rf"§+\s*(\d+){_ORD}", re.I)

_MONEY = re.compile(
    rf"R\$\s*(?P<n>{_NUMBER})(?:\s*(?P<mult>mil|milh[õo]es|milh[ãa]o|bilh[õo]es))?", re.I
)
_PERCENT = re.compile(rf"(?P<n>{_NUMBER})\s*(?:%|por\s+cento)", re.I)
_DATE = re.compile(r"(?<![\d/])(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4}|\d{2})(?![\d/])")
_LONG_DATE = re.compile(
    rf"(?P<d>\d{{1,2}}){_ORD}\s+de\s+(?P<month>{_MONTHS})\s+de\s+(?P<y>\d{{4}})", re.I
)
_PLAIN = re.compile(rf"(?<![\w.,/])(?P<n>{_NUMBER})(?![\w/]|[.,]\d)")
_PLACEHOLDER = re.compile(r"\[[A-Z]+_\d+\]")
_MONTH_NUMBER = {name: i + 1 for i, name in enumerate(m.MONTHS)}
_MONTH_NUMBER["marco"] = 3
# Bare small integers are how prose counts ("2 alternativas", "1 (um) ano"); not checked.
SMALL = 10


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # figure | citation
    text: str  # as it appears in the draft


def _roman(value: str) -> int:
    numerals = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
    total = 0
    value = value.upper()
    for i, ch in enumerate(value):
        n = numerals[ch]
        if i + 1 < len(value) and numerals[value[i + 1]] > n:
            total -= n
        else:
            total += n
    return total


def to_decimal(text: str) -> Decimal | None:
    """A Brazilian-written number: "1.234,56" → 1234.56, "5.000" → 5000, "24,5" → 24.5."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", text):
        text = text.replace(".", "")
    text = text.replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@cache
def norms() -> dict[str, Any]:
    """The shipped data file of norms (see its "about")."""
    raw = resources.files("conversations").joinpath("data/norms.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)["norms"]
    return data


def _kind(raw: str) -> str:
    raw = unicodedata.normalize("NFD", raw.lower())
    raw = "".join(c for c in raw if unicodedata.category(c) != "Mn")
    if raw.startswith("lei complementar") or raw == "lc":
        return "lc"
    if raw.startswith("lei"):
        return "lei"
    if raw.startswith("instrucao") or raw == "in":
        return "in"
    if raw.startswith("decreto"):
        return "decreto"
    if raw.startswith("acordao"):
        return "acordao"
    return "portaria"


@dataclass(frozen=True, slots=True)
class _Norm:
    key: str
    start: int
    end: int
    text: str


def _norm_mentions(text: str) -> list[_Norm]:
    found: list[_Norm] = []
    for match in _NORM.finditer(text):
        year = match.group("year") or match.group("year2") or ""
        if len(year) == 2:
            year = ("19" if int(year) > 50 else "20") + year
        number = match.group("number").replace(".", "")
        kind = _kind(match.group("kind"))
        if kind == "in" and match.group("kind").lower() == "in" and not year:
            continue
        found.append(_Norm(f"{kind}:{number}/{year}", match.start(), match.end(), match.group()))
    for match in _CF.finditer(text):
        found.append(_Norm("cf:1988", match.start(), match.end(), match.group()))
    return sorted(found, key=lambda n: n.start)


def _cited(key: str, material: str) -> bool:
    """The user's material names this norm's number (with or without the thousands dot)."""
    number, year = key.split(":")[1].split("/")
    digits = re.sub(r"[.\s]", "", material)
    return number in digits and (not year or year in material)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower())
    return re.sub(r"\s+", " ", "".join(c for c in text if unicodedata.category(c) != "Mn"))


def _norm_for(text: str, mentions: list[_Norm], start: int, end: int) -> _Norm | None:
    """The norm an article reference belongs to: one named right after it ("art. 75 da Lei…"),
    else the last one named before it in the same paragraph; None means Lei 14.133/2021."""
    for norm in mentions:
        if 0 <= norm.start - end <= 12 and re.fullmatch(
            r"[\s,]*(?:d[ao]s?|desta|dessa|na|no)?\s*", text[end : norm.start], re.I
        ):
            return norm
    paragraph_start = text.rfind("\n\n", 0, start) + 1
    before = [n for n in mentions if paragraph_start <= n.start and n.end <= start]
    return before[-1] if before else None


def _check_article(norm_key: str, article: str, tail: str) -> bool:
    data = norms().get(norm_key)
    if data is None:
        return True  # an unknown norm is judged as a norm, not per article
    article = re.sub(r"\D", "", article)
    if not article:
        return True
    highest = data.get("articles")
    if highest is not None and not 1 <= int(article) <= int(highest):
        return False
    detail = data.get("detail", {}).get(article)
    if detail is None:
        return True
    paragraphs = [int(p) for p in _PARAGRAPH_TAIL.findall(tail)]
    if "paragrafo unico" in _fold(tail) and detail.get("paragrafo_unico") is False:
        return False
    for p in paragraphs:
        count = detail.get("paragraphs")
        if count is not None and not 1 <= p <= count:
            return False
    inciso_lists = _INCISO_TAIL.findall(tail)
    for listing in inciso_lists:
        for numeral in re.findall(_ROMAN, listing):
            n = _roman(numeral)
            if paragraphs:
                limit = detail.get("paragraph_incisos", {}).get(str(paragraphs[-1]))
            else:
                limit = detail.get("incisos")
            if limit is not None and not 1 <= n <= limit:
                return False
    return True


def _citations(text: str, material: str) -> tuple[list[Finding], list[tuple[int, int]]]:
    """Unsupported citations, and the spans of every citation (kept out of the figure check)."""
    findings: list[Finding] = []
    spans: list[tuple[int, int]] = []
    mentions = _norm_mentions(text)
    folded_material = _fold(material)
    for mention in mentions:
        spans.append((mention.start, mention.end))
        if mention.key not in norms() and not _cited(mention.key, material):
            findings.append(Finding("citation", mention.text.strip()))
    for match in _ARTICLE.finditer(text):
        spans.append((match.start(), match.end()))
        norm = _norm_for(text, mentions, match.start(), match.end())
        key = norm.key if norm is not None else "lei:14133/2021"
        tail = match.group("tail") or ""
        articles = re.findall(r"\d+", match.group("arts"))
        bad = [
            a for a in articles if not _check_article(key, a, tail if len(articles) == 1 else "")
        ]
        if bad and _fold(match.group().strip()) not in folded_material:
            findings.append(Finding("citation", match.group().strip().rstrip(",")))
    for match in _ARTICLE_AFTER.finditer(text):
        if not (match.group("inc") or match.group("par")):
            continue
        spans.append((match.start(), match.end()))
        norm = _norm_for(text, mentions, match.start(), match.end())
        key = norm.key if norm is not None else "lei:14133/2021"
        tail = ""
        if match.group("par"):
            tail += f"§ {match.group('par')} "
        if match.group("inc"):
            tail += f"inciso {match.group('inc')}"
        if (
            not _check_article(key, match.group("art"), tail)
            and _fold(match.group()) not in folded_material
        ):
            findings.append(Finding("citation", match.group().strip()))
    return findings, spans


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


def _figures(text: str) -> list[tuple[str, str, Decimal]]:
    """(kind, text, value) of every figure: money, percentages, dates (as yyyymmdd and the
    year), other numbers."""
    out: list[tuple[str, str, Decimal]] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for match in _DATE.finditer(text):
        year = match.group("y")
        year = year if len(year) == 4 else "20" + year
        value = Decimal(f"{year}{int(match.group('m')):02d}{int(match.group('d')):02d}")
        out.append(("date", match.group(), value))
        taken.append(match.span())
    for match in _LONG_DATE.finditer(text):
        month = _MONTH_NUMBER[_fold(match.group("month"))]
        value = Decimal(f"{match.group('y')}{month:02d}{int(match.group('d')):02d}")
        out.append(("date", match.group(), value))
        taken.append(match.span())
    for match in _MONEY.finditer(text):
        if not free(*match.span()):
            continue
        amount = to_decimal(match.group("n"))
        if amount is None:
            continue
        value = amount
        mult = _fold(match.group("mult") or "")
        if mult == "mil":
            value *= 1000
        elif mult.startswith("milh"):
            value *= 1_000_000
        elif mult.startswith("bilh"):
            value *= 1_000_000_000
        out.append(("money", match.group(), value))
        taken.append(match.span())
    for match in _PERCENT.finditer(text):
        if not free(*match.span()):
            continue
        percent = to_decimal(match.group("n"))
        if percent is not None:
            out.append(("percent", match.group(), percent))
            taken.append(match.span())
    for match in _PLAIN.finditer(text):
        if not free(*match.span()):
            continue
        number = to_decimal(match.group("n"))
        if number is not None:
            out.append(("number", match.group(), number))
    return out


def supported_values(material: str, extra: tuple[Decimal, ...] = ()) -> set[Decimal]:
    """Every value the material states, and the figures computed from them: each product of
    two (unit price × quantity), the sum of its amounts, each date's year."""
    values: set[Decimal] = set(extra)
    money: list[Decimal] = []
    numbers: list[Decimal] = []
    for kind, _, value in _figures(material):
        values.add(value)
        if kind == "date":
            values.add(Decimal(str(value)[:4]))
            continue
        numbers.append(value)
        if kind == "money":
            money.append(value)
    for match in _PLAIN.finditer(material):  # the pieces of dates and identifiers too
        piece = to_decimal(match.group("n"))
        if piece is not None:
            values.add(piece)
    unique = sorted(set(numbers))[:200]
    for a, b in combinations(unique, 2):
        values.add((a * b).quantize(Decimal("0.01")))
    if money:
        values.add(sum(money, Decimal(0)))
    return {v.normalize() for v in values}


def _supported(value: Decimal, kind: str, supported: set[Decimal]) -> bool:
    if value.normalize() in supported:
        return True
    if kind == "date":
        return False
    # rounding in prose ("R$ 30.120,00" written "R$ 30,1 mil") within half a cent
    return any(abs(value - s) <= Decimal("0.005") for s in supported)


def check(draft: str, material: str, *, today: str = "") -> list[Finding]:
    """What in `draft` cannot be traced to `material` (empty: everything can)."""
    draft = _PLACEHOLDER.sub(" ", draft)
    findings, spans = _citations(draft, material)
    extra: tuple[Decimal, ...] = ()
    if today:
        extra = tuple(v for _, _, v in _figures(today)) + tuple(
            Decimal(str(v)[:4]) for _, _, v in _figures(today)
        )
    supported = supported_values(material, extra)
    seen: set[str] = set()
    for kind, text, value in _figures(_blank(draft, spans)):
        if kind == "number" and value == value.to_integral_value() and value <= SMALL:
            continue
        if kind == "date" and Decimal(str(value)[:4]).normalize() in supported and len(text) == 4:
            continue
        if not _supported(value, kind, supported) and text not in seen:
            seen.add(text)
            findings.append(Finding("figure", text.strip()))
    return findings
