"""FastAPI dependencies (all async: a sync one would cost a thread hop each): the app's
RelayContext, and the credentials of a mailbox request. The token itself is checked by
`authorize`, inside the same database hop as the work it guards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wallet.address import to_checksum

from .auth import TokenClaims
from .context import RelayContext
from .errors import Forbidden, Invalid
from .schemas import ADDRESS

_ADDRESS = re.compile(ADDRESS)
bearer = HTTPBearer(auto_error=False, description="A token from POST /v1/auth/token; it serves its own mailbox only.")


async def relay(request: Request) -> RelayContext:
    return request.app.state.relay


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str | None
    named: tuple[str | None, ...]  # mailboxes the request names, if any


async def credentials(
    auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    address: Annotated[
        str | None, Query(description="Optional: the mailbox you mean; it must be the token's (else 403)")
    ] = None,
    x_hongbao_mailbox: Annotated[str | None, Header(description="Optional: same as ?address=")] = None,
) -> Credentials:
    return Credentials(auth.credentials if auth else None, (address, x_hongbao_mailbox))


Relay = Annotated[RelayContext, Depends(relay)]
Creds = Annotated[Credentials, Depends(credentials)]


def check_named(claims: TokenClaims, *named: str | None) -> None:
    """A request may name its mailbox (?address=, X-Hongbao-Mailbox); it must be the token's."""
    for name in named:
        if name is None:
            continue
        if not _ADDRESS.match(name):
            raise Invalid(f"{name!r} is not an address")
        if to_checksum(name) != claims.mailbox:
            raise Forbidden("this token serves another mailbox; a token only ever reads its own")


def authorize(context: RelayContext, given: Credentials) -> TokenClaims:
    """The token's claims: 401 if it is missing, forged, expired or revoked; 403 if the
    request names another mailbox. Blocking (reads the mailbox's current key)."""
    claims = context.tokens.verify(given.token, context.clock())
    check_named(claims, *given.named)
    return claims
