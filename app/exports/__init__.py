"""Streamed exports: /export/<kind>.<format> (routes), what each kind reads (kinds), how
each format is written and the (kind, format) registry (formats)."""

from app.exports.routes import export_routes

__all__ = ["export_routes"]
