"""The admin API: list, inspect and download ETPs; revisions for `admin` tokens."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel

from api.auth import AdminToken, Token, current_token
from api.deps import EtpApp
from conversations.catalogue import messages as m
from conversations.export import DEFAULT_FORMAT, FORMATS, ORDERS
from conversations.export.document import (
    EtpDocument,
    build_document,
    document_json,
    resolve_order,
)
from conversations.model import ETP_STATUSES, Etp, TeamMember
from etp.container import App
from storage.admin import EtpFilter, Principal


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


async def known_query_only(request: Request) -> None:
    """422 for a query parameter the route does not know: a mistyped filter must not silently
    return everything."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "type": "extra_forbidden",
                    "loc": ["query", name],
                    "msg": m.API_UNKNOWN_PARAMETER.format(
                        name=name, known=", ".join(sorted(known)) or "—"
                    ),
                }
                for name in unknown
            ],
        )


router = APIRouter(
    prefix="/api",
    tags=["admin"],
    dependencies=[Depends(current_token), Depends(known_query_only)],
)

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"  # in the schema too, so clients know
MAX_ID = 2**63 - 1  # BIGINT; larger ids cannot exist and must not reach the driver


def _blank_is_none(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


def _in_utc(value: datetime | None) -> datetime | None:
    """A moment in UTC (no zone: UTC); one that does not exist there (0001-01-01T00:00+14:00
    falls before year 1) is a bad value, not a 500."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(m.API_DATE_OUT_OF_RANGE) from exc


SearchText = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL)]
EtpId = Annotated[int, Path(ge=1, le=MAX_ID, description="Número do ETP")]
# The engine's vocabulary, as Literals: FastAPI validates them and the schema lists them. A
# Literal built at run time is no type to mypy, which sees plain strings.
if TYPE_CHECKING:
    FormatName = str
    Order = str
    EtpStatus = str
else:
    FormatName = Literal[tuple(FORMATS)]
    Order = Literal[ORDERS]
    EtpStatus = Literal[ETP_STATUSES]


class EtpItem(BaseModel):
    id: int
    number: str
    title: str
    status: str
    orgao: str
    unidade: str
    processo: str
    objeto: str
    sections_done: int
    created_at: datetime | None
    updated_at: datetime | None
    concluded_at: datetime | None


class EtpPage(BaseModel):
    items: list[EtpItem]
    total: int
    limit: int
    offset: int


class RevisionOut(BaseModel):
    id: int
    section: int
    roman: str
    kind: str
    text: str
    author: str
    created_at: datetime | None


class RevisionPage(BaseModel):
    items: list[RevisionOut]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Token ausente, inválido ou revogado"},
    429: {"model": ErrorOut, "description": "Limite de requisições excedido (Retry-After)"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "ETP não encontrado"}
}


def _for_scope(doc: EtpDocument, principal: Principal) -> EtpDocument:
    """The one rule for personal data: who wrote what and who is on the team (names, cargos,
    matrículas) go to `admin` tokens; a `read` token gets the ETP without them, in JSON and
    in every export alike (as revisions, which hold names, are admin-only)."""
    if principal.scope == "admin":
        return doc
    hidden = m.DOC_PERSONAL_OMITTED
    return replace(
        doc,
        authors=(),
        team=tuple(TeamMember(hidden, hidden, hidden) for _ in doc.team),
        sections=tuple(replace(s, authors=(), prepared_by=()) for s in doc.sections),
        annexes=tuple(replace(a, prepared_by=()) for a in doc.annexes),
    )


async def _visible(app: App, etp_id: int, principal: Principal) -> None:
    """404 for an ETP outside the token's tenant, as for one that does not exist."""
    if principal.tenant is not None and not await app.admin.visible(etp_id, principal.tenant):
        raise HTTPException(status.HTTP_404_NOT_FOUND, m.API_ETP_NOT_FOUND.format(id=etp_id))


async def _load(app: App, etp_id: int) -> Etp:
    async with app.service.store.transaction() as tx:
        etp = await tx.load_etp(etp_id)
    if etp is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, m.API_ETP_NOT_FOUND.format(id=etp_id))
    return etp


