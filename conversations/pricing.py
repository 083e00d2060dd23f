"""Price research (section VI) as data: IN SEGES/ME nº 65/2021, arts. 3º, 5º and 6º.

The chat collects a table of prices, each with its source kind (art. 5º's incisos), the
source's identification, its date and a unit value; this module parses those lines (Brazilian
number formats through Babel), applies the instrução's rules (source age, at least three
prices, priority of incisos I and II, the Painel-only ceiling), computes the series'
statistics (the standard library's `statistics`) and the estimate by the method the team
chose, and reconciles it with section IV's quantity. Pure: no I/O, no platform library.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal
from dateutil.relativedelta import relativedelta
from num2words import num2words

from conversations.catalogue import pricing as t
from conversations.wording import after_colon

LOCALE = "pt_BR"
MAX_PRICES = 40  # lines of one table: a research is a few prices, never a catalogue
MAX_SOURCE = 300  # characters of a source's identification
MAX_VALUE = Decimal("1000000000000")  # R$ 1 trillion: beyond it a value is a typing error
MAX_REASON = 1_500
MIN_REASON_WORDS = 4

# The stated criterion that flags a price for the team's decision (art. 6º, §§ 3º-4º: the
# criteria are the administration's, written down): a value below LOW or above HIGH times the
# series' median. A flag is a question, never an exclusion: the team keeps or excludes each.
OUTLIER_LOW = Decimal("0.70")
OUTLIER_HIGH = Decimal("1.30")
# Common practice, shown as a suggestion, never applied by itself: CV ≤ 25 % → mean, else median
CV_MEAN_LIMIT = Decimal("0.25")


class SourceKind(StrEnum):
    """Art. 5º's parameters; the values are stored: never change one."""

    PAINEL = "painel"  # I: Painel de Preços, banco de preços em saúde
    SIMILAR = "similar"  # II: contratações similares da Administração Pública
    MIDIA = "midia"  # III: mídia especializada, tabela de referência, sítios eletrônicos
    FORNECEDOR = "fornecedor"  # IV: pesquisa direta com fornecedores
    NFE = "nfe"  # V: base nacional de notas fiscais eletrônicas


@dataclass(frozen=True, slots=True)
class SourceRule:
    inciso: str
    max_age_months: int | None  # counted back from the research's date; None: no limit
    needs_time: bool = False  # the date and the time of access (inciso III)


RULES: dict[SourceKind, SourceRule] = {
    SourceKind.PAINEL: SourceRule("I", None),
    SourceKind.SIMILAR: SourceRule("II", 12),
    SourceKind.MIDIA: SourceRule("III", 6, needs_time=True),
    SourceKind.FORNECEDOR: SourceRule("IV", 6),
    SourceKind.NFE: SourceRule("V", 12),
}
PRIORITY = frozenset({SourceKind.PAINEL, SourceKind.SIMILAR})  # art. 5º, § 1º
# the kinds whose age the instrução counts to the edital's publication (art. 5º, III to V)
EDITAL_COUNTED = frozenset({SourceKind.MIDIA, SourceKind.FORNECEDOR, SourceKind.NFE})

# The words that name each kind, compared without accents or case ("Painel de Preços", "IV").
_KIND_WORDS: dict[str, SourceKind] = {
    "i": SourceKind.PAINEL,
    "1": SourceKind.PAINEL,
    "painel": SourceKind.PAINEL,
    "painel de precos": SourceKind.PAINEL,
    "pncp": SourceKind.PAINEL,
    "banco de precos em saude": SourceKind.PAINEL,
    "bps": SourceKind.PAINEL,
    "ii": SourceKind.SIMILAR,
    "2": SourceKind.SIMILAR,
    "similar": SourceKind.SIMILAR,
    "contratacao similar": SourceKind.SIMILAR,
    "contratacoes similares": SourceKind.SIMILAR,
    "ata": SourceKind.SIMILAR,
    "ata de registro de precos": SourceKind.SIMILAR,
    "pregao": SourceKind.SIMILAR,
    "contrato": SourceKind.SIMILAR,
    "iii": SourceKind.MIDIA,
    "3": SourceKind.MIDIA,
    "midia": SourceKind.MIDIA,
    "midia especializada": SourceKind.MIDIA,
    "site": SourceKind.MIDIA,
    "sitio": SourceKind.MIDIA,
    "sitio eletronico": SourceKind.MIDIA,
    "internet": SourceKind.MIDIA,
    "tabela de referencia": SourceKind.MIDIA,
    "iv": SourceKind.FORNECEDOR,
    "4": SourceKind.FORNECEDOR,
    "fornecedor": SourceKind.FORNECEDOR,
    "cotacao": SourceKind.FORNECEDOR,
    "orcamento": SourceKind.FORNECEDOR,
    "v": SourceKind.NFE,
    "5": SourceKind.NFE,
    "nfe": SourceKind.NFE,
    "nf e": SourceKind.NFE,
    "nota fiscal": SourceKind.NFE,
    "notas fiscais": SourceKind.NFE,
}


