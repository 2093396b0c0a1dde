"""Small helpers for tests: decoding IDs and walking connections."""

from __future__ import annotations

import uuid
from typing import Any

from app.graphql.relay import from_global_id, to_global_id


def pk(global_id: str) -> uuid.UUID:
    return from_global_id(global_id)[1]


def gid(type_name: str, value: uuid.UUID) -> str:
    return str(to_global_id(type_name, value))


def node_pks(connection: dict[str, Any]) -> list[uuid.UUID]:
    return [pk(edge["node"]["id"]) for edge in connection["edges"]]


async def walk(
    api: Any,
    document: str,
    variables: dict[str, Any],
    *,
    path: tuple[str, ...],
    size: int,
    backward: bool = False,
) -> list[dict[str, Any]]:
    """Every node of a connection, page by page, in the connection's order.

    Checks pageInfo on every page: it must say whether more pages lie ahead.
    """
    nodes: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page_args = (
            {"last": size, "before": cursor} if backward else {"first": size, "after": cursor}
        )
        data = await api.data(document, {**variables, **page_args})
        connection = data
        for key in path:
            connection = connection[key]
        page = [edge["node"] for edge in connection["edges"]]
        info = connection["pageInfo"]
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        nodes = page + nodes if backward else nodes + page
        assert len(page) <= size
        if not more:
            return nodes
        assert len(page) == size, "a page short of `size` must be the last"
        cursor = info["startCursor"] if backward else info["endCursor"]
