"""An order's invoice: seller and buyer, the lines, the total, status, date and id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.viewer import Viewer
from app.errors import NotFound
from app.exports.pdf.layout import FONT, MONO, Column, Document, money, when
from app.graphql.relay import to_global_id
from app.queries.order_reports import InvoiceLine, invoice_lines
from app.queries.orders import OrderRecord, orders_by_id
from app.queries.users import UserRecord, users_by_id
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class Seller:
    name: str
    address: tuple[str, ...]
    tax_id: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Seller:
        lines = settings.seller_address.replace(";", "\n").splitlines()
        return cls(
            name=settings.seller_name,
            address=tuple(line.strip() for line in lines if line.strip()),
            tax_id=settings.seller_tax_id,
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    order: OrderRecord
    buyer: UserRecord
    lines: list[InvoiceLine]

    @property
    def order_id(self) -> str:
        """The order's ID as the API shows it."""
        return str(to_global_id("Order", self.order.id))


NO_SUCH_ORDER = "No order with this ID, or not one you may see."


async def load_invoice(conn: AsyncConnection, *, viewer: Viewer, order_id: uuid.UUID) -> Invoice:
    """The invoice of an order the viewer may read. Someone else's order is NotFound,
    exactly like one that does not exist: an invoice never tells that an order exists."""
    policy.require_user(viewer, to="read invoices")
    [order] = await orders_by_id(conn, [order_id])
    if order is None or not policy.can_read_order(viewer, order.user_id):
        raise NotFound(NO_SUCH_ORDER)
    [buyer] = await users_by_id(conn, [order.user_id])
    assert buyer is not None  # orders.user_id is a foreign key
    return Invoice(order=order, buyer=buyer, lines=await invoice_lines(conn, order.id))


LINE_COLUMNS = (
    Column("SKU", 32),
    Column("Product", 76),
    Column("Qty", 14, "RIGHT"),
    Column("Unit price", 29, "RIGHT"),
    Column("Line total", 29, "RIGHT"),
)


def render_invoice(invoice: Invoice, *, seller: Seller) -> bytes:
    order, buyer = invoice.order, invoice.buyer
    texts = [seller.name, *seller.address, buyer.name, buyer.email]
    texts += [line.name for line in invoice.lines]
    pdf = Document(
        title=f"Invoice for order {invoice.order_id}",
        footer=f"{seller.name} · Invoice {invoice.order_id}",
        texts=texts,
    )
    pdf.add_page()
    half = pdf.epw / 2
    top = pdf.get_y()
    pdf.heading("Invoice")
    below_heading = pdf.get_y()
    pdf.set_xy(pdf.l_margin + half, top)
    seller_lines = [seller.name, *seller.address]
    if seller.tax_id:
        seller_lines.append(f"Tax ID: {seller.tax_id}")
    pdf.lines(seller_lines, width=half, bold_first=True)
    # The details get the full width: an order's ID is 56 characters long.
    pdf.set_y(max(below_heading + 4, pdf.get_y() + 6))
    details = (
        ("Order ID", invoice.order_id),
        ("Date", when(order.created_at)),
        ("Status", order.status.upper()),
    )
    for name, value in details:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(22, 5, name)
        pdf.set_font(MONO if name == "Order ID" else FONT, "", 9)
        pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.label("Bill to")
    pdf.lines([buyer.name, buyer.email], width=half, bold_first=True)
    pdf.ln(8)

    rows = [
        (line.sku, line.name, str(line.quantity), money(line.unit_price), money(line.total))
        for line in invoice.lines
    ]
    units = sum(line.quantity for line in invoice.lines)
    pdf.table_of(
        LINE_COLUMNS, rows, footer_rows=[("", "Total", str(units), "", money(order.total))]
    )
    return bytes(pdf.output())