class Method(StrEnum):
    """Art. 6º's methods; the values are stored."""

    MEAN = "media"
    MEDIAN = "mediana"
    LOWEST = "menor"


_METHOD_WORDS: dict[str, Method] = {
    "media": Method.MEAN,
    "mediana": Method.MEDIAN,
    "menor": Method.LOWEST,
    "menor preco": Method.LOWEST,
    "menor valor": Method.LOWEST,
}


class PriceInputError(ValueError):
    """A line, value or choice that cannot be read; its message (pt-BR) says how to fix it."""


def plain(text: str) -> str:
    """Lower case, no accents, words separated by one space."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", letters))


def kind_named(text: str) -> SourceKind | None:
    """The kind `text` names exactly ("Fornecedor", "inciso IV", "IV", "painel"), or None."""
    words = plain(text)
    words = re.sub(r"^(?:art 5o? )?(?:inciso )?", "", words)
    return _KIND_WORDS.get(words) or next((k for k in SourceKind if k.value == words), None)


def method_named(text: str) -> Method | None:
    return _METHOD_WORDS.get(plain(text))


# --- values, dates, quantities -----------------------------------------------------------

_CURRENCY = re.compile(r"^\s*(?:R\s*\$|BRL)\s*", re.IGNORECASE)


def parse_money(text: str) -> Decimal:
    """A unit value typed the Brazilian way: "R$ 4.189,00", "4189", "4.189", "25,90".
    Raises PriceInputError for anything else ("4,189.00", "4.18", "", "-3", "R$ 0,00")."""
    raw = _CURRENCY.sub("", text.strip().replace("\u00a0", " ")).strip()
    if not raw:
        raise PriceInputError(t.BAD_VALUE.format(value=text.strip()))
    if not re.fullmatch(r"[\d.,]+", raw):
        raise PriceInputError(t.BAD_VALUE.format(value=text.strip()))
    try:
        value = parse_decimal(raw, locale=LOCALE, strict=True)
    except (NumberFormatError, InvalidOperation):
        raise PriceInputError(t.BAD_VALUE.format(value=text.strip())) from None
    if value <= 0:
        raise PriceInputError(t.VALUE_NOT_POSITIVE.format(value=text.strip()))
    if value >= MAX_VALUE:
        raise PriceInputError(t.VALUE_TOO_LARGE.format(value=text.strip()))
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise PriceInputError(t.VALUE_TOO_PRECISE.format(value=text.strip()))
    return value


def money(value: Decimal) -> str:
    """R$ as the document writes it: "R$ 4.189,00" (an ordinary space after R$)."""
    places = max(2, -int(value.normalize().as_tuple().exponent)) if value % 1 else 2
    pattern = "¤ #,##0." + "0" * min(places, 4)
    text = format_currency(value, "BRL", format=pattern, locale=LOCALE, currency_digits=False)
    return text.replace("\u00a0", " ")


def number(value: Decimal, places: int = 2) -> str:
    text = format_decimal(value, format="#,##0." + "#" * places, locale=LOCALE)
    return text.replace("\u00a0", " ")


def percent(value: Decimal, places: int = 1) -> str:
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(value * 100, format=pattern, locale=LOCALE) + "%"


_DATE = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s*(?:,|às|as|-)?\s*(\d{1,2})[:h](\d{2}))?\s*$",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?\s*$")


def parse_date(text: str, today: date) -> tuple[date, str]:
    """A date "dd/mm/aaaa" (or "dd/mm/aa", or ISO), with an optional time "14:30" or "14h30":
    (the date, the time "HH:MM" or ""). A future date is refused."""
    match = _DATE.match(text) or _ISO_DATE.match(text)
    if match is None:
        raise PriceInputError(t.BAD_DATE.format(value=text.strip()))
    a, b, c, hour, minute = match.groups()
    if match.re is _ISO_DATE:
        year, month, day = int(a), int(b), int(c)
    else:
        day, month, year = int(a), int(b), int(c)
        if year < 100:
            year += 2000
    try:
        when = date(year, month, day)
        time = ""
        if hour is not None:
            time = datetime(year, month, day, int(hour), int(minute)).strftime("%H:%M")
    except ValueError:
        raise PriceInputError(t.BAD_DATE.format(value=text.strip())) from None
    if when > today:
        raise PriceInputError(t.FUTURE_DATE.format(value=text.strip()))
    if when.year < 2000:
        raise PriceInputError(t.BAD_DATE.format(value=text.strip()))
    return when, time


def looks_like_date(text: str) -> bool:
    return bool(_DATE.match(text) or _ISO_DATE.match(text))


def looks_like_money(text: str) -> bool:
    raw = _CURRENCY.sub("", text.strip()).strip()
    return bool(re.fullmatch(r"\d[\d.,]*", raw)) and (
        bool(_CURRENCY.match(text)) or not re.fullmatch(r"\d{1,2}/\d", raw)
    )


@dataclass(frozen=True, slots=True)
class Quantity:
    """Section IV's total quantity as data: what the estimate multiplies."""

    amount: Decimal
    unit: str

    def to_json(self) -> dict[str, str]:
        return {"amount": str(self.amount), "unit": self.unit}

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> Quantity | None:
        if not data:
            return None
        return Quantity(Decimal(str(data["amount"])), str(data.get("unit", "")))

    def text(self) -> str:
        return f"{number(self.amount, 4)} {self.unit}".strip()