@router.get("/etps", response_model=EtpPage, responses=_ERRORS)
async def list_etps(
    app: EtpApp,
    principal: Token,
    status_: Annotated[EtpStatus | None, Query(alias="status")] = None,
    orgao: Annotated[SearchText, Query(description="parte do nome do órgão")] = None,
    q: Annotated[SearchText, Query(description="busca no título e no órgão")] = None,
    updated_since: Annotated[
        datetime | None,
        AfterValidator(_in_utc),
        Query(description="ISO 8601; sem fuso, UTC"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> EtpPage:
    """ETPs, most recently updated first, with filters and paging."""
    where = EtpFilter(
        status=status_,
        orgao=_blank_is_none(orgao),
        text=_blank_is_none(q),
        updated_since=updated_since,
    )
    items, total = await app.admin.list_etps(
        where, limit=limit, offset=offset, tenant=principal.tenant
    )
    return EtpPage(
        items=[
            EtpItem(number=f"{i.id}/{(i.created_at or datetime.now()).year}", **asdict(i))
            for i in items
        ],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/etps/{etp_id}", responses={**_ERRORS, **_NOT_FOUND})
async def get_etp(
    app: EtpApp, principal: Token, etp_id: EtpId, order: Order | None = None
) -> dict[str, Any]:
    """The ETP as JSON: identification, status, each section with its status, content,
    justification and authors (the same shape as the JSON export), and what its LLM drafts
    cost (`llm_usage`: prompt and completion tokens, estimated US dollars)."""
    await _visible(app, etp_id, principal)
    etp = await _load(app, etp_id)
    # without `order`: the ETP's own (/ordem in the chat), else ETP_DOCUMENT_ORDER
    chosen = resolve_order(etp, order, app.service.document_order)
    doc = build_document(etp, order=chosen, now=app.service.clock.now())
    body = document_json(_for_scope(doc, principal))
    body["llm_usage"] = {
        "prompt_tokens": etp.llm_prompt_tokens,
        "completion_tokens": etp.llm_completion_tokens,
        "cost_usd": round(etp.llm_cost_usd, 6),
    }
    return body


@router.get(
    "/etps/{etp_id}/export",
    response_class=Response,
    responses={
        **_ERRORS,
        **_NOT_FOUND,
        200: {
            "description": "O documento, como anexo",
            "content": {f.media_type.split(";")[0]: {} for f in FORMATS.values()},
        },
    },
)
async def export_etp(
    app: EtpApp,
    principal: Token,
    etp_id: EtpId,
    fmt: Annotated[FormatName, Query(alias="format")] = DEFAULT_FORMAT,
    order: Order | None = None,
) -> Response:
    """The document in one format, law order or IN SEGES 58/2022 order (`order=in58`);
    without `order`, the ETP's own order, else the installation's (ETP_DOCUMENT_ORDER)."""
    await _visible(app, etp_id, principal)
    etp = await _load(app, etp_id)
    spec = FORMATS[fmt]
    chosen = resolve_order(etp, order, app.service.document_order)
    doc = _for_scope(build_document(etp, order=chosen, now=app.service.clock.now()), principal)
    content = await app.service.renderer.render(fmt, doc)  # off the event loop (etp/rendering)
    app.service.observer.exported(fmt)
    name = doc.download_name(spec.extension)
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        content, media_type=spec.media_type, headers={"Content-Disposition": disposition}
    )


@router.get(
    "/etps/{etp_id}/revisions",
    response_model=RevisionPage,
    responses={
        **_ERRORS,
        **_NOT_FOUND,
        403: {"model": ErrorOut, "description": "Exige um token de escopo admin"},
    },
)
async def revisions(
    app: EtpApp,
    principal: AdminToken,
    etp_id: EtpId,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RevisionPage:
    """Every accepted, edited or skipped text of the ETP, oldest first, with its author.

    Needs an `admin` token: it holds each author's name and every text ever accepted.
    """
    found = await app.admin.revisions(etp_id, limit=limit, offset=offset, tenant=principal.tenant)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, m.API_ETP_NOT_FOUND.format(id=etp_id))
    items, total = found
    return RevisionPage(
        items=[RevisionOut(**asdict(r)) for r in items],
        total=total,
        limit=limit,
        offset=offset,
    )
