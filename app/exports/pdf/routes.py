"""GET /orders/{id}/invoice.pdf: an order's invoice, for its owner or an admin.

Who asks: the Authorization header, as for /graphql, or `?link=` from createInvoiceLink
(signed for this order; its signer's rights as they are now), as app.web.requests reads
them. Errors are app.web.errors' one body. The report of orders, /export/orders.pdf, is a
format of the export routes (app.exports.formats).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth import policy
from app.db.engine import connect
from app.errors import LinkInvalid
from app.exports.pdf.invoice import Seller, load_invoice, render_invoice
from app.exports.routes import download_headers
from app.graphql.relay import pk_of
from app.web.errors import answering
from app.web.requests import LINK, caller_of, refuse_unknown_parameters

PURPOSE = "invoice"
TAKES = "an invoice takes only a signed `link` from createInvoiceLink."


def invoice_routes() -> list[Route]:
    """GET /orders/{id}/invoice.pdf, for create_app."""
    return [Route("/orders/{id}/invoice.pdf", answering(invoice), methods=["GET"])]


async def invoice(request: Request) -> Response:
    refuse_unknown_parameters(request, known=(LINK,), takes=TAKES)
    path_id = request.path_params["id"]

    def same_order(params: dict[str, Any]) -> None:
        if params.get("order") != order_pk(path_id).hex:
            raise LinkInvalid("This link is for another order's invoice, not this one's.")

    caller = await caller_of(request, purpose=PURPOSE, check=same_order)
    # Before the id is even read: an anonymous caller learns nothing about it.
    policy.require_user(caller.viewer, to="read invoices")
    state = request.app.state
    async with connect(state.reader) as conn:
        invoice = await load_invoice(conn, viewer=caller.viewer, order_id=order_pk(path_id))
    seller = Seller.from_settings(state.settings)
    body = await asyncio.to_thread(render_invoice, invoice, seller=seller)
    # inline: an invoice is opened to be read and printed in the browser's viewer; the
    # filename still names it when saved.
    headers = download_headers(f"invoice-{invoice.order.id}.pdf", disposition="inline")
    return Response(body, media_type="application/pdf", headers=headers)


def order_pk(value: str) -> uuid.UUID:
    """An order's global ID as the API shows it, or its raw UUID."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return pk_of(value, "Order", argument="id")