_QUANTITY = re.compile(r"^\s*([\d.,]+)\s+([^\d\s].{0,59}?)\s*\.?\s*$")


def parse_quantity(text: str) -> Quantity:
    """ "120 resmas", "1.500 litros", "12,5 m²": a number, then its unit."""
    match = _QUANTITY.match(text.replace("\u00a0", " "))
    if match is None:
        raise PriceInputError(t.BAD_QUANTITY.format(value=text.strip()[:80]))
    try:
        amount = parse_decimal(match.group(1), locale=LOCALE, strict=True)
    except (NumberFormatError, InvalidOperation):
        raise PriceInputError(t.BAD_QUANTITY.format(value=text.strip()[:80])) from None
    if amount <= 0 or amount >= MAX_VALUE:
        raise PriceInputError(t.BAD_QUANTITY.format(value=text.strip()[:80]))
    return Quantity(amount, match.group(2).strip())


# --- the table -----------------------------------------------------------------------------


@dataclass(slots=True)
class Quote:
    """One price of the series. `decision`: the team's on a flagged or any price ("excluded" or
    "kept", with `reason`); "" while none was taken."""

    kind: SourceKind
    source: str
    when: date
    value: Decimal
    time: str = ""
    by: str = ""
    decision: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "source": self.source,
            "date": self.when.isoformat(),
            "time": self.time,
            "value": str(self.value),
            "by": self.by,
            "decision": self.decision,
            "reason": self.reason,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Quote:
        return Quote(
            kind=SourceKind(data["kind"]),
            source=str(data.get("source", "")),
            when=date.fromisoformat(data["date"]),
            value=Decimal(str(data["value"])),
            time=str(data.get("time", "")),
            by=str(data.get("by", "")),
            decision=str(data.get("decision", "")),
            reason=str(data.get("reason", "")),
        )


_SEPARATORS = re.compile(r"\s*(?:;|\t|\s\|\s)\s*")
_CNPJ = re.compile(r"\b\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}\b")


def parse_line(line: str, today: date, kind: SourceKind | None = None) -> Quote:
    """One price: "fornecedor; Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90; 10/11/2026;
    R$ 25,90". The fields (kind, identification, date, value) may come in any order, separated
    by ";" (or tabs, from a spreadsheet); the kind may be left out when `kind` was chosen."""
    fields = [f for f in _SEPARATORS.split(line.strip()) if f]
    if len(fields) < 3 or len(fields) > 6:
        raise PriceInputError(t.BAD_LINE.format(line=line.strip()[:120]))
    found_kind: SourceKind | None = None
    found_date: tuple[date, str] | None = None
    found_value: Decimal | None = None
    rest: list[str] = []
    for f in fields:
        named = kind_named(f)
        if named is not None and found_kind is None:
            found_kind = named
        elif looks_like_date(f) and found_date is None:
            found_date = parse_date(f, today)
        elif looks_like_money(f) and found_value is None:
            found_value = parse_money(f)
        else:
            rest.append(f)
    found_kind = found_kind or kind
    if found_kind is None:
        raise PriceInputError(t.NO_KIND.format(line=line.strip()[:120]))
    if found_value is None:
        bad = next((f for f in rest if re.search(r"\d", f) and _CURRENCY.match(f)), None)
        if bad is not None:
            parse_money(bad)  # raises the value's own message
        raise PriceInputError(t.NO_VALUE.format(line=line.strip()[:120]))
    if found_date is None:
        raise PriceInputError(t.NO_DATE.format(line=line.strip()[:120]))
    source = "; ".join(rest).strip()
    if not source:
        raise PriceInputError(t.NO_SOURCE.format(line=line.strip()[:120]))
    if len(source) > MAX_SOURCE:
        raise PriceInputError(t.SOURCE_TOO_LONG.format(limit=MAX_SOURCE))
    when, time = found_date
    return Quote(found_kind, source, when, found_value, time)


