"""The price research's rules as pure functions: Brazilian money, dates, lines, ages, the
statistics (against values computed by hand), the flags, and what the research asks next."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from conversations.pricing import (
    Method,
    Need,
    PriceInputError,
    Quantity,
    Quote,
    Research,
    SourceKind,
    check_reason,
    facts,
    figures,
    method_allowed,
    money,
    next_need,
    parse_date,
    parse_line,
    parse_money,
    parse_quantity,
)

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("R$ 4.189,00", "4189.00"),
        ("R$4.189,00", "4189.00"),
        ("4189", "4189"),
        ("4.189", "4189"),  # a dot groups thousands
        ("25,90", "25.90"),
        ("1.234.567,89", "1234567.89"),
        ("0,5", "0.5"),
        ("5,899", "5.899"),  # fuel: three decimal places
        ("r$ 12,00", "12.00"),
        ("R$\u00a04.189,00", "4189.00"),  # a non-breaking space, pasted from a spreadsheet
    ],
)
def test_brazilian_money_formats(typed: str, value: str) -> None:
    assert parse_money(typed) == Decimal(value)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("4,189.00", "formato brasileiro"),  # the American way round
        ("4.18", "formato brasileiro"),  # a thousands dot needs three digits after it
        ("", "formato brasileiro"),
        ("R$", "formato brasileiro"),
        ("doze reais", "formato brasileiro"),
        ("-3,00", "formato brasileiro"),
        ("R$ 0,00", "não é positivo"),
        ("1.000.000.000.000,00", "grande demais"),
        ("1,23456", "4 casas"),
        ("4 189,00", "formato brasileiro"),
    ],
)
def test_bad_money_is_refused_with_a_clear_message(typed: str, message: str) -> None:
    with pytest.raises(PriceInputError) as refused:
        parse_money(typed)
    assert message in str(refused.value) and "Nada foi registrado" in str(refused.value)


def test_money_prints_the_brazilian_way() -> None:
    assert money(Decimal("30240")) == "R$ 30.240,00"
    assert money(Decimal("25.2")) == "R$ 25,20"
    assert money(Decimal("5.899")) == "R$ 5,899"


def test_dates_with_and_without_the_time_of_access() -> None:
    assert parse_date("10/11/2026", TODAY) == (date(2026, 11, 10), "")
    assert parse_date("10/11/26", TODAY) == (date(2026, 11, 10), "")
    assert parse_date("20/11/2026 14:30", TODAY) == (date(2026, 11, 20), "14:30")
    assert parse_date("20/11/2026 às 9h05", TODAY) == (date(2026, 11, 20), "09:05")
    assert parse_date("2026-11-10", TODAY) == (date(2026, 11, 10), "")
    for bad, message in (
        ("31/02/2026", "como data"),
        ("ontem", "como data"),
        ("05/01/2027", "futura"),
        ("20/11/2026 25:00", "como data"),
    ):
        with pytest.raises(PriceInputError, match=message):
            parse_date(bad, TODAY)


def test_a_price_line_in_any_order_with_its_kind_named_or_chosen() -> None:
    quote = parse_line(
        "fornecedor; Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90; 10/11/2026; R$ 25,90", TODAY
    )
    assert quote.kind is SourceKind.FORNECEDOR
    assert quote.source == "Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90"
    assert (quote.when, quote.value) == (date(2026, 11, 10), Decimal("25.90"))
    # another order, a tab-separated paste, the kind as its inciso
    again = parse_line("R$ 25,90\t10/11/2026\tinciso IV\tPapelaria Alfa Ltda", TODAY)
    assert (again.kind, again.value, again.source) == (
        SourceKind.FORNECEDOR,
        Decimal("25.90"),
        "Papelaria Alfa Ltda",
    )
    # the kind chosen with a button: three fields are enough
    chosen = parse_line(
        "Ata 5/2026, Prefeitura de Campinas; 01/10/2026; 25,10", TODAY, SourceKind.SIMILAR
    )
    assert chosen.kind is SourceKind.SIMILAR


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # the issue's free text: no date, no source, not a price line
        (
            "Fizemos 3 cotações. Valor: R$ 170.000,00, entrega imediata.",
            "Informe um preço por linha",
        ),
        ("Papelaria Alfa; 10/11/2026; R$ 25,90", "Falta a fonte"),
        ("fornecedor; Papelaria Alfa; R$ 25,90", "Falta a data"),
        ("fornecedor; Papelaria Alfa; 10/11/2026; ontem", "Falta o valor"),
        ("fornecedor; Papelaria Alfa; hoje; R$ 25,90", "Falta a data"),
        ("fornecedor; 10/11/2026; R$ 25,90", "Falta a identificação da fonte"),
        ("fornecedor; Papelaria Alfa; 10/11/2026; 4,189.00", "formato brasileiro"),
        ("fornecedor; " + "x" * 400 + "; 10/11/2026; 25,90", "300 caracteres"),
    ],
)
def test_a_bad_line_is_refused_with_what_is_missing(line: str, message: str) -> None:
    with pytest.raises(PriceInputError, match=message):
        parse_line(line, TODAY)


def _research(
    *values: str, kind: SourceKind = SourceKind.FORNECEDOR, when: date = date(2026, 11, 10)
) -> Research:
    return Research(
        quotes=[Quote(kind, f"Fonte {i}", when, Decimal(v)) for i, v in enumerate(values, 1)],
        closed=True,
        on=TODAY,
    )


def test_statistics_against_values_computed_by_hand() -> None:
    stats = figures([Decimal(v) for v in ("24.50", "25.10", "26.00", "25.40")])
    assert stats is not None
    assert stats.n == 4
    assert stats.mean == Decimal("25.25")
    assert stats.median == Decimal("25.25")  # (25.10 + 25.40) / 2
    assert stats.lowest == Decimal("24.50") and stats.highest == Decimal("26.00")
    # deviations -0.75, -0.15, 0.75, 0.15: squares sum 1.17; / (n - 1) = 0.39; sqrt = 0.6245
    assert stats.stdev is not None and abs(stats.stdev - Decimal("0.6245")) < Decimal("0.0001")
    assert stats.cv is not None and abs(stats.cv - Decimal("0.02473")) < Decimal("0.00001")
    assert stats.suggested is Method.MEAN
    dispersed = figures([Decimal(v) for v in ("10", "20", "40")])
    assert dispersed is not None and dispersed.cv is not None and dispersed.cv > Decimal("0.25")
    assert dispersed.suggested is Method.MEDIAN
    single = figures([Decimal("10")])
    assert single is not None and single.stdev is None and single.cv is None


def test_the_issues_outlier_is_flagged_and_a_tight_series_is_not() -> None:
    # "R$ 100,00, R$ 100,00 e R$ 9.000,00; método: média" passed every check before
    assert _research("100", "100", "9000").candidates(TODAY) == [2]
    assert _research("25.90", "26.00", "26.10", "26.20", "27.50").candidates(TODAY) == []
    # low values too (possibly inexequível); below three prices nothing is flagged
    assert _research("10", "25", "26", "27").candidates(TODAY) == [0]
    assert _research("10", "100").candidates(TODAY) == []


def test_the_estimate_follows_the_method_and_the_exclusions() -> None:
    research = _research("24.50", "25.10", "26.00", "25.40", "38.90")
    research.quotes[4].decision, research.quotes[4].reason = "excluded", "frete incluído"
    research.method = Method.MEAN
    assert research.unit_price(TODAY) == Decimal("25.25")
    assert research.total(Quantity(Decimal("1200"), "resmas"), TODAY) == Decimal("30300.00")
    research.method = Method.MEDIAN
    assert research.unit_price(TODAY) == Decimal("25.25")
    research.method = Method.LOWEST
    assert research.unit_price(TODAY) == Decimal("24.50")
    # kept, the flagged price counts again
    research.quotes[4].decision = "kept"
    research.method = Method.MEAN
    assert research.unit_price(TODAY) == Decimal("27.98")  # 139.90 / 5


@pytest.mark.parametrize(
    ("kind", "when", "expired"),
    [
        (SourceKind.FORNECEDOR, date(2026, 6, 4), False),  # 6 months: the limit itself
        (SourceKind.FORNECEDOR, date(2026, 6, 3), True),
        (SourceKind.MIDIA, date(2026, 5, 1), True),
        (SourceKind.SIMILAR, date(2025, 12, 4), False),  # 1 year
        (SourceKind.SIMILAR, date(2025, 12, 3), True),
        (SourceKind.NFE, date(2025, 11, 30), True),
        (SourceKind.PAINEL, date(2024, 1, 1), False),  # art. 5º, I sets no age
    ],
)
def test_each_source_kind_has_its_age_limit(kind: SourceKind, when: date, expired: bool) -> None:
    research = Research(quotes=[Quote(kind, "Fonte", when, Decimal("10"))], closed=True, on=TODAY)
    assert research.expired(0, TODAY) is expired
    assert (research.valid(TODAY) == []) is expired


def test_what_the_research_asks_next() -> None:
    quantity = Quantity(Decimal("1200"), "resmas")
    research = _research("25.00", "26.00")
    research.closed = False
    assert next_need(research, quantity, TODAY) is Need.COLLECT
    research.closed = True
    assert next_need(research, quantity, TODAY) is Need.FEWER  # 2 prices: the exception
    research.fewer_reason = "Só dois fornecedores atuam no ramo na região."
    assert next_need(research, quantity, TODAY) is Need.SOURCES  # no inciso I or II
    research.sources_reason = "O item não consta do Painel de Preços nem de atas vigentes."
    assert next_need(research, quantity, TODAY) is Need.SUPPLIERS
    research.supplier_choice = "Fornecedores cadastrados no SICAF."
    assert next_need(research, quantity, TODAY) is Need.METHOD
    research.method = Method.MEDIAN  # CV 2,8 %: the practice suggests the mean
    assert next_need(research, quantity, TODAY) is Need.METHOD_REASON
    research.method_reason = "A equipe prefere a mediana por prudência."
    assert next_need(research, None, TODAY) is Need.QUANTITY
    assert next_need(research, quantity, TODAY) is Need.CONFIDENTIAL
    research.confidential = True  # art. 24: the secrecy needs its justification
    assert next_need(research, quantity, TODAY) is Need.CONFIDENTIAL_REASON
    research.confidential = False
    assert next_need(research, quantity, TODAY) is Need.DONE


def test_priority_sources_and_three_prices_ask_nothing_more() -> None:
    research = _research("25.00", "25.50", "26.00", kind=SourceKind.PAINEL)
    research.method = Method.MEAN
    research.confidential = False
    assert next_need(research, Quantity(Decimal("10"), "un"), TODAY) is Need.DONE


def test_a_flagged_price_waits_for_the_teams_decision() -> None:
    research = _research("100", "100", "9000", kind=SourceKind.PAINEL)
    assert next_need(research, None, TODAY) is Need.DECIDE
    research.quotes[2].decision, research.quotes[2].reason = "excluded", "valor excessivo"
    # two valid prices left: now the exception must be justified
    assert next_need(research, None, TODAY) is Need.FEWER


def test_with_painel_prices_alone_the_estimate_may_not_exceed_the_median() -> None:
    research = _research("10", "11", "15", kind=SourceKind.PAINEL)  # mean 12 > median 11
    with pytest.raises(PriceInputError, match="mediana"):
        method_allowed(research, Method.MEAN, TODAY)
    method_allowed(research, Method.MEDIAN, TODAY)
    method_allowed(research, Method.LOWEST, TODAY)
    research.quotes.append(Quote(SourceKind.SIMILAR, "Ata", date(2026, 10, 1), Decimal("12")))
    method_allowed(research, Method.MEAN, TODAY)  # not the Painel alone any more


def test_reasons_need_words_and_lose_a_leading_connective() -> None:
    assert (
        check_reason("pois o valor inclui frete não previsto")
        == "o valor inclui frete não previsto"
    )
    for weak in ("x", "não sei", "porque sim"):
        with pytest.raises(PriceInputError, match="ao menos"):
            check_reason(weak)


def test_quantity_as_number_and_unit() -> None:
    assert parse_quantity("1.200 resmas") == Quantity(Decimal("1200"), "resmas")
    assert parse_quantity("12,5 m²") == Quantity(Decimal("12.5"), "m²")
    for bad in ("muitas resmas", "120", "0 resmas", "resmas 120"):
        with pytest.raises(PriceInputError, match="quantidade"):
            parse_quantity(bad)


def test_the_confidential_research_states_no_value() -> None:
    research = _research("24.50", "25.10", "26.00", kind=SourceKind.PAINEL)
    research.method, research.confidential = Method.MEDIAN, True
    research.confidential_reason = "Evitar que o valor oriente as propostas."
    text = " ".join(facts(research, Quantity(Decimal("1200"), "resmas"), TODAY))
    assert "R$" not in text and "anexo sigiloso" in text and "art. 24" in text
    assert "Justificativa do sigilo: evitar que o valor oriente as propostas." in text
    research.confidential = False
    text = " ".join(facts(research, Quantity(Decimal("1200"), "resmas"), TODAY))
    assert (
        "R$ 25,10 (mediana dos valores ordenados: 24,50; 25,10; 26,00) × quantidade de 1.200 "
        in text
    )
    assert "= valor total estimado de R$ 30.120,00 (trinta mil, cento e vinte reais)." in text


def test_the_research_round_trips_through_json() -> None:
    research = _research("24.50", "38.90")
    research.quotes[1].decision, research.quotes[1].reason = "excluded", "frete"
    research.method, research.pending_decision = Method.LOWEST, (0, "kept")
    assert Research.from_json(research.to_json()) == research
