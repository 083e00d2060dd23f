"""Finished documents: DOCX read back with python-docx, PDF with pypdf, HTML parsed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html.parser import HTMLParser
from multiprocessing.process import BaseProcess
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from pypdf import PdfReader
from sqlalchemy import text as sql

from conversations.catalogue import messages as m
from conversations.catalogue.in58 import IN58_TITLES
from conversations.catalogue.sections import IN58_ORDER, SECTIONS
from conversations.export import DEFAULT_FORMAT, FORMATS, export
from conversations.export.document import EtpDocument, build_document
from conversations.model import Etp
from conversations.replies import Document
from etp.container import App
from etp.rendering import ProcessRenderer
from tests.helpers import (
    IDENTIFICATION,
    SKIP_JUSTIFICATIONS,
    finish_etp,
    load_etp,
    make_app,
    make_chat,
    running,
    wait_until_stopped,
)

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
EDITED_III = "Requisitos: papel A4 75 g/m², alvura ≥ 90%, embalagem com CO₂ neutro — ação “verde”."
HOSTILE = 'Papel <script>alert("x")</script> & "aspas"'


def _build(template: Path, folder: Path, *, complete: bool) -> Etp:
    async def run() -> Etp:
        path = folder / f"{complete}.db"
        shutil.copy(template, path)
        app = await make_app(f"sqlite+aiosqlite:///{path}")
        try:
            chat = make_chat(app)
            if complete:
                await finish_etp(chat)
                await chat.say("/secao 3")
                await chat.say(f"/editar {EDITED_III}")
            else:  # identification with a hostile objeto, sections I and II only
                await chat.say("/novo Papel")
                for line in IDENTIFICATION:
                    await chat.say(HOSTILE if line.startswith("Aquisição") else line)
                await chat.answer_section(1)
                await chat.say(f"/pular {SKIP_JUSTIFICATIONS[2]}")
            return await load_etp(app, 1)
        finally:
            await app.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def finished(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Etp:
    etp = _build(sqlite_template, tmp_path_factory.mktemp("finished"), complete=True)
    assert etp.complete()
    return etp


@pytest.fixture(scope="module")
def unfinished(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Etp:
    return _build(sqlite_template, tmp_path_factory.mktemp("unfinished"), complete=False)


def _docx(etp: Etp, order: str = "law") -> docx.document.Document:
    rendered = export(etp, "docx", now=NOW, order=order)
    return docx.Document(io.BytesIO(rendered.content))


def _body_text(document: docx.document.Document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += ["\t".join(c.text for c in row.cells) for row in table.rows]
    return "\n".join(parts)


def _pdf(etp: Etp, order: str = "law") -> PdfReader:
    return PdfReader(io.BytesIO(export(etp, "pdf", now=NOW, order=order).content))


# --- DOCX ------------------------------------------------------------------------------


def test_docx_is_filed_like_a_public_body_files_it(finished: Etp) -> None:
    document = _docx(finished)
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "MINISTÉRIO DA GESTÃO E DA INOVAÇÃO"
    assert "ESTUDO TÉCNICO PRELIMINAR nº 7/2026" in paragraphs  # the órgão's own number
    identification = {r.cells[0].text: r.cells[1].text for r in document.tables[0].rows}
    assert identification["Processo"] == "nº 23000.001234/2026-11"
    assert identification["Município/UF"] == "Brasília/DF"
    assert identification["Documento de formalização da demanda (DFD)"] == "nº 45/2026"
    assert identification["Objeto"] == "Aquisição de papel A4 para impressão"
    assert identification["Unidade requisitante"] == "Coordenação-Geral de Logística"
    summary = [[c.text for c in row.cells] for row in document.tables[1].rows]
    assert summary[0] == ["Item", "Seção", "Obrigatória", "Situação"]
    assert summary[2] == [
        "2",
        "Previsão no plano de contratações anual",
        "Não",
        "Dispensada, com justificativa",
    ]
    assert summary[13] == ["13", "Posicionamento conclusivo", "Sim", "Elaborada"]
    assert "MINUTA" not in _body_text(document)


def test_docx_sections_are_numbered_with_their_legal_reference(finished: Etp) -> None:
    document = _docx(finished)
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    expected = [f"{s.number}. {s.title}" for s in SECTIONS]
    assert headings[1:14] == expected
    paragraphs = [p.text for p in document.paragraphs]
    for spec in SECTIONS:
        at = paragraphs.index(f"{spec.number}. {spec.title}")
        assert paragraphs[at + 1] == f"Art. 18, §1º, inciso {spec.roman}, da Lei nº 14.133/2021"
    text = _body_text(document)
    # section VI states the research's computed figures; the price map lists the series
    assert (
        "× quantidade de 1.200 resmas de papel A4 = valor total estimado de R$ 30.240,00 (trinta "
        "mil, duzentos e quarenta reais)." in text
    )
    assert "Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90" in text
    assert EDITED_III in text  # the user's own text, exactly, accents and symbols included
    for number, justification in SKIP_JUSTIFICATIONS.items():
        at = paragraphs.index(f"{number}. {SECTIONS[number - 1].title}")
        assert paragraphs[at + 2].startswith("Seção dispensada, com a justificativa a seguir")
        assert "(art. 18, §2º, da Lei nº 14.133/2021)" in paragraphs[at + 2]
        assert paragraphs[at + 3] == f"{number}.1 {justification}"


def test_docx_closes_with_place_date_and_signatures(finished: Etp) -> None:
    paragraphs = [p.text for p in _docx(finished).paragraphs]
    team = paragraphs.index("Equipe de planejamento")
    closing = paragraphs[team:]
    assert "Ato de designação da equipe de planejamento: Portaria nº 10/2026." in closing
    assert "Local e data: Brasília/DF, 20 de novembro de 2026." in closing
    name = closing.index("Maria Silva")
    assert set(closing[name - 1]) == {"_"}  # the signature line above the name
    assert closing[name + 1] == "Analista Administrativa · Matrícula 1234567"


def test_docx_footer_counts_pages_and_properties_describe_it(finished: Etp) -> None:
    document = _docx(finished)
    footer = document.sections[0].footer._element
    instructions = [i.text.strip() for i in footer.iter(qn("w:instrText"))]
    assert instructions == ["PAGE", "NUMPAGES"]
    assert document.sections[0].footer.paragraphs[0].text == "Página 1 de 1"  # cached values
    props = document.core_properties
    assert (
        props.title == "ESTUDO TÉCNICO PRELIMINAR nº 7/2026 — Aquisição de papel A4 para impressão"
    )
    assert props.author == "Maria Silva"
    assert props.subject == "Estudo Técnico Preliminar (art. 18 da Lei nº 14.133/2021)"
    assert "23000.001234/2026-11" in props.keywords
    assert props.language == "pt-BR"


def test_unfinished_docx_is_marked_as_a_draft_with_what_is_missing(unfinished: Etp) -> None:
    document = _docx(unfinished)
    text = _body_text(document)
    assert "MINUTA — incompleta" in text
    assert "MINUTA — incompleta" in "\n".join(
        p.text for p in document.sections[0].header.paragraphs
    )  # on every page
    bullets = [p.text for p in document.paragraphs if p.style.name == "List Bullet"]
    assert "Item 6 — Estimativa do valor: obrigatória, sem texto aceito" in bullets
    assert "Item 7 — Descrição da solução como um todo: sem texto aceito nem justificativa" in (
        bullets
    )
    assert "[PENDENTE — seção obrigatória ainda não elaborada]" in text
    assert SKIP_JUSTIFICATIONS[2] in text  # what was done is there


# --- PDF -------------------------------------------------------------------------------


def test_pdf_has_the_same_content_with_accents_and_page_numbers(finished: Etp) -> None:
    reader = _pdf(finished)
    pages = [page.extract_text() for page in reader.pages]
    total = len(pages)
    assert total >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Página {number} de {total}" in text
    text = "\n".join(pages)
    assert "ESTUDO TÉCNICO PRELIMINAR nº 7/2026" in text
    assert "MINISTÉRIO DA GESTÃO E DA INOVAÇÃO" in text
    for spec in SECTIONS:
        assert f"{spec.number}. {spec.title}" in text
        assert f"Art. 18, §1º, inciso {spec.roman}, da Lei nº 14.133/2021" in text
    flat = re.sub(r"\s+", " ", text)
    for justification in SKIP_JUSTIFICATIONS.values():
        assert justification in flat
    # characters outside the standard fonts are folded, never dropped or crashing
    assert "alvura >= 90%, embalagem com CO2 neutro — ação “verde”." in flat
    assert "Local e data: Brasília/DF, 20 de novembro de 2026." in flat
    assert "Maria Silva\nAnalista Administrativa · Matrícula 1234567" in "\n".join(pages)
    assert "MINUTA" not in text
    assert reader.metadata is not None
    assert reader.metadata.title == (
        "ESTUDO TÉCNICO PRELIMINAR nº 7/2026 — Aquisição de papel A4 para impressão"
    )
    assert reader.metadata.author == "Maria Silva"


def test_unfinished_pdf_is_marked_on_every_page(unfinished: Etp) -> None:
    reader = _pdf(unfinished)
    pages = [page.extract_text() for page in reader.pages]
    assert all("MINUTA — incompleta" in page for page in pages)
    text = re.sub(r"\s+", " ", "\n".join(pages))
    assert "Item 13 — Posicionamento conclusivo: obrigatória, sem texto aceito" in text
    assert 'Papel <script>alert("x")</script>' in reader.metadata.title  # type: ignore[union-attr]


# --- HTML ------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_user_text(unfinished: Etp) -> None:
    rendered = export(unfinished, "html", now=NOW)
    assert rendered.media_type == "text/html; charset=utf-8"
    body = rendered.content.decode("utf-8")
    parser = _Tags()
    parser.feed(body)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "link", "style", "img", "iframe", "a", "object"}
    assert all(
        not k.startswith("on") and k not in ("src", "href", "class")
        for _, a in parser.tags
        for k in a
    )
    cells = [attrs for tag, attrs in parser.tags if tag in ("td", "th")]
    assert cells and all("border: 1px solid" in (a.get("style") or "") for a in cells)
    assert "&lt;script&gt;" in body
    assert HOSTILE in "".join(parser.text)  # shown as text, exactly
    assert "MINUTA — incompleta" in "".join(parser.text)


def test_html_carries_the_whole_document(finished: Etp) -> None:
    parser = _Tags()
    parser.feed(export(finished, "html", now=NOW).content.decode("utf-8"))
    text = "".join(parser.text)
    for spec in SECTIONS:
        assert f"{spec.number}. {spec.title}" in text
    assert EDITED_III in text
    assert SKIP_JUSTIFICATIONS[11] in text
    assert "Analista Administrativa · Matrícula 1234567" in text


# --- order -----------------------------------------------------------------------------


def test_in58_order_numbers_sections_as_the_etp_digital_does(finished: Etp) -> None:
    expected = [f"{i}. {IN58_TITLES[n]}" for i, n in enumerate(IN58_ORDER, start=1)]
    headings = [p.text for p in _docx(finished, "in58").paragraphs if p.style.name == "Heading 1"]
    assert headings[1:14] == expected
    assert expected[2] == "3. Levantamento de mercado"  # law's V is IN 58's III
    assert expected[1] == "2. Descrição dos requisitos da contratação"  # IN 58's own words
    pdf_text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in _pdf(finished, "in58").pages))
    positions = [pdf_text.index(h) for h in expected]
    assert positions == sorted(positions)
    assert "Art. 9º, inciso III, da IN SEGES/ME nº 58/2022" in pdf_text
    markdown = export(finished, "md", now=NOW, order="in58").content.decode()
    positions = [markdown.index(f"## {h}") for h in expected]
    assert positions == sorted(positions)


# --- every channel gets them ----------------------------------------------------------


async def test_export_command_defaults_to_docx_and_offers_every_format(sqlite_url: str) -> None:
    assert DEFAULT_FORMAT == "docx"
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await finish_etp(chat)
        concluded = [b.command for b in chat.received[-1].buttons]  # type: ignore[union-attr]
        assert concluded == ["/exportar docx", "/exportar pdf", "/exportar html", "/exportar md"]
        default = (await chat.say("/exportar"))[0]
        assert isinstance(default, Document) and default.filename == "ETP-1.docx"
        assert default.media_type == FORMATS["docx"].media_type
        docx.Document(io.BytesIO(default.content))  # a real Word file
        pdf = (await chat.say("/exportar pdf"))[0]
        assert isinstance(pdf, Document) and pdf.content.startswith(b"%PDF-")
        html = (await chat.say("/exportar HTML"))[0]
        assert isinstance(html, Document) and html.filename == "ETP-1.html"
    finally:
        await app.close()


# --- rendered off the event loop (etp/rendering.py) -------------------------------------


async def _started_workers(renderer: object) -> list[BaseProcess]:
    """The document workers of `renderer`, started now (the default: ETP_RENDER_PROCESSES=1)."""
    assert isinstance(renderer, ProcessRenderer)
    before = set(multiprocessing.active_children())
    await asyncio.wrap_future(renderer.start())
    workers = [p for p in multiprocessing.active_children() if p not in before]
    assert len(workers) == 1
    return workers


async def _export_written(app: App, count: int) -> None:
    """Until `count` exports are written: the last one's document is then being rendered."""
    query = sql("SELECT count(*) FROM audit_events WHERE action = 'etp.exported'")
    for _ in range(1000):
        async with app.engine.connect() as conn:
            if (await conn.execute(query)).scalar_one() >= count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the export was never written")