def quote_warnings(quote: Quote) -> list[str]:
    """What a price lacks that the instrução asks of its kind (recorded, not refused)."""
    warnings: list[str] = []
    if RULES[quote.kind].needs_time and not quote.time:
        warnings.append(t.WARN_NO_TIME)
    if quote.kind is SourceKind.FORNECEDOR and not _CNPJ.search(quote.source):
        warnings.append(t.WARN_NO_CNPJ)
    return warnings


def age_limit(quote: Quote, on: date) -> date | None:
    """The oldest date the quote's kind admits on `on` (None: no limit)."""
    months = RULES[quote.kind].max_age_months
    return None if months is None else _months_before(on, months)


@lru_cache(maxsize=256)
def _months_before(on: date, months: int) -> date:
    # calendar months (dateutil): 31/08 minus 6 months is 28/02 or 29/02, never an error
    return on - relativedelta(months=months)


def expired(quote: Quote, on: date) -> bool:
    limit = age_limit(quote, on)
    return limit is not None and quote.when < limit


@dataclass(frozen=True, slots=True)
class Figures:
    """The series' statistics over the valid prices."""

    n: int
    mean: Decimal
    median: Decimal
    lowest: Decimal
    highest: Decimal
    stdev: Decimal | None  # sample standard deviation (n ≥ 2)
    cv: Decimal | None  # stdev / mean

    @property
    def suggested(self) -> Method:
        """Common practice, never imposed: CV ≤ 25 % → the mean, otherwise the median."""
        return Method.MEAN if self.cv is not None and self.cv <= CV_MEAN_LIMIT else Method.MEDIAN

    def value(self, method: Method) -> Decimal:
        return {Method.MEAN: self.mean, Method.MEDIAN: self.median, Method.LOWEST: self.lowest}[
            method
        ]


def figures(values: list[Decimal]) -> Figures | None:
    if not values:
        return None
    mean = statistics.mean(values)
    stdev = statistics.stdev(values) if len(values) >= 2 else None
    return Figures(
        n=len(values),
        mean=mean,
        median=statistics.median(values),
        lowest=min(values),
        highest=max(values),
        stdev=stdev,
        cv=(stdev / mean) if stdev is not None and mean else None,
    )


def places(values: list[Decimal]) -> int:
    """The decimal places the estimate keeps: 2 (cents), or the series' own up to 4."""
    most = max((-int(v.normalize().as_tuple().exponent) for v in values), default=2)
    return min(max(2, most), 4)


