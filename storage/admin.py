"""Admin queries: API tokens, the ETP list, revisions, counts. Off the per-message hot path."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.catalogue.sections import ROMAN
from storage.statements import sections_done
from storage.tables import etps, people, revisions, tokens

SCOPES = ("read", "admin")
# a token's tenant: a Slack workspace, a Telegram chat (a group, or a person's private chat) or
# an órgão (its name as the identification gives it, case aside)
_TENANT = re.compile(r"slack:[A-Z0-9]{1,32}|telegram:-?\d{1,20}|orgao:\S.{0,199}")
TOKEN_PREFIX = "etp_"
# last_used_at is written at most this often per token, so reads stay reads.
_TOUCH_EVERY = timedelta(minutes=1)


def parse_tenant(value: str) -> str:
    """A tenant as stored ("slack:T0123", "telegram:-100123", "orgao:<name>"); ValueError
    for anything else."""
    value = value.strip()
    if not _TENANT.fullmatch(value):
        raise ValueError(
            "tenant must be slack:<team id>, telegram:<chat id> or orgao:<name of the órgão>"
        )
    return value


def tenant_condition(tenant: str) -> ColumnElement[bool]:
    """The ETPs a tenant holds: its shared ones (a Slack thread of the workspace, a Telegram
    group) and the private ones of its people (a Slack DM; a Telegram private chat, whose id
    is its person's: not the groups' ETPs that person created); for an órgão, those whose
    identification names it."""
    kind, _, value = tenant.partition(":")
    if kind == "orgao":
        return func.lower(etps.c.orgao) == value.lower()
    if kind == "slack":  # Slack people are "<team>:<user>"
        person = people.c.external_id.startswith(f"{value}:", autoescape=True)
    else:
        person = people.c.external_id == value
    owners = select(people.c.id).where(people.c.platform == kind, person)
    return or_(
        etps.c.shared_key.startswith(f"{kind}:{value}:", autoescape=True),
        and_(etps.c.shared_key.is_(None), etps.c.owner_id.in_(owners)),
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    scope: str
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the API: one token."""

    token_id: int
    name: str
    scope: str
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class EtpFilter:
    status: str | None = None
    orgao: str | None = None
    text: str | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class EtpListItem:
    id: int
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


@dataclass(frozen=True, slots=True)
class RevisionItem:
    id: int
    section: int
    roman: str
    kind: str
    text: str
    author: str
    created_at: datetime | None