async def test_a_document_being_rendered_holds_up_no_other_chat(db_url: str) -> None:
    app = await make_app(db_url)
    try:
        exporting = make_chat(app)
        other = make_chat(app, chat_id="chat-2", user_id="u2", name="João Souza")
        await finish_etp(exporting)
        (worker,) = await _started_workers(app.service.renderer)
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGSTOP)  # no render can finish until SIGCONT
        try:
            export = asyncio.create_task(exporting.say("/exportar pdf"))
            await _export_written(app, 1)
            replies = await other.say("/ajuda")  # answered while the PDF is being rendered
            assert replies and not export.done()
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        pdf = (await export)[0]
        assert isinstance(pdf, Document) and pdf.content.startswith(b"%PDF-")
        assert pdf.filename == "ETP-1.pdf"
    finally:
        await app.close()


async def test_a_document_worker_that_dies_mid_render_is_replaced(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await finish_etp(chat)
        (worker,) = await _started_workers(app.service.renderer)
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGSTOP)
        export = asyncio.create_task(chat.say("/exportar docx"))
        await _export_written(app, 1)
        with caplog.at_level(logging.WARNING, logger="etp.rendering"):
            os.kill(worker.pid, signal.SIGKILL)
            document = (await export)[0]
        assert isinstance(document, Document) and document.filename == "ETP-1.docx"
        docx.Document(io.BytesIO(document.content))  # a real Word file, from a new worker
        assert "the document workers stopped" in caplog.text
        assert not worker.is_alive()
    finally:
        await app.close()


