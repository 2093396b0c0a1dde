"""GET /privacy/export?link=...: download a person's data archive (app.privacy.archive).

The link comes from exportMyData or exportUserData: signed for the caller, single use,
short-lived, for one person. Redeeming it checks the signer's rights as they are now
(an admin since demoted, a revoked token, an erased user: refused), and the profile is
read before the response starts, so every refusal is a clean coded error (app.web).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.auth import policy
from app.errors import BadInput, LinkInvalid, NotFound
from app.privacy.archive import personal_data
from app.web.errors import answering
from app.web.requests import LINK, caller_of, refuse_unknown_parameters

PURPOSE = "personal-data"
PATH = "/privacy/export"
TAKES = "this download takes only ?link=<the url from exportMyData or exportUserData>."


@answering
async def export_personal_data(request: Request) -> Response:
    refuse_unknown_parameters(request, known={LINK}, takes=TAKES)
    if LINK not in request.query_params:
        raise BadInput(f"Add ?link=...: {TAKES}", field=LINK)

    def one_person(params: dict[str, Any]) -> None:
        try:
            uuid.UUID(str(params.get("user")))
        except ValueError:
            raise LinkInvalid("This link does not name whose data it downloads.") from None

    caller = await caller_of(request, purpose=PURPOSE, check=one_person)
    assert caller.signed is not None  # the request came with a link
    user_id = uuid.UUID(caller.signed["user"])
    policy.require_user(caller.viewer, to="download personal data")
    if not policy.can_read_user(caller.viewer, user_id):
        raise NotFound("No user with this id.", field="id")
    chunks = personal_data(request.app.state.engine, user_id)
    first = await anext(chunks)
    filename = f"personal-data-{user_id}-{datetime.now(UTC).date().isoformat()}.json"
    return StreamingResponse(
        _prepend(first, chunks),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(rest):  # type: ignore[type-var]
        yield first
        async for chunk in rest:
            yield chunk


def privacy_routes() -> list[Route]:
    """The download route, for create_app."""
    return [Route(PATH, export_personal_data, methods=["GET"])]
