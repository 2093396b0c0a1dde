"""Engines, the embedded server and table definitions (SQLAlchemy Core)."""