async def test_document_workers_stop_when_their_process_is_killed_outright(
    tmp_path: Path,
) -> None:
    # SIGKILL or a crash: nothing in the process runs, the workers must notice on their own
    pids = tmp_path / "workers"
    script = (
        "import multiprocessing, pathlib, sys, time\n"
        "from etp.rendering import ProcessRenderer\n"
        "renderer = ProcessRenderer(1)\n"
        "renderer.start().result()\n"
        "children = [str(p.pid) for p in multiprocessing.active_children()]\n"
        "pathlib.Path(sys.argv[1]).write_text(' '.join(children))\n"
        "time.sleep(600)\n"
    )
    # no pipes: a worker left behind would hold them open, and waiting for the parent would hang
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(pids), stdout=asyncio.subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(60):
            while not pids.exists() or not pids.read_text():  # noqa: ASYNC110 (a file)
                await asyncio.sleep(0.05)
        workers = [int(pid) for pid in pids.read_text().split()]
        assert workers and all(running(pid) for pid in workers)
    finally:
        parent.kill()
        await parent.wait()
    await wait_until_stopped(workers)


async def _frozen_worker(renderer: ProcessRenderer) -> BaseProcess:
    """The renderer's one worker, started, then stopped (SIGSTOP): a render that never ends."""
    (worker,) = await _started_workers(renderer)
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)
    return worker


