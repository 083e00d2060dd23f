"""The admin API over HTTP (in-process ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import docx
import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from api.app import create_api
from api.ratelimit import TokenRateLimiter
from conversations.catalogue.sections import SECTIONS
from etp.cli import cli
from etp.container import App
from etp.settings import ApiSettings
from storage.admin import hash_token
from tests.conftest import REDIS_TEST_URL, need_service
from tests.helpers import SKIP_JUSTIFICATIONS, finish_etp, make_app, make_chat, override


@dataclass
class Api:
    app: App
    client: httpx.AsyncClient
    read: str
    admin: str
    revoked: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def get(self, url: str, token: str | None = None, **kw: object) -> httpx.Response:
        headers = self.auth(token) if token else {}
        return await self.client.get(url, headers=headers, **kw)  # type: ignore[arg-type]


async def _tokens(app: App) -> tuple[str, str, str]:
    _, read = await app.admin.create_token("painel", "read")
    _, admin = await app.admin.create_token("auditoria", "admin")
    revoked_info, revoked = await app.admin.create_token("antigo", "admin")
    assert await app.admin.revoke_token(revoked_info.id)
    return read, admin, revoked


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    app = await make_app(db_url)
    chat = make_chat(app)
    await finish_etp(chat, title="Papel A4")  # ETP 1, concluded
    other = make_chat(app, chat_id="chat-2", user_id="u2", name="João Souza")
    await other.say("/novo Serviço de limpeza")  # ETP 2, just begun
    for line in [
        "Universidade Federal do Sul",
        "Prefeitura do Campus",
        "Porto Alegre/RS",
        "23100.000999/2026-01",
        "/pular",  # no DFD
        "/pular",  # no own number: the document uses ours
        "Serviço de limpeza predial",
        "João Souza; Engenheiro; 7654321",
        "/aceitar",
        "/pular",
    ]:
        await other.say(line)
    read, admin, revoked = await _tokens(app)
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        yield Api(app, client, read, admin, revoked)
    await app.close()


ROUTES = ["/api/etps", "/api/etps/1", "/api/etps/1/export?format=pdf", "/api/etps/1/revisions"]


async def test_auth_matrix(api: Api) -> None:
    """Who gets what: no token, a wrong one, a revoked one, read and admin scopes."""
    seen: dict[tuple[str, str], int] = {}
    for route in ROUTES:
        for who, headers in {
            "none": {},
            "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
            "wrong": api.auth("etp_" + "x" * 43),
            "garbage": api.auth("not a token at all"),
            "revoked": api.auth(api.revoked),
            "read": api.auth(api.read),
            "admin": api.auth(api.admin),
        }.items():
            response = await api.client.get(route, headers=headers)
            seen[(route, who)] = response.status_code
            if response.status_code == 401:
                assert response.headers["www-authenticate"] == "Bearer"
                assert "Token ausente, inválido ou revogado" in response.json()["detail"]
    for route in ROUTES:
        for who in ("none", "basic", "wrong", "garbage", "revoked"):
            assert seen[(route, who)] == 401, (route, who)
        assert seen[(route, "admin")] == 200, route
    assert [seen[(r, "read")] for r in ROUTES] == [200, 200, 200, 403]
    forbidden = await api.get("/api/etps/1/revisions", api.read)
    assert forbidden.json() == {
        "detail": "Este token não tem permissão para esta operação (escopo exigido: admin)."
    }


async def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    async with api.app.engine.connect() as conn:
        rows = [tuple(r) for r in await conn.execute(text("SELECT * FROM api_tokens"))]
    dump = repr(rows)
    for token in (api.read, api.admin, api.revoked):
        assert token not in dump
        assert hash_token(token) in dump
    listed = await api.app.admin.list_tokens()
    assert [(t.name, t.scope, t.revoked_at is not None) for t in listed] == [
        ("painel", "read", False),
        ("auditoria", "admin", False),
        ("antigo", "admin", True),
    ]
    await api.get("/api/etps", api.read)
    used = {t.name: t.last_used_at for t in await api.app.admin.list_tokens()}
    assert used["painel"] is not None and used["auditoria"] is None


async def test_list_filters_and_pages(api: Api) -> None:
    body = (await api.get("/api/etps", api.read)).json()
    assert body["total"] == 2
    assert [i["id"] for i in body["items"]] == [2, 1]  # most recently updated first
    first = body["items"][1]
    assert first["status"] == "concluido" and first["sections_done"] == 13
    assert first["processo"] == "23000.001234/2026-11"
    assert first["orgao"] == "Ministério da Gestão e da Inovação"
    assert first["number"].startswith("1/")

    async def ids(query: str) -> tuple[list[int], int]:
        response = await api.get(f"/api/etps?{query}", api.read)
        assert response.status_code == 200, response.text
        data = response.json()
        return [i["id"] for i in data["items"]], data["total"]

    assert await ids("status=concluido") == ([1], 1)
    assert await ids("status=em_elaboracao") == ([2], 1)
    assert await ids("orgao=universidade") == ([2], 1)
    assert await ids("q=papel") == ([1], 1)
    assert await ids("q=100%25") == ([], 0)  # a LIKE wildcard is searched for literally
    assert await ids("limit=1") == ([2], 2)
    assert await ids("limit=1&offset=1") == ([1], 2)
    assert await ids("offset=5") == ([], 2)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert await ids(f"updated_since={quote(future)}") == ([], 0)
    assert (await ids(f"updated_since={past}"))[1] == 2


@pytest.mark.parametrize(
    "query",
    [
        "status=arquivado",
        "limit=0",
        "limit=101",
        "offset=-1",
        "updated_since=ontem",
        "q=%00papel",
        f"q={'x' * 201}",
    ],
)
async def test_bad_list_queries_are_422_and_json(api: Api, query: str) -> None:
    response = await api.get(f"/api/etps?{query}", api.read)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"]


async def test_a_mistyped_filter_is_refused_not_ignored(api: Api) -> None:
    response = await api.get("/api/etps?stauts=concluido", api.read)
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert message.startswith("Parâmetro desconhecido: 'stauts'. Parâmetros aceitos: limit, ")
    assert (await api.get("/api/etps/1?formato=pdf", api.read)).status_code == 422
    assert (await api.get("/api/etps?stauts=x")).status_code == 401  # authentication first


async def test_one_etp_as_json(api: Api) -> None:
    # names, cargos and matrículas go to admin tokens only (tests/test_security.py)
    data = (await api.get("/api/etps/1", api.admin)).json()
    assert data["status"] == "concluido" and data["complete"] is True
    assert data["identification"]["equipe"] == [
        {"name": "Maria Silva", "cargo": "Analista Administrativa", "matricula": "1234567"}
    ]
    sections = {s["roman"]: s for s in data["sections"]}
    assert list(sections) == [s.roman for s in SECTIONS]
    assert sections["II"]["status"] == "skipped"
    assert sections["II"]["justification"] == SKIP_JUSTIFICATIONS[2]
    content = sections["I"]["content"]
    assert sections["I"]["status"] == "accepted"
    assert "Problema a ser resolvido: faltam resmas" in content
    assert sections["I"]["authors"] == ["Maria Silva"]
    begun = (await api.get("/api/etps/2", api.read)).json()
    assert begun["complete"] is False and "Item 1 — Descrição da necessidade" in begun["missing"][0]


@pytest.mark.parametrize(
    "path", ["/api/etps/999", "/api/etps/999/export", "/api/etps/999/revisions"]
)
async def test_unknown_etp_is_404_json(api: Api, path: str) -> None:
    response = await api.get(path, api.admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "ETP nº 999 não encontrado."}


@pytest.mark.parametrize(
    "path", ["/api/etps/0", "/api/etps/-1", "/api/etps/abc", f"/api/etps/{2**63}", "/api/etps/1.5"]
)
async def test_impossible_ids_are_422(api: Api, path: str) -> None:
    response = await api.get(path, api.read)
    assert response.status_code == 422 and response.json()["detail"]


async def test_export_in_every_format_with_safe_names(api: Api) -> None:
    expected = {
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "pdf": "application/pdf",
        "md": "text/markdown; charset=utf-8",
        "html": "text/html; charset=utf-8",
        "json": "application/json",
    }
    for fmt, media_type in expected.items():
        response = await api.get(f"/api/etps/1/export?format={fmt}", api.read)
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        disposition = response.headers["content-disposition"]
        assert disposition == (
            f"attachment; filename=\"ETP-1-papel-a4.{fmt}\"; filename*=UTF-8''ETP-1-papel-a4.{fmt}"
        )
    default = await api.get("/api/etps/1/export", api.read)
    document = docx.Document(io.BytesIO(default.content))
    assert "ESTUDO TÉCNICO PRELIMINAR nº 7/2026" in [p.text for p in document.paragraphs]
    begun = await api.get("/api/etps/2/export", api.read)  # no number of the órgão's own
    assert "ESTUDO TÉCNICO PRELIMINAR nº 2/" + str(datetime.now(UTC).year) in [
        p.text for p in docx.Document(io.BytesIO(begun.content)).paragraphs
    ]
    pdf = await api.get("/api/etps/1/export?format=pdf", api.read)
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    assert f"Página 1 de {len(pages)}" in pages[0].extract_text()
    bad = await api.get("/api/etps/1/export?format=xls", api.read)
    assert bad.status_code == 422
    bad = await api.get("/api/etps/1/export?order=alfabetica", api.read)
    assert bad.status_code == 422


async def test_export_in_in58_order(api: Api) -> None:
    response = await api.get("/api/etps/1/export?format=json&order=in58", api.read)
    data = response.json()
    assert data["order"] == "in58"
    assert [s["in58"] for s in data["sections"]] == list(range(1, 14))
    assert data["sections"][2]["title"] == "Levantamento de mercado"
    markdown = (await api.get("/api/etps/1/export?format=md&order=in58", api.read)).text
    assert markdown.index("## 3. Levantamento de mercado") < markdown.index(
        "## 5. Estimativa das quantidades a serem contratadas"
    )


async def test_hostile_titles_give_safe_file_names(api: Api) -> None:
    chat = make_chat(api.app, chat_id="chat-3", user_id="u3", name="Eva")
    await chat.say('/novo ../../x"; filename=evil.exe\r\nSet-Cookie: a=b — Café')
    listing = (await api.get("/api/etps?limit=1", api.read)).json()
    etp_id = listing["items"][0]["id"]
    response = await api.get(f"/api/etps/{etp_id}/export?format=md", api.read)
    disposition = response.headers["content-disposition"]
    name = re.match(r'attachment; filename="([^"]+)"', disposition)
    assert name is not None
    assert name.group(1) == f"ETP-{etp_id}-x-filename-evil-exe-set-cookie-a-b-cafe.md"
    assert "set-cookie" not in {k.lower() for k in response.headers if k != "content-disposition"}


async def test_revisions_show_every_text_with_its_author(api: Api) -> None:
    data = (await api.get("/api/etps/1/revisions", api.admin)).json()
    assert data["total"] == 13
    kinds = {r["roman"]: r["kind"] for r in data["items"]}
    assert kinds["II"] == "skipped" and kinds["I"] == "accepted"
    skipped = next(r for r in data["items"] if r["roman"] == "XI")
    assert skipped["text"] == SKIP_JUSTIFICATIONS[11] and skipped["author"] == "Maria Silva"
    page = (await api.get("/api/etps/1/revisions?limit=5&offset=10", api.admin)).json()
    assert len(page["items"]) == 3 and page["total"] == 13


async def test_request_bodies_over_the_limit_are_413(api: Api) -> None:
    response = await api.client.request(
        "GET", "/api/etps", headers=api.auth(api.read), content=b"x" * 70_000
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "A requisição excede o limite de 65536 bytes."}

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length to check
        for _ in range(3):
            yield b"x" * 30_000

    response = await api.client.request(
        "GET", "/api/etps", headers=api.auth(api.read), content=chunked()
    )
    assert response.status_code == 413


async def test_openapi_documents_the_routes_and_the_bearer_scheme(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    assert {"/api/etps", "/api/etps/{etp_id}", "/api/etps/{etp_id}/export"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert (await api.client.get("/docs")).status_code == 200


# --- rate limit ------------------------------------------------------------------------


async def _limited(app: App, rate: str, redis_url: str | None) -> httpx.AsyncClient:
    override(app.settings, api=ApiSettings(etp_api_rate_limit=rate))
    api = create_api(app)
    if redis_url:  # a private key prefix: other runs share this Redis
        api.state.rate_limiter = TokenRateLimiter(
            rate, redis_url, key_prefix=f"etp-test-{uuid.uuid4().hex}"
        )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://etp")


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_rate_limit_per_token_answers_429_with_retry_after(
    sqlite_url: str, backend: str
) -> None:
    redis_url = None
    if backend == "redis":
        host, port = httpx.URL(REDIS_TEST_URL).host, httpx.URL(REDIS_TEST_URL).port or 6379
        need_service("Redis", host, port)
        redis_url = REDIS_TEST_URL
    app = await make_app(sqlite_url)
    try:
        _, first = await app.admin.create_token("a", "read")
        _, second = await app.admin.create_token("b", "read")
        async with await _limited(app, "3/minute", redis_url) as client:
            codes = [
                (await client.get("/api/etps", headers={"Authorization": f"Bearer {first}"}))
                for _ in range(4)
            ]
            assert [r.status_code for r in codes] == [200, 200, 200, 429]
            assert 1 <= int(codes[-1].headers["retry-after"]) <= 60
            assert "Limite de requisições excedido" in codes[-1].json()["detail"]
            other = await client.get("/api/etps", headers={"Authorization": f"Bearer {second}"})
            assert other.status_code == 200  # the limit is per token
    finally:
        await app.close()


async def test_api_is_503_when_the_database_is_unreachable(unused_tcp_port: int) -> None:
    app = await make_app(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/x")
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        response = await client.get("/api/etps", headers={"Authorization": "Bearer etp_abc"})
    await app.close()
    assert response.status_code == 503
    assert response.json() == {
        "detail": "O banco de dados está indisponível. Tente novamente em instantes."
    }


# --- command line ----------------------------------------------------------------------


def test_token_commands_create_list_and_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/etp.db")
    runner = CliRunner()
    created = runner.invoke(cli, ["token", "create", "--name", "painel BI", "--scope", "admin"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("etp_") and len(token) > 40
    assert "token 1 (painel BI, scope admin)" in created.output
    listed = runner.invoke(cli, ["token", "list"])
    assert listed.exit_code == 0
    assert re.search(r"^1\tpainel BI\tadmin\tactive\t", listed.output, re.M)
    assert token not in listed.output
    bad = runner.invoke(cli, ["token", "create", "--name", "x", "--scope", "root"])
    assert bad.exit_code != 0 and "unknown scope root" in bad.output
    revoked = runner.invoke(cli, ["token", "revoke", "1"])
    assert revoked.exit_code == 0 and "token 1 revoked" in revoked.output
    assert runner.invoke(cli, ["token", "revoke", "1"]).exit_code == 1
    assert "\trevoked " in runner.invoke(cli, ["token", "list"]).output
    assert json.dumps(token) not in (tmp_path / "etp.db").read_bytes().decode("latin-1")
