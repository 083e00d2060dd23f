"""A document an official can file in SEI, read back in every format (python-docx, pypdf, the
HTML's text, the Markdown): numbered items, the identification said once in the header, place
and date, the team's names (never a chat handle), annexes, the approval block, and the order of
IN SEGES/ME nº 58/2022 end to end (headings, numbering, cross-references, mandatory set)."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from conversations.catalogue import messages as m
from conversations.catalogue.in58 import IN58_MANDATORY, IN58_TITLES
from conversations.catalogue.sections import BY_NUMBER, SECTIONS
from conversations.export import export
from conversations.export.annexes import Annex, register_annex
from conversations.export.document import build_document
from conversations.model import Etp
from conversations.replies import Document
from etp.settings import DocumentSettings
from tests.helpers import (
    GOOD_ANSWERS,
    SKIP_JUSTIFICATIONS,
    Chat,
    load_etp,
    make_app,
    make_chat,
)

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TEAM = "Maria Silva; Analista Administrativa; 1234567"
IDENT = [
    "Secretaria Municipal de Educação",
    "Departamento de Administração Escolar",
    "brasília - df",
    "Processo Administrativo SEI nº 23000.001234/2026-11",
    "DFD nº 45/2026",
    "ETP nº 7/2026",
    "Aquisição de 40 notebooks para as escolas municipais",
    TEAM,
    "/aceitar",
    "Não há portaria de designação.",
]
# section IX, as an official writes it: two paragraphs, a cross-reference in the law's numbering
IX_TEXT = (
    "Redução de 20% no tempo de tramitação, conforme a seção IV (estimativa das quantidades).\n\n"
    "A solução descrita no art. 18, §1º, inciso VII, da Lei nº 14.133/2021 atende à meta."
)
APPROVAL = [m.DOC_APPROVAL_TEXT, *m.DOC_APPROVAL_FIELDS]


async def _answer_all(chat: Chat) -> None:
    for number in range(1, 14):
        if number in SKIP_JUSTIFICATIONS:
            await chat.say(f"/pular {SKIP_JUSTIFICATIONS[number]}")
        else:
            await chat.answer_section(number)
    await chat.say("/secao 9")
    await chat.say(f"/editar {IX_TEXT}")


def _build(template: Path, folder: Path) -> Etp:
    async def run() -> Etp:
        path = folder / "filed.db"
        shutil.copy(template, path)
        app = await make_app(f"sqlite+aiosqlite:///{path}")
        try:
            chat = make_chat(app, name="root")  # the console's chat handle, not a person's name
            await chat.say("/novo Notebooks")
            for line in IDENT:
                await chat.say(line)
            await _answer_all(chat)
            return await load_etp(app, 1)
        finally:
            await app.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def filed(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Etp:
    etp = _build(sqlite_template, tmp_path_factory.mktemp("filed"))
    assert etp.complete()
    return etp


def _docx_paragraphs(etp: Etp, order: str = "law") -> tuple[list[str], docx.document.Document]:
    document = docx.Document(io.BytesIO(export(etp, "docx", now=NOW, order=order).content))
    return [p.text for p in document.paragraphs], document


def _pdf_text(etp: Etp, order: str = "law") -> str:
    reader = PdfReader(io.BytesIO(export(etp, "pdf", now=NOW, order=order).content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("p", "li", "h1", "h2", "td", "th"):
            self.blocks.append("")

    def handle_data(self, data: str) -> None:
        if self.blocks:
            self.blocks[-1] += data


def _html_blocks(etp: Etp, order: str = "law") -> list[str]:
    parser = _Text()
    parser.feed(export(etp, "html", now=NOW, order=order).content.decode("utf-8"))
    return [b.strip() for b in parser.blocks]


def _markdown(etp: Etp, order: str = "law") -> str:
    return export(etp, "md", now=NOW, order=order).content.decode("utf-8")


def _rendered_texts(etp: Etp, order: str = "law") -> Iterator[tuple[str, str]]:
    """Each format's whole text, for what every format must (or must not) say."""
    paragraphs, document = _docx_paragraphs(etp, order)
    cells = ["\t".join(c.text for c in row.cells) for t in document.tables for row in t.rows]
    yield "docx", "\n".join(paragraphs + cells)
    yield "pdf", _pdf_text(etp, order)
    yield "html", "\n".join(_html_blocks(etp, order))
    yield "md", _markdown(etp, order)


