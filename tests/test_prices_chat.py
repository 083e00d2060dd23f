"""Section VI's price research in the chat, in both stores, and in every document format."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import docx
from pypdf import PdfReader

from conversations.catalogue import pricing as pt
from conversations.export import build_document, render
from conversations.export.document import document_json
from tests.fake_openai import FakeOpenAI
from tests.helpers import (
    GOOD_ANSWERS,
    Chat,
    dated,
    drafter_for,
    finish_etp,
    load_etp,
    make_app,
    make_chat,
    resolve_sections,
)

# Five prices: the Painel, a similar contract, three suppliers; the last one an outlier
FIVE = dated(
    "painel; Pregão eletrônico 12/2026, UASG 160123; {d40}; R$ 24,50\n"
    "similar; Ata de registro de preços 5/2026, Prefeitura de Campinas; {d60}; 25,10\n"
    "fornecedor; Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90; {d20}; R$ 26,00\n"
    "fornecedor; Beta Papéis Ltda, CNPJ 98.765.432/0001-10; {d20}; 25,40\n"
    "fornecedor; Gama Distribuidora Ltda, CNPJ 11.222.333/0001-44; {d20}; R$ 38,90"
)
OUTLIER_REASON = "a proposta inclui serviço de instalação, que não integra o objeto"
SECRECY = "O valor de referência, se divulgado, tenderia a orientar as propostas dos licitantes."
SUPPLIERS = (
    "Fornecedores do ramo cadastrados no SICAF; cinco consultados por e-mail, três responderam."
)
MEMORY = (
    "Memória de cálculo: preço unitário de referência de R$ 25,25 (média: (24,50 + 25,10 + "
    "26,00 + 25,40) ÷ 4) × quantidade de 1.200 resmas de papel A4 = valor total estimado de "
    "R$ 30.300,00 (trinta mil e trezentos reais)."
)


async def up_to_section_six(chat: Chat) -> None:
    await finish_etp(chat, upto=5)


async def research_with_an_outlier(chat: Chat) -> None:
    """The done-when research: five prices, the fifth excluded with its reason."""
    await chat.say(FIVE)
    await chat.say("/precos concluir")
    assert "O preço nº 5 (R$ 38,90, Fornecedor) corresponde a 153% da mediana" in chat.last_text()
    await chat.say(f"excluir, pois {OUTLIER_REASON}")
    assert "Preço nº 5 desconsiderado no cálculo" in chat.texts()[-2]
    await chat.say(SUPPLIERS)
    assert "Sugestão (prática usual, não regra da instrução)" in chat.last_text()
    await chat.say("média")
    await chat.say("público")


async def test_a_bad_price_changes_nothing_and_says_why(chat: Chat) -> None:
    await up_to_section_six(chat)
    assert "Pesquisa de preços (IN SEGES/ME nº 65/2021)" in chat.last_text()
    # the free text passed every check before; now it is no price
    await chat.say("Fizemos 3 cotações. Valor: R$ 170.000,00, entrega imediata.")
    assert "Não consegui ler" in chat.last_text() and "Nada foi registrado" in chat.last_text()
    # one bad line in a pasted block: none of the block is registered
    good = dated("painel; Pregão 12/2026, UASG 160123; {d40}; R$ 24,50")
    await chat.say(f"{good}\nfornecedor; Alfa; {dated('{d20}')}; 4,189.00")
    assert "4,189.00" in chat.last_text() and "Nada foi registrado" in chat.last_text()
    etp = await load_etp(chat.app, 1)
    assert etp.research().quotes == []
    await chat.say("/precos concluir")
    assert "não tem preço válido" in chat.last_text()
    # a supplier quote older than 6 months stays in the table, out of the figures
    await chat.say(dated("fornecedor; Alfa Ltda., CNPJ 12.345.678/0001-90; {d200}; 26,00"))
    assert "fora do prazo do inciso IV (6 meses): desconsiderado" in chat.last_text()
    await chat.say("/precos concluir")
    assert "não tem preço válido" in chat.last_text()
    etp = await load_etp(chat.app, 1)
    assert not etp.research().closed and len(etp.research().quotes) == 1
    await chat.say("/precos remover 3")
    assert chat.last_text() == pt.NO_SUCH_LINE.format(n="3")
    await chat.say("/precos voar")
    assert "Não reconheci" in chat.last_text()


async def test_the_table_is_shown_after_each_entry_and_lines_change(chat: Chat) -> None:
    await up_to_section_six(chat)
    await chat.say("/precos fonte fornecedor")  # the kind's button
    assert "Fonte escolhida: Pesquisa direta com fornecedor" in chat.last_text()
    await chat.say(dated("Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90; {d20}; R$ 26,00"))
    assert "Preço registrado (1 na tabela)." in chat.texts()[-2]
    table = chat.last_text()
    assert "1. Fornecedor (inc. IV) · Papelaria Alfa Ltda" in table and "R$ 26,00" in table
    await chat.say(dated("Beta Papéis; {d20}; 25,40"))
    assert "atenção: falta o CNPJ ou o CPF do fornecedor" in chat.last_text()
    await chat.say(
        dated("/precos corrigir 2 Beta Papéis Ltda, CNPJ 98.765.432/0001-10; {d20}; 25,60")
    )
    assert "Preço nº 2 corrigido." in chat.texts()[-2]
    assert "falta o CNPJ" not in chat.last_text() and "R$ 25,60" in chat.last_text()
    await chat.say("/precos remover 1")
    etp = await load_etp(chat.app, 1)
    assert [q.source for q in etp.research().quotes] == [
        "Beta Papéis Ltda, CNPJ 98.765.432/0001-10"
    ]
    assert "1. Fornecedor (inc. IV) · Beta Papéis Ltda" in chat.last_text()


async def test_a_complete_etp_with_five_prices_and_an_excluded_outlier(chat: Chat) -> None:
    """The issue's done-when: section VI and the price map an auditor would accept."""
    await up_to_section_six(chat)
    await research_with_an_outlier(chat)
    draft = chat.last_text()
    assert "Minuta:" in draft and MEMORY in draft
    await chat.say("/aceitar")
    await resolve_sections(chat, range(7, 14))
    etp = await load_etp(chat.app, 1)
    assert etp.status == "concluido"
    document = build_document(etp, order="law", now=datetime.now(UTC))
    vi = next(s for s in document.sections if s.number == 6)
    body = "\n".join(i.text for i in vi.items)
    assert MEMORY in body
    assert (
        "O preço nº 5 (R$ 38,90, fornecedor), correspondente a 153% da mediana da série, foi "
        f"desconsiderado pela equipe de planejamento (art. 6º, caput e § 3º): {OUTLIER_REASON}."
    ) in body
    assert (
        "Considerados os 4 (quatro) preços válidos, obtiveram-se: média de R$ 25,25; mediana de "
        "R$ 25,25; menor valor de R$ 24,50; maior valor de R$ 26,00; desvio-padrão de R$ 0,62; "
        "coeficiente de variação de 2,5%."
    ) in body
    assert "Método adotado (art. 6º, caput): a média." in body
    assert "o coeficiente de variação da série, de 2,5%, não excede 25%" in body
    assert f"(art. 3º, VIII, e art. 5º, IV): {SUPPLIERS[0].lower()}" in body
    (price_map,) = [a for a in document.annexes if a.title == pt.ANNEX_TITLE]
    assert price_map.table[0] == pt.ANNEX_HEAD
    assert [row[4] for row in price_map.table[1:]] == [
        "R$ 24,50",
        "R$ 25,10",
        "R$ 26,00",
        "R$ 25,40",
        "R$ 38,90",
    ]
    assert price_map.table[5][5] == f"desconsiderado: {OUTLIER_REASON}"
    paragraphs = "\n".join(price_map.paragraphs)
    assert "Objeto: Aquisição de papel A4 para impressão." in paragraphs
    assert "da mediana da série coletada (R$ 25,40)" in paragraphs  # the median of the flags
    assert "o edital deverá ser divulgado até" in paragraphs
    assert {row[5] for row in price_map.table[1:5]} == {"válido"}
    assert price_map.body[-1] == "Elaborado por: Maria Silva."  # art. 3º, II
    # read back from every format
    word = docx.Document(io.BytesIO(render("docx", document)))
    cells = [[c.text for c in row.cells] for t in word.tables for row in t.rows]
    assert list(pt.ANNEX_HEAD) in cells
    assert cells[cells.index(list(pt.ANNEX_HEAD)) + 5][:3] == [
        "5",
        "Fornecedor (IV)",
        "Gama Distribuidora Ltda, CNPJ 11.222.333/0001-44",
    ]
    assert MEMORY in "\n".join(p.text for p in word.paragraphs)
    pdf = " ".join(
        " ".join(page.extract_text().split())
        for page in PdfReader(io.BytesIO(render("pdf", document))).pages
    )
    assert "Mapa comparativo de preços" in pdf and "R$ 38,90" in pdf and "R$ 30.300,00" in pdf
    html = render("html", document).decode()
    assert "Mapa comparativo de preços" in html and "<td" in html and "R$ 30.300,00" in html
    markdown = render("md", document).decode()
    assert "| Nº | Fonte (art. 5º) | Identificação | Data | Valor unitário | Situação |" in markdown
    assert f"| R$ 38,90 | desconsiderado: {OUTLIER_REASON} |" in markdown
    data = json.loads(render("json", document))
    research = data["price_research"]
    assert research == document_json(document)["price_research"]
    assert [p["situation"] for p in research["prices"]] == ["valid"] * 4 + ["excluded"]
    assert research["prices"][4]["flagged"] is True
    assert research["statistics"]["mean"] == "25.2500" and research["method"] == "media"
    assert (research["unit_price"], research["total"]) == ("25.25", "30300.00")
    assert research["quantity"] == {"amount": "1200", "unit": "resmas de papel A4"}