def _thaw(worker: BaseProcess) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid or 0, signal.SIGCONT)


async def test_a_render_that_hangs_fails_and_those_queued_behind_it_are_done_by_new_workers(
    finished: Etp, caplog: pytest.LogCaptureFixture
) -> None:
    document = build_document(finished, now=NOW)
    renderer = ProcessRenderer(1, timeout=1.0)
    stuck = await _frozen_worker(renderer)
    try:
        hung = asyncio.create_task(renderer.render("pdf", document))
        await asyncio.sleep(0)  # it is waiting, with its one second
        renderer.timeout = 60.0  # room for new workers to start
        queued = asyncio.create_task(renderer.render("docx", document))
        with caplog.at_level(logging.WARNING, logger="etp.rendering"), pytest.raises(TimeoutError):
            await hung
        assert "took over 1 s" in caplog.text
        docx.Document(io.BytesIO(await asyncio.wait_for(queued, 60)))  # not lost: done anew
        stuck.join(10)
        assert stuck.exitcode == -signal.SIGKILL  # the stuck worker is not left behind
    finally:
        _thaw(stuck)
        await renderer.close()


async def test_the_render_timeout_counts_a_renders_own_time_not_its_wait_for_a_worker(
    finished: Etp,
) -> None:
    # one worker, stuck: the first render uses up its timeout; the second waited that long
    # for a worker, and then has its whole timeout on a new one (before: it failed with the first)
    document = build_document(finished, now=NOW)
    renderer = ProcessRenderer(1, timeout=5.0)
    stuck = await _frozen_worker(renderer)
    try:
        hung = asyncio.create_task(renderer.render("pdf", document))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(renderer.render("docx", document))
        with pytest.raises(TimeoutError):
            await hung
        docx.Document(io.BytesIO(await asyncio.wait_for(waiting, 60)))
    finally:
        _thaw(stuck)
        await renderer.close()


