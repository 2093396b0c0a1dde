"""createExportLink: a short-lived, single-use download URL for an export, signed for
the caller (a browser cannot add an Authorization header to a plain link)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import Enum
from urllib.parse import quote

import strawberry
from strawberry.scalars import JSON

from app.auth.signed_links import SignedLinks
from app.errors import BadInput
from app.exports.arguments import arguments_for
from app.exports.kinds import KINDS
from app.exports.routes import PURPOSE
from app.graphql.context import Info
from app.graphql.payloads import InputError


@strawberry.enum(description="What an export lists: /export/<kind>.<format>.")
class ExportKind(Enum):
    ORDERS = "orders"
    ORDER_LINES = "order-lines"
    USERS = "users"
    PRODUCTS = "products"


@strawberry.enum(description="How an export is written.")
class ExportFormat(Enum):
    CSV = "csv"
    NDJSON = "ndjson"
    JSON = "json"


@strawberry.input(description="The export a link downloads.")
class CreateExportLinkInput:
    kind: ExportKind
    format: ExportFormat
    filter: JSON | None = strawberry.field(
        default=None,
        description="The kind's connection filter (OrderFilter for orders and order "
        "lines, UserFilter, ProductFilter), as a JSON object.",
    )
    order_by: JSON | None = strawberry.field(
        default=None, description="The connection's orderBy (OrderSort, ...), as a JSON object."
    )


@strawberry.type(description="A download link, or what to fix.")
class CreateExportLinkPayload:
    url: str | None = strawberry.field(
        description="GET it once, before expiresAt, without an Authorization header: it "
        "downloads as you, with your rights as they are then."
    )
    expires_at: datetime | None
    errors: list[InputError]


@strawberry.type
class ExportMutation:
    @strawberry.mutation(description="A single-use, short-lived URL that downloads an export.")
    async def create_export_link(
        self, info: Info, input: CreateExportLinkInput
    ) -> CreateExportLinkPayload:
        context = info.context
        kind = KINDS[input.kind.value]
        try:
            where, _ = arguments_for(info.schema).parse(
                kind, filter=input.filter, order_by=input.order_by
            )
            # As the download will: refused now rather than at the first click.
            kind.conditions(kind.restrict(context.viewer, where))
        except BadInput as exc:
            field = exc.field or "filter"
            return CreateExportLinkPayload(
                url=None,
                expires_at=None,
                errors=[InputError(field=field, code=exc.code, message=exc.message)],
            )
        links: SignedLinks = context.request.app.state.links
        expires_at = datetime.now(UTC) + timedelta(seconds=context.settings.export_link_seconds)
        token = await links.sign(
            purpose=PURPOSE,
            subject=context.viewer,
            params={
                "kind": kind.name,
                "format": input.format.value,
                "filter": input.filter,
                "orderBy": input.order_by,
            },
            expires_at=expires_at,
        )
        if context.viewer.expires_at is not None:
            expires_at = min(expires_at, context.viewer.expires_at)
        base = str(context.request.base_url).rstrip("/")
        url = f"{base}/export/{kind.name}.{input.format.value}?link={quote(token)}"
        return CreateExportLinkPayload(url=url, expires_at=expires_at, errors=[])