async def test_a_later_change_of_quantity_moves_the_total_and_is_told(chat: Chat) -> None:
    await up_to_section_six(chat)
    await research_with_an_outlier(chat)
    await chat.say("/aceitar")
    await chat.say("/quantidade 1.500 resmas")
    said = "\n".join(chat.texts()[-3:])
    assert "de R$ 30.300,00 para R$ 37.875,00 (a quantidade passou a 1.500 resmas)" in said
    assert pt.TEXT_STALE in said
    etp = await load_etp(chat.app, 1)
    assert any(p.what == pt.PENDING_STALE for p in etp.pendencias())
    document = build_document(etp, order="law", now=datetime.now(UTC))
    assert any(pt.PENDING_STALE in p for p in document.pendencias)
    (price_map,) = [a for a in document.annexes if a.title == pt.ANNEX_TITLE]
    assert any("R$ 37.875,00" in p for p in price_map.paragraphs)  # the map follows at once
    # the text is written again with the current figures, and the pendência goes
    await chat.say("/secao 6")
    await chat.say("/refazer")
    assert "valor total estimado de R$ 37.875,00" in chat.last_text()
    await chat.say("/aceitar")
    etp = await load_etp(chat.app, 1)
    assert not any(p.what == pt.PENDING_STALE for p in etp.pendencias())


