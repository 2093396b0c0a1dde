"""What a request to a route beside /graphql says: its id, who asks, and its parameters.

Who asks is the `Authorization` header, as for /graphql, or a signed link in `?link=`
(app.auth.signed_links) for a browser that cannot send a header: then the link's signer,
with their rights as they are now, and the parameters the link was signed with.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from app.auth.signed_links import SignedLinks
from app.auth.viewer import Viewer
from app.errors import BadInput

LINK = "link"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(request: HTTPConnection) -> str:
    """The caller's X-Request-ID when it is short and plain (it is stored in the audit
    trail and logs), else a new random one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Caller:
    viewer: Viewer
    signed: dict[str, Any] | None = field(default=None)
    """The link's parameters when the request came with one; None with a header."""


async def caller_of(
    request: HTTPConnection,
    *,
    purpose: str,
    check: Callable[[dict[str, Any]], None] = lambda params: None,
) -> Caller:
    """Who asks: a `?link=` signed for `purpose` (used up now; `check(params)` may refuse
    it for this request first, leaving it unused), else the Authorization header (absent:
    anonymous). Bad credentials and refused links raise, with their codes."""
    token = request.query_params.get(LINK)
    if token is not None:
        links: SignedLinks = request.app.state.links
        grant = await links.redeem(token, purpose=purpose, check=check)
        return Caller(viewer=grant.viewer, signed=grant.params)
    viewer = await request.app.state.authenticator.viewer(request.headers.get("authorization"))
    return Caller(viewer=viewer)


def refuse_unknown_parameters(
    request: HTTPConnection, *, known: Collection[str], takes: str
) -> None:
    """BadInput for a query parameter the route does not read: a typo (`filters`) would
    otherwise be ignored silently and download something else than was meant. `takes`
    says what the route does read."""
    unknown = sorted(set(request.query_params.keys()) - set(known))
    if unknown:
        raise BadInput(f"Unknown query parameter `{unknown[0]}`; {takes}", field=unknown[0])
