"""Exports: /export/<kind>.<format> (routes), what each kind reads (kinds), its filter and
orderBy (arguments), how each format is written and the (kind, format) registry
(formats), and the PDFs: the orders report (a format) and invoices (pdf.routes)."""

from app.exports.routes import export_routes

__all__ = ["export_routes"]