async def test_a_price_excluded_after_acceptance_redrafts_section_six(chat: Chat) -> None:
    await up_to_section_six(chat)
    await research_with_an_outlier(chat)
    await chat.say("/aceitar")
    await chat.say("/secao 6")
    await chat.say("/precos excluir 4 o orçamento não identifica a marca nem o modelo ofertados")
    said = "\n".join(chat.texts()[-4:])
    assert "Preço nº 4 desconsiderado no cálculo" in said
    assert "de R$ 30.300,00 para R$ 30.240,00" in said  # mean of 24,50, 25,10 and 26,00
    assert "Minuta:" in chat.last_text() and "R$ 30.240,00" in chat.last_text()


async def test_the_confidential_option_keeps_values_out_of_the_body(chat: Chat) -> None:
    await up_to_section_six(chat)
    await chat.say(FIVE)
    await chat.say("/precos concluir")
    await chat.say("/precos excluir 5")
    assert "Informe o motivo para excluir o preço nº 5." in chat.last_text()
    await chat.say(OUTLIER_REASON)
    await chat.say(SUPPLIERS)
    await chat.say("/precos metodo mediana")
    assert "A prática usual sugeria a média; a equipe escolheu a mediana" in chat.last_text()
    await chat.say("A mediana reduz a influência de propostas com frete embutido.")
    await chat.say("/precos sigilo sim")
    assert "Justifique o sigilo do orçamento estimado" in chat.last_text()
    await chat.say("sim")  # no justification: refused
    assert "ao menos 4 palavras" in chat.last_text()
    await chat.say(SECRECY)
    draft = chat.last_text()
    assert "R$" not in draft.split("Minuta:")[1] and "anexo sigiloso" in draft
    await chat.say("/aceitar")
    etp = await load_etp(chat.app, 1)
    document = build_document(etp, order="law", now=datetime.now(UTC))
    vi = next(s for s in document.sections if s.number == 6)
    assert "R$" not in "\n".join(i.text for i in vi.items)
    (secret,) = [a for a in document.annexes if "ANEXO SIGILOSO" in a.title]
    assert secret.paragraphs[0] == pt.ANNEX_SECRET_NOTE.format(
        reason=SECRECY[0].lower() + SECRECY[1:-1]
    )
    assert any("valor total estimado de R$ 30.300,00" in p for p in secret.paragraphs)
    assert document_json(document)["price_research"]["confidential"] is True


