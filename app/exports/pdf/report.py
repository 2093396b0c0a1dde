"""A printable report of orders: the filter it was made with, totals by status, then
the rows, up to PDF_MAX_ROWS of them (more is TOO_MANY_ROWS, pointing to the CSV export).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.viewer import Viewer
from app.db.orders import ORDER_STATUSES
from app.errors import TooManyRows
from app.exports.pdf.layout import Column, Document, money, when
from app.graphql.relay import to_global_id
from app.queries.keyset import Ordering
from app.queries.order_reports import ReportRow, StatusTotal, report_rows, totals_by_status
from app.queries.orders import OrderWhere
from app.queries.users import users_by_id

CSV_EXPORT = "/export/orders.csv"


@dataclass(frozen=True, slots=True)
class Report:
    scope: str  # whose orders: "All users" or the user's name and email
    criteria: list[str]  # the filter and the ordering, one line each
    totals: list[StatusTotal]
    rows: list[ReportRow]
    made_at: datetime


async def render_orders_report(
    conn: AsyncConnection,
    *,
    viewer: Viewer,
    where: OrderWhere | None,
    ordering: Ordering,
    max_rows: int,
) -> bytes:
    """The report of the orders the viewer may see that match `where`, as a PDF.

    `where` and `ordering` mean what they mean for the `orders` connection. Run it in a
    transaction with a snapshot (REPEATABLE READ) so the totals add up to the rows.
    Anonymous callers are Unauthenticated; more than `max_rows` orders is TooManyRows,
    checked before any row is read. (A caller that can give the connection back before
    the drawing, as the route does, calls load_orders_report and draw_report itself.)"""
    report = await load_orders_report(
        conn, viewer=viewer, where=where, ordering=ordering, max_rows=max_rows
    )
    # Laying out thousands of rows takes a while: not on the event loop.
    return await asyncio.to_thread(draw_report, report)


async def load_orders_report(
    conn: AsyncConnection,
    *,
    viewer: Viewer,
    where: OrderWhere | None,
    ordering: Ordering,
    max_rows: int,
) -> Report:
    """What render_orders_report prints, read on `conn`."""
    scope = policy.owner_scope(viewer, to="report on orders")
    visible = dataclasses.replace(where or OrderWhere(), visible_to=scope)
    totals = await totals_by_status(conn, where=visible)
    count = sum(total.orders for total in totals)
    if count > max_rows:
        raise TooManyRows(
            f"This report would list {count:,} orders; a PDF report lists at most "
            f"{max_rows:,} (PDF_MAX_ROWS). Narrow the filter, or export them all as CSV: "
            f"GET {CSV_EXPORT} with the same filter and orderBy."
        )
    rows = await report_rows(conn, where=visible, ordering=ordering, limit=max_rows)
    if scope is None:
        owner = "All users (admin)"
    else:
        [user] = await users_by_id(conn, [scope])
        owner = f"{user.name} <{user.email}>" if user is not None else "You"
    return Report(
        scope=owner,
        criteria=describe(where, ordering),
        totals=_in_lifecycle_order(totals, where),
        rows=rows,
        made_at=datetime.now(UTC),
    )


def describe(where: OrderWhere | None, ordering: Ordering) -> list[str]:
    """The filter and ordering in words, with the API's names and values."""
    lines = []
    if where is not None and where.statuses is not None:
        lines.append("status: " + (", ".join(s.upper() for s in where.statuses) or "(none)"))
    if where is not None and where.user_id is not None:
        lines.append(f"userId: {to_global_id('User', where.user_id)}")
    if where is not None and where.created_at is not None:
        start, end = where.created_at.start, where.created_at.end
        lines.append(
            "createdAt: "
            + " ".join(
                part
                for part in (
                    f"from {when(start)}" if start else "",
                    f"to {when(end)} (exclusive)" if end else "",
                )
                if part
            )
        )
    if where is not None and where.total is not None:
        low, high = where.total.min, where.total.max
        bounds = [f"min {money(low)}" if low is not None else ""]
        bounds.append(f"max {money(high)}" if high is not None else "")
        lines.append("total: " + " ".join(bound for bound in bounds if bound))
    if not lines:
        lines.append("none: every order")
    direction = "DESC" if ordering.descending else "ASC"
    lines.append(f"orderBy: {ordering.key.name} {direction}")
    return lines


def _in_lifecycle_order(
    totals: Sequence[StatusTotal], where: OrderWhere | None
) -> list[StatusTotal]:
    """Every status the filter allows, in lifecycle order, with zeros where none."""
    found = {total.status: total for total in totals}
    allowed = where.statuses if where is not None and where.statuses is not None else ORDER_STATUSES
    return [
        found.get(status, StatusTotal(status, 0, Decimal(0)))
        for status in ORDER_STATUSES
        if status in allowed
    ]


TOTAL_COLUMNS = (Column("Status", 40), Column("Orders", 25, "RIGHT"), Column("Amount", 35, "RIGHT"))
ROW_COLUMNS = (
    # At 8 pt a time and an order's ID (56 characters, monospaced) each fit on one
    # line; buyers' names wrap.
    Column("Created", 36),
    Column("Order ID", 99, mono=True),
    Column("Buyer", 70),
    Column("Status", 22),
    Column("Units", 14, "RIGHT"),
    Column("Total", 26, "RIGHT"),
)


def draw_report(report: Report) -> bytes:
    texts = [report.scope, *report.criteria]
    texts += [text for row in report.rows for text in (row.buyer_name, row.buyer_email)]
    pdf = Document(
        title="Orders report",
        footer=f"Orders report · {when(report.made_at)}",
        texts=texts,
        orientation="landscape",
    )
    pdf.add_page()
    pdf.heading("Orders report")
    pdf.ln(2)
    pdf.lines([f"Orders of: {report.scope}", f"Made: {when(report.made_at)}"])
    pdf.ln(3)
    pdf.label("Filter")
    pdf.lines(report.criteria)
    pdf.ln(3)

    pdf.label("Totals by status")
    count = sum(total.orders for total in report.totals)
    amount = sum((total.amount for total in report.totals), Decimal(0))
    pdf.table_of(
        TOTAL_COLUMNS,
        [(t.status.upper(), f"{t.orders:,}", money(t.amount)) for t in report.totals],
        footer_rows=[("All", f"{count:,}", money(amount))],
    )
    pdf.ln(6)

    pdf.label(f"Orders ({len(report.rows):,})")
    if not report.rows:
        pdf.lines(["No orders match this filter."])
    else:
        pdf.table_of(
            ROW_COLUMNS,
            (
                (
                    when(row.created_at),
                    str(to_global_id("Order", row.id)),
                    f"{row.buyer_name}\n{row.buyer_email}",
                    row.status.upper(),
                    f"{row.units:,}",
                    money(row.total),
                )
                for row in report.rows
            ),
            size=8,
        )
    return bytes(pdf.output())