async def test_closing_with_a_worker_stuck_returns_and_its_render_is_done_in_place(
    finished: Etp,
) -> None:
    document = build_document(finished, now=NOW)
    renderer = ProcessRenderer(1, timeout=60.0)
    stuck = await _frozen_worker(renderer)
    try:
        rendering = asyncio.create_task(renderer.render("docx", document))
        await asyncio.sleep(0)
        renderer.timeout = 1.0  # how long close() waits for the renders asked for
        await asyncio.wait_for(renderer.close(), 30)  # returns, though the worker never will
        docx.Document(io.BytesIO(await asyncio.wait_for(rendering, 30)))
        stuck.join(10)
        assert stuck.exitcode == -signal.SIGKILL
    finally:
        _thaw(stuck)


class _FullDisk:
    """A renderer that fails as any could (the port's contract allows it)."""

    async def render(self, fmt: str, document: EtpDocument) -> bytes:
        raise OSError(28, "No space left on device")


async def test_a_document_that_cannot_be_rendered_gets_a_notice_and_a_retry_works(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await finish_etp(chat)
        working, app.service.renderer = app.service.renderer, _FullDisk()
        assert chat.texts(await chat.say("/exportar pdf")) == [m.EXPORT_FAILED]
        app.service.renderer = working
        pdf = (await chat.say("/exportar pdf"))[0]
        assert isinstance(pdf, Document) and pdf.content.startswith(b"%PDF-")
    finally:
        await app.close()


def test_download_names_are_safe() -> None:
    etp = Etp(id=7, title='../../etc/passwd "; rm -rf" \r\nX-Evil: 1 — Aquisição de papel')
    doc = build_document(etp, now=NOW)
    name = doc.download_name("pdf")
    assert name == "ETP-7-etc-passwd-rm-rf-x-evil-1-aquisicao-de-papel.pdf"
    assert build_document(Etp(id=8, title="🙂🙂"), now=NOW).download_name("md") == "ETP-8.md"
