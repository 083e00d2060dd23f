"""Bearer-token authentication, scopes and the per-token rate limit, as dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import EtpApp
from conversations.catalogue import messages as m
from storage.admin import Principal

_bearer = HTTPBearer(auto_error=False, description="Token criado com `etp token create`.")


async def current_token(
    request: Request,
    app: EtpApp,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The calling token: 401 without a valid one, 429 over its rate limit, or when the
    client's address failed authentication too often (then not even looked up)."""
    failures = request.app.state.auth_failures
    address = request.client.host if request.client else "unknown"
    wait = await failures.retry_after(address, count=False) if credentials else None
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            m.API_RATE_LIMITED.format(seconds=wait),
            headers={"Retry-After": str(wait)},
        )
    principal = await app.admin.authenticate(credentials.credentials) if credentials else None
    if principal is None:
        if credentials:  # each costs a database query: counted against the address
            await failures.retry_after(address)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            m.API_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = await request.app.state.rate_limiter.retry_after(str(principal.token_id))
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            m.API_RATE_LIMITED.format(seconds=wait),
            headers={"Retry-After": str(wait)},
        )
    return principal


Token = Annotated[Principal, Depends(current_token)]


async def admin_token(principal: Token) -> Principal:
    """Only `admin` tokens pass (403 for `read`)."""
    if principal.scope != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, m.API_FORBIDDEN.format(scope="admin"))
    return principal


AdminToken = Annotated[Principal, Depends(admin_token)]