async def test_painel_prices_alone_refuse_a_mean_above_the_median(chat: Chat) -> None:
    await up_to_section_six(chat)
    await chat.say(
        dated(
            "painel; Pregão 1/2026, UASG 1; {d40}; 10,00\n"
            "painel; Pregão 2/2026, UASG 2; {d40}; 11,00\n"
            "painel; Pregão 3/2026, UASG 3; {d40}; 13,00"
        )
    )
    await chat.say("/precos concluir")
    await chat.say("média")
    assert "não pode superar a mediana" in chat.last_text()
    etp = await load_etp(chat.app, 1)
    assert etp.research().method is None
    await chat.say("mediana")
    assert "Preço unitário de referência: R$ 11,00" in chat.texts()[-2]


async def test_fewer_than_three_prices_need_a_justification(chat: Chat) -> None:
    await up_to_section_six(chat)
    await chat.say(dated("similar; Ata 5/2026, Prefeitura de Campinas; {d60}; 25,10"))
    await chat.say("/precos concluir")
    assert "exige ao menos 3" in chat.last_text()
    await chat.say("não sei")
    assert "ao menos 4 palavras" in chat.last_text()
    await chat.say("O item é fabricado sob encomenda e só há uma ata vigente no país.")
    assert "Qual método" in chat.last_text()


async def test_the_llm_gets_the_figures_as_facts_and_cannot_drop_them(sqlite_url: str) -> None:
    server = await FakeOpenAI().start()
    server.reply = "A pesquisa de preços observou a IN SEGES/ME nº 65/2021."
    app = await make_app(sqlite_url, drafter=drafter_for(server, sqlite_url))
    try:
        chat = make_chat(app)
        await up_to_section_six(chat)
        await research_with_an_outlier(chat)
        prompt = server.prompt_text()
        assert "dados_calculados" in prompt and "R$ 30.300,00" in prompt
        assert "reproduza todos os valores" in prompt
        draft = chat.last_text()
        # the model left the figures out: the computed facts follow its text
        assert "A pesquisa de preços observou a IN SEGES/ME nº 65/2021." in draft
        assert MEMORY in draft
        assert GOOD_ANSWERS[4][0] not in draft
    finally:
        await app.close()
        await server.stop()
