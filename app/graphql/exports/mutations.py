"""createExportLink and createInvoiceLink: short-lived, single-use download URLs signed
for the caller (a browser cannot add an Authorization header to a plain link).

One mutation per kind of download rather than one that signs any URL: each checks what
its link will open with the rules the download applies (a filter as the connection
checks it, an order the caller may read), so a bad link is refused when it is made, and
each signs for its own purpose, so an export link never opens an invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import quote

import strawberry
from strawberry.scalars import JSON

from app.auth import policy
from app.auth.signed_links import SignedLinks
from app.errors import BadInput
from app.exports import routes as export_routes
from app.exports.arguments import arguments_for
from app.exports.formats import formats_of, writer_for
from app.exports.kinds import KINDS
from app.exports.pdf import routes as invoice_routes
from app.exports.pdf.invoice import NO_SUCH_ORDER
from app.graphql.context import Info
from app.graphql.payloads import InputError
from app.graphql.relay import pk_of, to_global_id

UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"


@strawberry.enum(description="What an export lists: /export/<kind>.<format>.")
class ExportKind(Enum):
    ORDERS = "orders"
    ORDER_LINES = "order-lines"
    USERS = "users"
    PRODUCTS = "products"


@strawberry.enum(description="How an export is written. PDF: a report, for ORDERS only.")
class ExportFormat(Enum):
    CSV = "csv"
    NDJSON = "ndjson"
    JSON = "json"
    PDF = "pdf"


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


@strawberry.input(description="The order whose invoice a link downloads.")
class CreateInvoiceLinkInput:
    order_id: strawberry.ID


@strawberry.type(description="A download link, or what to fix.")
class DownloadLink:
    url: str | None = strawberry.field(
        description="GET it once, before expiresAt, without an Authorization header: it "
        "downloads as you, with your rights as they are then."
    )
    expires_at: datetime | None
    errors: list[InputError]


@strawberry.type(description="A link to an export, or what to fix.")
class CreateExportLinkPayload(DownloadLink):
    pass


@strawberry.type(description="A link to an order's invoice PDF, or what to fix.")
class CreateInvoiceLinkPayload(DownloadLink):
    pass


@strawberry.type
class ExportMutation:
    @strawberry.mutation(description="A single-use, short-lived URL that downloads an export.")
    async def create_export_link(
        self, info: Info, input: CreateExportLinkInput
    ) -> CreateExportLinkPayload:
        kind = KINDS[input.kind.value]
        format = input.format.value
        if writer_for(kind.name, format) is None:
            formats = ", ".join(name.upper() for name in formats_of(kind.name))
            return CreateExportLinkPayload(
                url=None,
                expires_at=None,
                errors=[
                    InputError(
                        field="format",
                        code=UNSUPPORTED_FORMAT,
                        message=f"{input.kind.name} exports as {formats}; "
                        f"{input.format.name} is for ORDERS only.",
                    )
                ],
            )
        try:
            where, _ = arguments_for(info.schema).parse(
                kind, filter=input.filter, order_by=input.order_by
            )
            # As the download will: refused now rather than at the first click.
            kind.listing.conditions(kind.listing.restrict(info.context.viewer, where))
        except BadInput as exc:
            return CreateExportLinkPayload(
                url=None, expires_at=None, errors=[_input_error(exc, "filter")]
            )
        url, expires_at = await _signed_url(
            info,
            purpose=export_routes.PURPOSE,
            params={
                "kind": kind.name,
                "format": format,
                "filter": input.filter,
                "orderBy": input.order_by,
            },
            path=f"/export/{kind.name}.{format}",
        )
        return CreateExportLinkPayload(url=url, expires_at=expires_at, errors=[])

    @strawberry.mutation(
        description="A single-use, short-lived URL that downloads an order's invoice PDF "
        "(yours, or anyone's for admins)."
    )
    async def create_invoice_link(
        self, info: Info, input: CreateInvoiceLinkInput
    ) -> CreateInvoiceLinkPayload:
        viewer = info.context.viewer
        policy.require_user(viewer, to="read invoices")
        try:
            order_id = pk_of(input.order_id, "Order", argument="orderId")
        except BadInput as exc:
            return CreateInvoiceLinkPayload(
                url=None, expires_at=None, errors=[_input_error(exc, "orderId")]
            )
        # The download checks again, with the signer's rights as they are then.
        order = await info.context.loaders.order_by_id.load(order_id)
        if order is None or not policy.can_read_order(viewer, order.user_id):
            error = InputError(field="orderId", code="NOT_FOUND", message=NO_SUCH_ORDER)
            return CreateInvoiceLinkPayload(url=None, expires_at=None, errors=[error])
        url, expires_at = await _signed_url(
            info,
            purpose=invoice_routes.PURPOSE,
            params={"order": order_id.hex},
            path=f"/orders/{to_global_id('Order', order_id)}/invoice.pdf",
        )
        return CreateInvoiceLinkPayload(url=url, expires_at=expires_at, errors=[])


def _input_error(error: BadInput, field: str) -> InputError:
    return InputError(field=error.field or field, code=error.code, message=error.message)


async def _signed_url(
    info: Info, *, purpose: str, params: dict[str, Any], path: str
) -> tuple[str, datetime]:
    """(the URL of `path` with a link for the viewer, when it expires)."""
    context = info.context
    links: SignedLinks = context.request.app.state.links
    expires_at = datetime.now(UTC) + timedelta(seconds=context.settings.export_link_seconds)
    token = await links.sign(
        purpose=purpose, subject=context.viewer, params=params, expires_at=expires_at
    )
    if context.viewer.expires_at is not None:
        expires_at = min(expires_at, context.viewer.expires_at)
    base = str(context.request.base_url).rstrip("/")
    return f"{base}{path}?link={quote(token)}", expires_at