class AdminStore:
    """Reads for the admin API and the token commands; each call is its own transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- tokens --------------------------------------------------------------------------

    async def create_token(
        self, name: str, scope: str, *, tenant: str | None = None
    ) -> tuple[TokenInfo, str]:
        """A new token; the clear text is returned once and only its hash is stored.
        `tenant`: the token sees that tenant's ETPs only (parse_tenant)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        tenant = parse_tenant(tenant) if tenant is not None else None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            token_id = (
                await conn.execute(
                    insert(tokens)
                    .values(
                        name=name[:100],
                        scope=scope,
                        token_hash=hash_token(token),
                        created_at=now,
                        tenant=tenant,
                    )
                    .returning(tokens.c.id)
                )
            ).scalar_one()
        return TokenInfo(int(token_id), name[:100], scope, now, None, None, tenant), token

    async def list_tokens(self) -> list[TokenInfo]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(tokens).order_by(tokens.c.id))).all()
        return [
            TokenInfo(
                r.id,
                r.name,
                r.scope,
                _utc(r.created_at),
                _utc(r.last_used_at),
                _utc(r.revoked_at),
                r.tenant,
            )
            for r in rows
        ]

    async def revoke_token(self, token_id: int) -> bool:
        """Revoke now; False when there is no such active token."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    async def authenticate(self, token: str) -> Principal | None:
        """The active token with this value, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        tokens.c.id,
                        tokens.c.name,
                        tokens.c.scope,
                        tokens.c.tenant,
                        tokens.c.last_used_at,
                    )
                    .where(tokens.c.token_hash == hash_token(token))
                    .where(tokens.c.revoked_at.is_(None))
                )
            ).first()
            if row is None:
                return None
            now = datetime.now(UTC)
            last = _utc(row.last_used_at)
            if last is None or now - last > _TOUCH_EVERY:
                await conn.execute(
                    update(tokens).where(tokens.c.id == row.id).values(last_used_at=now)
                )
                await conn.commit()
        return Principal(row.id, row.name, row.scope, row.tenant)

    # --- ETPs ----------------------------------------------------------------------------

    async def list_etps(
        self, where: EtpFilter, *, limit: int, offset: int, tenant: str | None = None
    ) -> tuple[list[EtpListItem], int]:
        """A page of ETPs, most recently updated first, and how many match in all (of the
        tenant's, when given)."""
        conditions: list[Any] = [tenant_condition(tenant)] if tenant is not None else []
        if where.status:
            conditions.append(etps.c.status == where.status)
        if where.orgao:
            conditions.append(etps.c.orgao.icontains(where.orgao, autoescape=True))
        if where.text:
            conditions.append(
                or_(
                    etps.c.title.icontains(where.text, autoescape=True),
                    etps.c.orgao.icontains(where.text, autoescape=True),
                )
            )
        if where.updated_since is not None:
            since = _utc(where.updated_since)
            conditions.append(etps.c.updated_at >= since)
        match = and_(True, *conditions)
        # The page is chosen first and only its rows are counted: a correlated count in the
        # outer select would run for every row an OFFSET skips.
        page_ids = (
            select(etps.c.id, etps.c.updated_at)
            .where(match)
            .order_by(etps.c.updated_at.desc(), etps.c.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        done = sections_done()
        page = (
            select(
                etps.c.id,
                etps.c.title,
                etps.c.status,
                etps.c.orgao,
                etps.c.identification,
                etps.c.created_at,
                etps.c.updated_at,
                etps.c.concluded_at,
                done.label("done"),
            )
            .join(page_ids, page_ids.c.id == etps.c.id)
            .order_by(page_ids.c.updated_at.desc(), page_ids.c.id.desc())
        )
        async with self.engine.connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(etps).where(match))
            ).scalar_one()
            rows = (await conn.execute(page)).all() if total > offset else []
        items = []
        for r in rows:
            ident = r.identification or {}
            items.append(
                EtpListItem(
                    id=r.id,
                    title=r.title,
                    status=r.status,
                    orgao=r.orgao,
                    unidade=str(ident.get("unidade", "")),
                    processo=str(ident.get("processo", "")),
                    objeto=str(ident.get("objeto", "")),
                    sections_done=int(r.done),
                    created_at=_utc(r.created_at),
                    updated_at=_utc(r.updated_at),
                    concluded_at=_utc(r.concluded_at),
                )
            )
        return items, int(total)

    async def visible(self, etp_id: int, tenant: str | None) -> bool:
        """Whether the ETP exists and belongs to the tenant (any tenant when None)."""
        query = select(etps.c.id).where(etps.c.id == etp_id)
        if tenant is not None:
            query = query.where(tenant_condition(tenant))
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def revisions(
        self, etp_id: int, *, limit: int, offset: int, tenant: str | None = None
    ) -> tuple[list[RevisionItem], int] | None:
        """An ETP's revisions, oldest first; None when the ETP does not exist (for the
        tenant, when given)."""
        if not await self.visible(etp_id, tenant):
            return None
        async with self.engine.connect() as conn:
            total = (
                await conn.execute(
                    select(func.count()).select_from(revisions).where(revisions.c.etp_id == etp_id)
                )
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(revisions)
                    .where(revisions.c.etp_id == etp_id)
                    .order_by(revisions.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
        return [
            RevisionItem(
                r.id,
                r.section,
                ROMAN[r.section - 1] if 1 <= r.section <= len(ROMAN) else str(r.section),
                r.kind,
                r.text,
                r.author_name,
                _utc(r.created_at),
            )
            for r in rows
        ], int(total)

    async def count_by_status(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(etps.c.status, func.count()).group_by(etps.c.status))
            ).all()
        return {status: int(count) for status, count in rows}
