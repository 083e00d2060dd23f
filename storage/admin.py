"""Admin queries: API tokens, the ETP list, revisions, counts. Off the per-message hot path."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.catalogue.sections import ROMAN
from storage.statements import sections_done
from storage.tables import etps, revisions, tokens

SCOPES = ("read", "admin")
TOKEN_PREFIX = "etp_"
# last_used_at is written at most this often per token, so reads stay reads.
_TOUCH_EVERY = timedelta(minutes=1)


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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the API: one token."""

    token_id: int
    name: str
    scope: str


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

    async def create_token(self, name: str, scope: str) -> tuple[TokenInfo, str]:
        """A new token; the clear text is returned once and only its hash is stored."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            token_id = (
                await conn.execute(
                    insert(tokens)
                    .values(
                        name=name[:100], scope=scope, token_hash=hash_token(token), created_at=now
                    )
                    .returning(tokens.c.id)
                )
            ).scalar_one()
        return TokenInfo(int(token_id), name[:100], scope, now, None, None), token

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
                    select(tokens.c.id, tokens.c.name, tokens.c.scope, tokens.c.last_used_at)
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
        return Principal(row.id, row.name, row.scope)

    # --- ETPs ----------------------------------------------------------------------------

    async def list_etps(
        self, where: EtpFilter, *, limit: int, offset: int
    ) -> tuple[list[EtpListItem], int]:
        """A page of ETPs, most recently updated first, and how many match in all."""
        conditions: list[Any] = []
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

    async def revisions(
        self, etp_id: int, *, limit: int, offset: int
    ) -> tuple[list[RevisionItem], int] | None:
        """An ETP's revisions, oldest first; None when the ETP does not exist."""
        async with self.engine.connect() as conn:
            exists = (await conn.execute(select(etps.c.id).where(etps.c.id == etp_id))).first()
            if exists is None:
                return None
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
