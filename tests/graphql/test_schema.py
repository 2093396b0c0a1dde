"""schema.graphql is the reviewed contract: it must be what the code builds."""

from __future__ import annotations

from pathlib import Path

from app.graphql.schema import build_schema, print_schema
from app.settings import Settings

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == print_schema(Settings()), (
        "schema.graphql is out of date: run `make schema` and review the diff"
    )


def test_every_type_explains_itself() -> None:
    """GraphiQL users read these descriptions; a new type without one fails here."""
    schema = build_schema(Settings())._schema
    builtin = {"String", "Int", "Float", "Boolean", "ID"}
    missing = [
        name
        for name, type_ in schema.type_map.items()
        if not name.startswith("__") and name not in builtin and not type_.description
    ]
    assert missing == []