# --- numbered items, header, closing ----------------------------------------------------


def test_docx_numbers_sections_and_each_paragraph_as_citable_items(filed: Etp) -> None:
    paragraphs, document = _docx_paragraphs(filed)
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert [h for h in headings if h[0].isdigit()] == [f"{s.number}. {s.title}" for s in SECTIONS]
    at = paragraphs.index("6. Estimativa do valor")
    assert paragraphs[at + 1] == "Art. 18, §1º, inciso VI, da Lei nº 14.133/2021"
    items = [p for p in paragraphs[at + 2 :] if re.match(r"6\.\d+ ", p)]
    assert [p.split(" ", 1)[0] for p in items] == [f"6.{i}" for i in range(1, len(items) + 1)]
    assert len(items) >= 3  # one item a paragraph, so "item 6.3 do ETP" exists
    ix = paragraphs.index("9. Resultados pretendidos")
    assert paragraphs[ix + 2].startswith("9.1 Redução de 20% no tempo de tramitação")
    assert paragraphs[ix + 3].startswith("9.2 A solução descrita no art. 18, §1º, inciso VII")
    # a section dispensed with: the statement, then its justification as item 2.1
    ii = paragraphs.index("2. Previsão no plano de contratações anual")
    assert paragraphs[ii + 2] == m.DOC_SKIPPED
    assert paragraphs[ii + 3] == f"2.1 {SKIP_JUSTIFICATIONS[2]}"


def test_header_says_the_identification_once_with_the_organs_own_number(filed: Etp) -> None:
    paragraphs, document = _docx_paragraphs(filed)
    assert "ESTUDO TÉCNICO PRELIMINAR nº 7/2026" in paragraphs  # the órgão's, not our record's
    rows = {r.cells[0].text: r.cells[1].text for r in document.tables[0].rows}
    assert rows == {
        "Órgão/entidade": "Secretaria Municipal de Educação",
        "Unidade requisitante": "Departamento de Administração Escolar",
        "Município/UF": "brasília/DF",
        "Processo": "SEI nº 23000.001234/2026-11",  # the typed label is not repeated
        "Documento de formalização da demanda (DFD)": "nº 45/2026",
        "Objeto": "Aquisição de 40 notebooks para as escolas municipais",
        "Fundamento": "Art. 18 da Lei nº 14.133/2021",
    }
    header = dict(build_document(filed, now=NOW).header_rows)
    assert header["Processo"] == "SEI nº 23000.001234/2026-11"
    markdown = _markdown(filed)
    assert "**Processo:** SEI nº 23000.001234/2026-11  " in markdown
    assert "**Município/UF:** brasília/DF  " in markdown