def rounded(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class Research:
    """Section VI's price research. `closed`: the team finished the table (its date is
    `on`, the date the ages are counted to). The reasons are the team's words, kept as
    they were typed."""

    quotes: list[Quote] = field(default_factory=list)
    closed: bool = False
    on: date | None = None
    method: Method | None = None
    fewer_reason: str = ""  # art. 6º, § 5º
    sources_reason: str = ""  # art. 5º, § 1º
    supplier_choice: str = ""  # art. 5º, IV; art. 3º, VIII
    method_reason: str = ""  # why the method (art. 3º, VI), when it departs from the practice
    confidential: bool | None = None  # art. 18, § 1º, VI with art. 24
    confidential_reason: str = ""  # art. 24: the secrecy is justified
    pending_kind: SourceKind | None = None  # the kind chosen by a button for the next lines
    pending_decision: tuple[int, str] | None = None  # (price index, "excluded"|"kept")
    stale: bool = False  # the figures changed after section VI's text was written
    authors: list[str] = field(default_factory=list)  # who entered or decided (display names)

    def to_json(self) -> dict[str, Any]:
        return {
            "quotes": [q.to_json() for q in self.quotes],
            "closed": self.closed,
            "on": self.on.isoformat() if self.on else None,
            "method": self.method.value if self.method else None,
            "fewer_reason": self.fewer_reason,
            "sources_reason": self.sources_reason,
            "supplier_choice": self.supplier_choice,
            "method_reason": self.method_reason,
            "confidential": self.confidential,
            "confidential_reason": self.confidential_reason,
            "pending_kind": self.pending_kind.value if self.pending_kind else None,
            "pending_decision": list(self.pending_decision) if self.pending_decision else None,
            "stale": self.stale,
            "authors": list(self.authors),
        }

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> Research:
        data = data or {}
        pending = data.get("pending_decision")
        return Research(
            quotes=[Quote.from_json(q) for q in data.get("quotes", [])],
            closed=bool(data.get("closed", False)),
            on=date.fromisoformat(data["on"]) if data.get("on") else None,
            method=Method(data["method"]) if data.get("method") else None,
            fewer_reason=str(data.get("fewer_reason", "")),
            sources_reason=str(data.get("sources_reason", "")),
            supplier_choice=str(data.get("supplier_choice", "")),
            method_reason=str(data.get("method_reason", "")),
            confidential=data.get("confidential"),
            confidential_reason=str(data.get("confidential_reason", "")),
            pending_kind=SourceKind(data["pending_kind"]) if data.get("pending_kind") else None,
            pending_decision=(int(pending[0]), str(pending[1])) if pending else None,
            stale=bool(data.get("stale", False)),
            authors=[str(a) for a in data.get("authors", [])],
        )

    # -- the series --

    def date_of_research(self, today: date) -> date:
        return self.on or today

    def expired(self, index: int, today: date) -> bool:
        return expired(self.quotes[index], self.date_of_research(today))

    def candidates(self, today: date) -> list[int]:
        """Prices outside the stated criterion (OUTLIER_LOW/HIGH times the median of the
        prices within their age), for the team to keep or exclude; none below 3 prices."""
        current = [i for i in range(len(self.quotes)) if not self.expired(i, today)]
        if len(current) < 3:
            return []
        median = statistics.median([self.quotes[i].value for i in current])
        return [
            i
            for i in current
            if self.quotes[i].value < median * OUTLIER_LOW
            or self.quotes[i].value > median * OUTLIER_HIGH
        ]

    def undecided(self, today: date) -> list[int]:
        return [i for i in self.candidates(today) if not self.quotes[i].decision]

    def valid(self, today: date) -> list[int]:
        """The prices the estimate is computed on: within their age, not excluded."""
        return [
            i
            for i, q in enumerate(self.quotes)
            if q.decision != "excluded" and not self.expired(i, today)
        ]

    def figures(self, today: date) -> Figures | None:
        return figures([self.quotes[i].value for i in self.valid(today)])

    def kinds(self, today: date) -> set[SourceKind]:
        return {self.quotes[i].kind for i in self.valid(today)}

    def painel_only(self, today: date) -> bool:
        return self.kinds(today) == {SourceKind.PAINEL}

    def unit_price(self, today: date) -> Decimal | None:
        stats = self.figures(today)
        if stats is None or self.method is None:
            return None
        values = [self.quotes[i].value for i in self.valid(today)]
        return rounded(stats.value(self.method), places(values))

    def total(self, quantity: Quantity | None, today: date) -> Decimal | None:
        unit = self.unit_price(today)
        if unit is None or quantity is None:
            return None
        return rounded(unit * quantity.amount, 2)

    def warnings(self) -> list[tuple[int, str]]:
        return [(i, w) for i, q in enumerate(self.quotes) for w in quote_warnings(q)]

    def gaps(self) -> list[str]:
        """What the research still lacks, for the document's pendências."""
        gaps: list[str] = []
        missing_time = [i + 1 for i, w in self.warnings() if w == t.WARN_NO_TIME]
        missing_cnpj = [i + 1 for i, w in self.warnings() if w == t.WARN_NO_CNPJ]
        if missing_time:
            gaps.append(t.GAP_NO_TIME.format(lines=_lines(missing_time)))
        if missing_cnpj:
            gaps.append(t.GAP_NO_CNPJ.format(lines=_lines(missing_cnpj)))
        return gaps

    def series_median(self, today: date) -> Decimal | None:
        """The median the flags are measured against: of the prices within their age."""
        current = [q.value for i, q in enumerate(self.quotes) if not self.expired(i, today)]
        return statistics.median(current) if current else None

    def share(self, index: int, today: date) -> str:
        """Price `index` as a share of the series' median ("153%")."""
        median = self.series_median(today)
        if not median:
            return ""
        return percent(self.quotes[index].value / median, 0)

    def edital_deadline(self, today: date) -> date | None:
        """The last day the edital may be published with every valid price of incisos III-V
        still within its age (counted to the edital's publication by the instrução)."""
        ends = [
            self.quotes[i].when
            + relativedelta(months=RULES[self.quotes[i].kind].max_age_months or 0)
            for i in self.valid(today)
            if self.quotes[i].kind in EDITAL_COUNTED
        ]
        return min(ends) if ends else None


def _lines(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return t.LINE_ONE.format(n=numbers[0])
    return t.LINE_MANY.format(n=_list(numbers))


def _list(numbers: list[int]) -> str:
    texts = [str(n) for n in numbers]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " e " + texts[-1]


class Need(StrEnum):
    """What the research asks next, derived from its data (nothing else is stored)."""

    COLLECT = "collect"
    DECIDE = "decide"  # keep or exclude a flagged price
    FEWER = "fewer"  # why fewer than 3 prices
    SOURCES = "sources"  # why no price of incisos I or II
    SUPPLIERS = "suppliers"  # how the suppliers were chosen
    METHOD = "method"
    METHOD_REASON = "method_reason"
    QUANTITY = "quantity"
    CONFIDENTIAL = "confidential"
    CONFIDENTIAL_REASON = "confidential_reason"
    DONE = "done"


def next_need(research: Research, quantity: Quantity | None, today: date) -> Need:
    if not research.closed:
        return Need.COLLECT
    if research.undecided(today) or research.pending_decision is not None:
        return Need.DECIDE
    if not research.valid(today):
        return Need.COLLECT
    if len(research.valid(today)) < 3 and not research.fewer_reason:
        return Need.FEWER
    if not (research.kinds(today) & PRIORITY) and not research.sources_reason:
        return Need.SOURCES
    if SourceKind.FORNECEDOR in research.kinds(today) and not research.supplier_choice:
        return Need.SUPPLIERS
    if research.method is None:
        return Need.METHOD
    stats = research.figures(today)
    if (
        stats is not None
        and stats.cv is not None
        and research.method is not stats.suggested
        and not research.method_reason
    ):
        return Need.METHOD_REASON
    if quantity is None:
        return Need.QUANTITY
    if research.confidential is None:
        return Need.CONFIDENTIAL
    if research.confidential and not research.confidential_reason:
        return Need.CONFIDENTIAL_REASON
    return Need.DONE


# a reason typed as the rest of a sentence ("excluir, pois o valor..."): the connective goes,
# the document writes "excluído: o valor..."
_CONNECTIVE = re.compile(
    r"^(?:pois|porque|já que|ja que|uma vez que|dado que|visto que|tendo em vista que)\b[\s,]*",
    re.IGNORECASE,
)


def check_reason(text: str) -> str:
    """A reason the document prints as the team's: some words, bounded in size."""
    text = _CONNECTIVE.sub("", text.strip()).strip()
    if len(re.findall(r"[^\W\d_]{2,}", text[:MAX_REASON])) < MIN_REASON_WORDS:
        raise PriceInputError(t.REASON_TOO_SHORT.format(words=MIN_REASON_WORDS))
    if len(text) > MAX_REASON:
        raise PriceInputError(t.REASON_TOO_LONG.format(limit=MAX_REASON))
    return text


def method_allowed(research: Research, method: Method, today: date) -> None:
    """Art. 6º, § 6º: with prices of the Painel (inciso I) alone, the estimate may not exceed
    the median. Raises PriceInputError when `method` would."""
    stats = research.figures(today)
    if stats is None:
        raise PriceInputError(t.NO_VALID_PRICES)
    if research.painel_only(today) and stats.value(method) > stats.median:
        raise PriceInputError(
            t.PAINEL_CEILING.format(value=money(stats.value(method)), median=money(stats.median))
        )


# --- what the chat, the drafters and the document print ----------------------------------


def _continuing(text: str) -> str:
    """A reason as it continues a sentence after a colon (its final stop is the template's)."""
    return after_colon(text.strip().rstrip("."))


def _date(when: date) -> str:
    return when.strftime("%d/%m/%Y")


def quote_flags(research: Research, index: int, today: date, flagged: frozenset[int]) -> str:
    quote = research.quotes[index]
    rule = RULES[quote.kind]
    flags = ""
    if research.expired(index, today):
        flags += t.FLAG_EXPIRED.format(inciso=rule.inciso, months=rule.max_age_months)
    elif quote.decision == "excluded":
        flags += t.FLAG_EXCLUDED.format(reason=quote.reason)
    elif quote.decision == "kept":
        flags += t.FLAG_KEPT.format(reason=quote.reason)
    elif index in flagged:
        flags += t.FLAG_CANDIDATE.format(share=research.share(index, today))
    for warning in quote_warnings(quote):
        flags += t.FLAG_WARNING.format(warning=warning)
    return flags


def table_text(research: Research, today: date) -> str:
    """The table as the chat shows it after each change, with its figures."""
    if not research.quotes:
        return t.TABLE_EMPTY
    lines = [t.TABLE_TITLE.format(count=len(research.quotes))]
    flagged = frozenset(research.candidates(today))
    for i, quote in enumerate(research.quotes):
        lines.append(
            t.TABLE_LINE.format(
                n=i + 1,
                kind=t.KIND_SHORT[quote.kind],
                inciso=RULES[quote.kind].inciso,
                source=quote.source,
                date=_date(quote.when),
                time=f" {quote.time}" if quote.time else "",
                value=money(quote.value),
                flags=quote_flags(research, i, today, flagged),
            )
        )
    stats = research.figures(today)
    if stats is not None:
        lines.append(stats_text(stats))
    return "\n".join(lines)


def in_words(n: int) -> str:
    return str(num2words(n, lang="pt_BR"))


def money_in_words(value: Decimal) -> str:
    """ "trinta mil e trezentos reais" (num2words)."""
    return str(num2words(value, lang="pt_BR", to="currency"))


def prices_count(n: int) -> str:
    return t.PRICES_ONE if n == 1 else t.PRICES_MANY.format(n=n, words=in_words(n))


def valid_count(n: int) -> str:
    return t.VALID_COUNT_ONE if n == 1 else t.VALID_COUNT_MANY.format(n=n, words=in_words(n))


def stats_text(stats: Figures) -> str:
    if stats.n == 1:
        return t.STATS_ONE.format(lowest=money(stats.lowest))
    spread = ""
    if stats.stdev is not None and stats.cv is not None:
        spread = t.STATS_SPREAD.format(stdev=money(rounded(stats.stdev, 2)), cv=percent(stats.cv))
    return t.STATS.format(
        valid=t.VALID_MANY.format(n=stats.n, words=in_words(stats.n)),
        mean=money(rounded(stats.mean, 2)),
        median=money(rounded(stats.median, 2)),
        lowest=money(stats.lowest),
        highest=money(stats.highest),
        spread=spread,
    )


def _kinds_text(research: Research, today: date) -> str:
    kinds = sorted({q.kind for q in research.quotes}, key=lambda k: list(SourceKind).index(k))
    names = [f"{t.KIND_DOC[k]} (inciso {RULES[k].inciso})" for k in kinds]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " e " + names[-1]


def facts(research: Research, quantity: Quantity | None, today: date) -> list[str]:
    """The research as sentences: what the drafters state and the document prints. Every
    figure is computed here; the offline drafter writes these sentences as they are, and the
    LLM receives them as facts it may not alter. With the confidential option, no value."""
    on = research.date_of_research(today)
    if research.confidential:
        return [
            t.DOC_RESEARCH.format(
                date=_date(on),
                prices=prices_count(len(research.quotes)),
                kinds=_kinds_text(research, on),
            ),
            t.DOC_SECRET.format(reason=_continuing(research.confidential_reason)),
        ]
    out = [
        t.DOC_RESEARCH.format(
            date=_date(on),
            prices=prices_count(len(research.quotes)),
            kinds=_kinds_text(research, on),
        )
    ]
    flagged = frozenset(research.candidates(on))
    for i, quote in enumerate(research.quotes):
        kind = t.KIND_SHORT[quote.kind].lower()
        if research.expired(i, on):
            out.append(
                t.DOC_EXPIRED.format(
                    n=i + 1,
                    value=money(quote.value),
                    kind=kind,
                    date=_date(quote.when),
                    inciso=RULES[quote.kind].inciso,
                )
            )
        elif quote.decision == "excluded":
            out.append(
                t.DOC_EXCLUDED.format(
                    n=i + 1,
                    value=money(quote.value),
                    kind=kind,
                    position=t.DOC_POSITION.format(share=research.share(i, on))
                    if i in flagged
                    else "",
                    reason=_continuing(quote.reason),
                )
            )
        elif quote.decision == "kept":
            out.append(
                t.DOC_KEPT.format(
                    n=i + 1,
                    value=money(quote.value),
                    share=research.share(i, on),
                    reason=_continuing(quote.reason),
                )
            )
    stats = research.figures(on)
    if stats is not None:
        out.append(stats_text(stats))
    if research.fewer_reason:
        out.append(t.DOC_FEWER.format(reason=_continuing(research.fewer_reason)))
    if research.sources_reason:
        out.append(t.DOC_SOURCES.format(reason=_continuing(research.sources_reason)))
    if research.supplier_choice:
        out.append(t.DOC_SUPPLIERS.format(reason=_continuing(research.supplier_choice)))
    if research.method is not None:
        out.append(t.DOC_METHOD.format(method=t.METHOD_NOUNS[research.method]))
        if research.method_reason:
            out.append(t.DOC_METHOD_REASON.format(reason=_continuing(research.method_reason)))
        elif stats is not None and stats.cv is not None and research.method is stats.suggested:
            why = (
                t.DOC_METHOD_WHY_MEAN if research.method is Method.MEAN else t.DOC_METHOD_WHY_MEDIAN
            )
            out.append(why.format(cv=percent(stats.cv)))
    unit = research.unit_price(on)
    total = research.total(quantity, on)
    if unit is not None and quantity is not None and total is not None:
        out.append(
            t.DOC_MEMORY.format(
                unit=money(unit),
                how=_how(research, on),
                quantity=quantity.text(),
                total=money(total),
                words=money_in_words(total),
            )
        )
    return out


def _amount(value: Decimal) -> str:
    """A value of the series without its currency: "24,50", "5,899"."""
    return format_decimal(value, format="#,##0.00##", locale=LOCALE).replace("\u00a0", " ")


def _how(research: Research, on: date) -> str:
    """How the unit price comes out of the valid prices, for the calculation memory."""
    values = [research.quotes[i].value for i in research.valid(on)]
    if research.method is Method.MEAN:
        joined = " + ".join(_amount(v) for v in values)
        return t.HOW_MEAN.format(values=joined, n=len(values))
    if research.method is Method.MEDIAN:
        return t.HOW_MEDIAN.format(values="; ".join(_amount(v) for v in sorted(values)))
    return t.HOW_LOWEST


def annex_table(research: Research, today: date) -> tuple[tuple[str, ...], ...]:
    """The price map (mapa comparativo de preços): a row a price, with its situation."""
    on = research.date_of_research(today)
    rows: list[tuple[str, ...]] = [t.ANNEX_HEAD]
    for i, quote in enumerate(research.quotes):
        rule = RULES[quote.kind]
        if research.expired(i, on):
            situation = t.ANNEX_EXPIRED.format(inciso=rule.inciso)
        elif quote.decision == "excluded":
            situation = t.ANNEX_EXCLUDED.format(reason=quote.reason)
        elif quote.decision == "kept":
            situation = t.ANNEX_KEPT.format(reason=quote.reason)
        else:
            situation = t.ANNEX_VALID
        rows.append(
            (
                str(i + 1),
                f"{t.KIND_SHORT[quote.kind]} ({rule.inciso})",
                quote.source,
                _date(quote.when) + (f" {quote.time}" if quote.time else ""),
                money(quote.value),
                situation,
            )
        )
    return tuple(rows)


def annex_paragraphs(
    research: Research, quantity: Quantity | None, today: date, objeto: str = ""
) -> list[str]:
    """What the price map states with its table: the object, the sources, the criterion, the
    age limits, the figures, the method and the calculation memory (the values too when the
    annex is the confidential one)."""
    on = research.date_of_research(today)
    shown = Research.from_json({**research.to_json(), "confidential": False})
    out = [p for p in facts(shown, quantity, on) if p]
    out[0] = t.DOC_RESEARCH_ANNEX.format(
        date=_date(on), prices=prices_count(len(research.quotes)), kinds=_kinds_text(research, on)
    )
    extra = []
    median = research.series_median(on)
    if median is not None:
        extra.append(
            t.DOC_CRITERION.format(
                low=percent(OUTLIER_LOW, 0),
                high=percent(OUTLIER_HIGH, 0),
                median=money(rounded(median, 2)),
            )
        )
    extra.append(t.DOC_AGES)
    deadline = research.edital_deadline(on)
    if deadline is not None:
        extra.append(t.DOC_DEADLINE.format(date=_date(deadline)))
    out[1:1] = extra
    if objeto and quantity is not None:
        out.insert(0, t.DOC_OBJECT.format(objeto=objeto.rstrip("."), quantity=quantity.text()))
    if research.confidential:
        out.insert(0, t.ANNEX_SECRET_NOTE.format(reason=_continuing(research.confidential_reason)))
    return out


def to_document_json(research: Research, quantity: Quantity | None, today: date) -> dict[str, Any]:
    """The research for the JSON export: the table, the figures and the estimate."""
    on = research.date_of_research(today)
    stats = research.figures(on)
    unit = research.unit_price(on)
    total = research.total(quantity, on)
    rows = []
    flagged = frozenset(research.candidates(on))
    for i, quote in enumerate(research.quotes):
        situation = "valid"
        if research.expired(i, on):
            situation = "expired"
        elif quote.decision == "excluded":
            situation = "excluded"
        rows.append(
            {
                "n": i + 1,
                "kind": quote.kind.value,
                "inciso": RULES[quote.kind].inciso,
                "source": quote.source,
                "date": quote.when.isoformat(),
                "time": quote.time,
                "unit_value": str(quote.value),
                "situation": situation,
                "flagged": i in flagged,
                "decision": quote.decision,
                "reason": quote.reason,
            }
        )

    def dec(value: Decimal | None) -> str | None:
        return None if value is None else str(rounded(value, 4))

    return {
        "date": on.isoformat() if research.closed else None,
        "closed": research.closed,
        "prices": rows,
        "criterion": {"low": str(OUTLIER_LOW), "high": str(OUTLIER_HIGH), "of": "median"},
        "statistics": None
        if stats is None
        else {
            "n": stats.n,
            "mean": dec(stats.mean),
            "median": dec(stats.median),
            "lowest": dec(stats.lowest),
            "highest": dec(stats.highest),
            "stdev": dec(stats.stdev),
            "cv": dec(stats.cv),
            "suggested_method": stats.suggested.value,
        },
        "method": research.method.value if research.method else None,
        "method_reason": research.method_reason,
        "fewer_reason": research.fewer_reason,
        "sources_reason": research.sources_reason,
        "supplier_choice": research.supplier_choice,
        "unit_price": str(unit) if unit is not None else None,
        "quantity": quantity.to_json() if quantity is not None else None,
        "total": str(total) if total is not None else None,
        "confidential": bool(research.confidential),
        "confidential_reason": research.confidential_reason,
        "edital_deadline": _iso(research.edital_deadline(on)),
    }


def _iso(when: date | None) -> str | None:
    return when.isoformat() if when else None
