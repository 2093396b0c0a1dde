"""Which cache tags a committed change touches, read off the events it emitted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def tags_of(events: Iterable[Mapping[str, Any]]) -> set[str]:
    tags: set[str] = set()
    for event in events:
        entity = event["entity_id"]
        if event["topic"] == "order":
            tags |= {f"user:{event['owner_id']}:orders", "sales"}
        elif event["topic"] == "product":
            tags |= {f"product:{entity}", "products"}
            if "stock" in event["changed_fields"] or event["type"] != "UPDATED":
                tags |= {f"product:{entity}:sales", "sales"}
        elif event["topic"] == "user":
            tags.add(f"user:{entity}")
    return tags