def test_every_format_closes_with_place_date_names_approval_and_annexes(filed: Etp) -> None:
    place = "Local e data: brasília/DF, 20 de novembro de 2026."
    annexes = [
        "Anexo I — Memória de cálculo das quantidades e documentos que lhe dão suporte (item 4): "
        "documento a juntar ao processo, SEI nº ____________.",
        # the price map is data now: printed at the end of the document
        "Anexo II — Mapa comparativo de preços (IN SEGES/ME nº 65/2021) (item 6): ao final deste "
        "documento.",
        "Anexo III — Cotações e demais documentos da pesquisa de preços (item 6): documento a "
        "juntar ao processo, SEI nº ____________.",
    ]
    for fmt, text in _rendered_texts(filed):
        flat = re.sub(r"\s+", " ", text).replace("\\_", "_")
        assert place in flat, fmt
        for line in [*annexes, *APPROVAL, m.DOC_APPROVAL_DATE, m.DOC_APPROVAL_ROLE]:
            assert line in flat, (fmt, line)
        assert "Elaborado por: Maria Silva" in flat, fmt
        assert "root" not in flat, fmt  # the chat handle never reaches the document
        # the answer "Não há portaria…" is the absence of a portaria, not a portaria
        assert "Designad" not in flat and "Não há portaria" not in flat, fmt
        assert "Ato de designação" not in flat, fmt
    paragraphs, _ = _docx_paragraphs(filed)
    closing = paragraphs[paragraphs.index("Equipe de planejamento") :]
    name = closing.index("Maria Silva")
    assert set(closing[name - 1]) == {"_"}
    assert closing[name + 1] == "Analista Administrativa · Matrícula 1234567"
    approval = closing[closing.index("Aprovação") :]
    assert approval.index(m.DOC_APPROVAL_TEXT) < approval.index(m.DOC_APPROVAL_FIELDS[0])


def test_a_given_portaria_is_named_in_the_header_and_the_closing(filed: Etp) -> None:
    etp = copy.deepcopy(filed)
    etp.identification.portaria = "Portaria SME nº 10/2026"
    for fmt, text in _rendered_texts(etp):
        flat = re.sub(r"\s+", " ", text)
        assert "Ato de designação da equipe de planejamento: Portaria SME nº 10/2026." in flat, fmt


def test_summary_table_says_each_sections_state_in_a_readers_words(filed: Etp) -> None:
    _, document = _docx_paragraphs(filed)
    summary = [[c.text for c in row.cells] for row in document.tables[1].rows]
    assert summary[0] == ["Item", "Seção", "Obrigatória", "Situação"]
    assert summary[1] == ["1", "Descrição da necessidade", "Sim", "Elaborada"]
    assert summary[2] == [
        "2",
        "Previsão no plano de contratações anual",
        "Não",
        "Dispensada, com justificativa",
    ]
    states = {row[3] for row in summary[1:]}
    assert states == {"Elaborada", "Dispensada, com justificativa"}
    blocks = _html_blocks(filed)
    assert "Dispensada, com justificativa" in blocks
    assert "| 11 | Contratações correlatas e/ou interdependentes | Não | Dispensada, com " in (
        _markdown(filed)
    )


def test_open_points_are_listed_in_one_place_and_mark_the_document(filed: Etp) -> None:
    etp = copy.deepcopy(filed)
    etp.section(4).gaps = ["memória de cálculo da quantidade"]
    etp.section(13).accepted_text = None
    etp.section(13).status = "pending"
    pendencias = [
        "Item 13 — Posicionamento conclusivo: obrigatória, sem texto aceito",
        "Item 4 — Estimativa das quantidades: a complementar — memória de cálculo da quantidade",
    ]
    assert [(p.section, p.gap) for p in etp.pendencias()] == [
        (4, "memória de cálculo da quantidade"),
        (13, ""),
    ]
    document = build_document(etp, now=NOW)
    assert list(document.pendencias) == pendencias
    assert document.mark == "MINUTA — incompleta" and not document.complete
    for fmt, text in _rendered_texts(etp):
        flat = re.sub(r"\s+", " ", text)
        for line in pendencias:
            assert flat.count(line) == 1, (fmt, line)
    etp.section(13).accepted_text = filed.section(13).accepted_text
    document = build_document(etp, now=NOW)
    assert document.mark == "MINUTA — com pendências"
    summary = dict((row[0], row[3]) for row in document.summary_rows[1:])
    assert summary["4"] == "Elaborada, com pendências"


# --- who wrote it ---------------------------------------------------------------------


