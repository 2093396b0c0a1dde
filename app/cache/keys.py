"""Cache keys: a field, its parent, its arguments in canonical form, and tag versions.

Two requests that differ only in argument order or in omitted defaults share a key:
the resolver sees every argument with its default applied, and the form is canonical.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson


def canonical(value: Any) -> Any:
    if isinstance(value, type):
        return value.__name__
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if hasattr(value, "__dict__"):  # Strawberry inputs
        return canonical(vars(value))
    return value


def field_key(
    *,
    namespace: str,
    schema_version: str,
    type_name: str,
    field_name: str,
    parent_id: str | None,
    arguments: Mapping[str, Any],
    viewer: uuid.UUID | None,
    tag_versions: Sequence[int],
) -> str:
    payload = orjson.dumps(
        [
            schema_version,
            type_name,
            field_name,
            parent_id,
            canonical(arguments),
            str(viewer) if viewer else None,
            list(tag_versions),
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return f"{namespace}:field:" + hashlib.sha256(payload).hexdigest()


def tag_key(namespace: str, tag: str) -> str:
    return f"{namespace}:tag:{tag}"