async def test_in_a_team_each_section_names_the_members_who_wrote_it(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        ana = make_chat(app, name="ana", shared=True)
        joao = ana.as_user("u2", "João")
        await ana.say("/novo Notebooks")
        for line in IDENT[:7]:
            await ana.say(line)
        await ana.say("Ana Lima; Analista; 11\nJoão Souza; Técnico; 22")
        await ana.say("/aceitar")
        await ana.say("/pular")
        for number in range(1, 7):
            await ana.answer_section(number)
        for number in range(7, 14):
            await joao.answer_section(number)
        document = build_document(await load_etp(app, 1), now=NOW)
    finally:
        await app.close()
    by_number = {s.number: s.prepared_by for s in document.sections}
    assert by_number[1] == ("Ana Lima",)
    assert by_number[13] == ("João Souza",)
    text = _markdown_of(document)
    assert "Elaborado por: Ana Lima" in text and "Elaborado por: João Souza" in text
    assert "ana" not in re.findall(r"Elaborado por: (\w+)", text)


def _markdown_of(document: object) -> str:
    from conversations.export import render

    return render("md", document).decode()  # type: ignore[arg-type]


# --- IN SEGES/ME nº 58/2022 ----------------------------------------------------------------


def test_in58_document_speaks_in58s_words_and_numbering_in_every_format(filed: Etp) -> None:
    headings = [
        f"{s.in58}. {IN58_TITLES[s.number]}" for s in sorted(SECTIONS, key=lambda s: s.in58)
    ]
    assert headings[3] == "4. Descrição da solução como um todo"
    assert headings[4] == "5. Estimativa das quantidades a serem contratadas"
    assert (
        headings[12]
        == "13. Posicionamento conclusivo sobre a viabilidade e razoabilidade da contratação"
    )
    # section IX of the law is item 10 here; its cross-references follow this document
    renumbered = (
        "10.1 Redução de 20% no tempo de tramitação, conforme a seção V (estimativa das "
        "quantidades a serem contratadas)."
    )
    inciso = (
        "10.2 A solução descrita no art. 9º, inciso IV, da IN SEGES/ME nº 58/2022 (art. 18, §1º, "
        "inciso VII, da Lei nº 14.133/2021) atende à meta."
    )
    for fmt, text in _rendered_texts(filed, "in58"):
        flat = re.sub(r"\s+", " ", text).replace("**", "")
        positions = [flat.index(h) for h in headings]
        assert positions == sorted(positions), fmt
        assert renumbered in flat, fmt
        assert inciso in flat, fmt
        assert "seção IV (estimativa das quantidades)" not in flat, fmt
        assert "Art. 9º, inciso IV, da IN SEGES/ME nº 58/2022" in flat, fmt
        assert "Art. 18 da Lei nº 14.133/2021 e art. 9º da IN SEGES/ME nº 58/2022" in flat, fmt
    # in the law's order the text is the official's, as written
    assert "9.1 Redução de 20% no tempo de tramitação, conforme a seção IV (estimativa das " in (
        re.sub(r"\s+", " ", _pdf_text(filed))
    )


def test_in58_mandatory_column_follows_its_art_9_paragraph_1(filed: Etp) -> None:
    document = build_document(filed, order="in58", now=NOW)
    mandatory = [row[0] for row in document.summary_rows[1:] if row[2] == "Sim"]
    assert mandatory == ["1", "4", "5", "6", "7", "13"]
    assert {BY_NUMBER[n].in58 for n in IN58_MANDATORY} == {1, 4, 5, 6, 7, 13}
    law = build_document(filed, now=NOW)
    assert [row[0] for row in law.summary_rows[1:] if row[2] == "Sim"] == [
        "1",
        "4",
        "6",
        "8",
        "13",
    ]


def test_a_solution_left_out_is_complete_by_the_law_but_pending_under_in58(filed: Etp) -> None:
    etp = copy.deepcopy(filed)
    entry = etp.section(7)
    entry.accepted_text, entry.status = None, "skipped"
    entry.justification = "A solução se resume ao fornecimento dos bens."
    assert build_document(etp, now=NOW).complete
    document = build_document(etp, order="in58", now=NOW)
    assert not document.complete and document.mark == "MINUTA — incompleta"
    assert document.pendencias == (
        "Item 4 — Descrição da solução como um todo: obrigatória (art. 9º, §1º, da IN SEGES/ME "
        "nº 58/2022), consta apenas justificativa",
    )
    blocks = _html_blocks(etp, "in58")
    assert m.DOC_SKIPPED_IN58 in blocks
    assert "4.1 A solução se resume ao fornecimento dos bens." in blocks


# --- the chat: identification, order ---------------------------------------------------


async def test_identification_asks_the_place_and_the_optional_references(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.say("/novo Notebooks")
        await chat.say("Secretaria Municipal de Educação")
        await chat.say("Departamento de Administração Escolar")
        assert "Identificação · Município/UF" in chat.last_text()
        before = await load_etp(app, 1)
        replies = await chat.say("Brasília")  # no UF: refused, asked again
        assert m.IDENT_PLACE_INVALID in chat.texts(replies)[0]
        assert (await load_etp(app, 1)).identification == before.identification
        replies = await chat.say("/pular")  # the place is not optional
        assert chat.texts(replies) == [m.SKIP_NOTHING]
        await chat.say("Campinas/SP")
        await chat.say("23000.001234/2026-11")
        assert "Documento de formalização da demanda" in chat.last_text()
        await chat.say("/pular")
        assert "Número do ETP" in chat.last_text()
        replies = await chat.say("sem número")
        assert m.IDENT_NUMBER_INVALID in chat.texts(replies)[0]
        await chat.say("/pular")
        await chat.say("Aquisição de notebooks")
        await chat.say(TEAM)
        await chat.say("/aceitar")
        replies = await chat.say("Não há.")
        assert m.IDENT_SKIPPED_PORTARIA in chat.texts(replies)[0]
        etp = await load_etp(app, 1)
    finally:
        await app.close()
    ident = etp.identification
    assert (ident.municipio, ident.dfd, ident.numero, ident.portaria) == ("Campinas/SP", "", "", "")
    document = build_document(etp, now=NOW)
    assert document.number == f"1/{NOW.year}"  # no own number: our record's
    assert document.place_date == "Local e data: Campinas/SP, 20 de novembro de 2026."


def _exported(replies: list[object]) -> Document:
    documents = [r for r in replies if isinstance(r, Document)]
    assert len(documents) == 1, replies
    return documents[0]


async def test_order_is_chosen_in_the_chat_per_export_and_per_etp(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.identify()
        law = _exported(await chat.say("/exportar md")).content.decode()
        assert "## 5. Levantamento de mercado" in law
        in58 = _exported(await chat.say("/exportar md in58")).content.decode()
        assert "## 3. Levantamento de mercado" in in58
        assert "*Seções na ordem do art. 9º da IN SEGES/ME nº 58/2022.*" in in58
        both = _exported(await chat.say("/exportar in58 json")).content
        assert json.loads(both)["order"] == "in58"
        replies = await chat.say("/exportar md alfabética")
        assert "alfabética" in chat.texts(replies)[0] and not any(
            isinstance(r, Document) for r in replies
        )
        replies = await chat.say("/ordem in58")
        assert chat.texts(replies)[0] == m.ORDER_SET.format(order=m.ORDER_NAMES["in58"])
        assert (
            "## 3. Levantamento de mercado"
            in _exported(await chat.say("/exportar md")).content.decode()
        )
        assert (
            "## 5. Levantamento de mercado"
            in _exported(await chat.say("/exportar md lei")).content.decode()
        )  # one export in the other order, the default kept
        replies = await chat.say("/ordem alfabética")
        assert chat.texts(replies)[0].startswith(m.ORDER_USAGE.split("{")[0])
        assert (await load_etp(app, 1)).identification.document_order == "in58"
        replies = await chat.say("/ordem")
        assert m.ORDER_NAMES["in58"] in chat.texts(replies)[0]
        await chat.say("/ordem lei")
        assert (await load_etp(app, 1)).identification.document_order == "law"
    finally:
        await app.close()


async def test_under_in58_the_solution_cannot_be_skipped_in_the_chat(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.identify()
        await chat.say("/ordem in58")
        await chat.say("/secao 7")
        replies = await chat.say("/pular A solução é simples.")
        assert chat.texts(replies)[0] == m.SKIP_MANDATORY_IN58.format(
            roman="VII", title=BY_NUMBER[7].title
        )
        assert (await load_etp(app, 1)).section(7).status != "skipped"
    finally:
        await app.close()


async def test_installation_default_order_applies_until_an_etp_chooses(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    app.service.document_order = "in58"
    try:
        chat = make_chat(app)
        await chat.identify()
        assert (
            "## 3. Levantamento de mercado"
            in _exported(await chat.say("/exportar md")).content.decode()
        )
        await chat.say("/ordem lei")
        assert (
            "## 5. Levantamento de mercado"
            in _exported(await chat.say("/exportar md")).content.decode()
        )
    finally:
        await app.close()
    assert DocumentSettings(etp_document_order="in58").etp_document_order == "in58"
    with pytest.raises(ValueError):
        DocumentSettings(etp_document_order="alfabetica")


# --- annexes --------------------------------------------------------------------------


def test_a_registered_annex_replaces_its_kind_in_place_and_prints_its_table(filed: Etp) -> None:
    def price_map(etp: Etp) -> Annex:
        return Annex(
            "mapa_precos",
            "Mapa da pesquisa de preços",
            section=6,
            table=(("Fonte", "Preço (R$)"), ("Painel de Preços", "24,50"), ("Cotação A", "25,10")),
        )

    from conversations.export import annexes as registry

    saved = dict(registry._PROVIDERS)
    register_annex("mapa_precos", price_map)
    try:
        document = build_document(filed, now=NOW)
        assert [a.title for a in document.annexes][1] == "Mapa da pesquisa de preços"
        assert document.annexes[1].line == (
            "Anexo II — Mapa da pesquisa de preços (item 6): ao final deste documento."
        )
        markdown = _markdown(filed)
        assert "## Anexo II — Mapa da pesquisa de preços" in markdown
        assert "| Painel de Preços | 24,50 |" in markdown
        _, docx_document = _docx_paragraphs(filed)
        last = [[c.text for c in row.cells] for row in docx_document.tables[-1].rows]
        assert last == [
            ["Fonte", "Preço (R$)"],
            ["Painel de Preços", "24,50"],
            ["Cotação A", "25,10"],
        ]
        assert "Cotação A 25,10" in _pdf_text(filed)
    finally:
        registry._PROVIDERS.clear()
        registry._PROVIDERS.update(saved)


def test_json_carries_items_people_pendencias_and_annexes(filed: Etp) -> None:
    data = json.loads(export(filed, "json", now=NOW, order="in58").content)
    assert data["identification"]["municipio"] == "brasília/DF"
    assert data["identification"]["numero"] == "7/2026"
    assert data["number"] == "7/2026"
    section = next(s for s in data["sections"] if s["number"] == 9)
    assert section["position"] == 10 and section["items"][0]["number"] == "10.1"
    assert section["prepared_by"] == ["Maria Silva"] and section["authors"] == ["root"]
    assert [a["label"] for a in data["annexes"]] == ["Anexo I", "Anexo II", "Anexo III"]
    assert data["pendencias"] == []
    assert GOOD_ANSWERS  # the answers behind it are the shared ones
