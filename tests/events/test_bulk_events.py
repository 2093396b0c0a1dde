"""Bulk writes reach subscribers on another server process: one event per changed row,
in input order, and nothing for the rows a policy rejected."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.dbtools import fetch_all
from tests.events.conftest import Cluster
from tests.events.feeds import PRODUCT_EVENTS
from tests.graphql.mutations import BULK_DELETE_PRODUCTS, BULK_UPDATE_PRODUCTS, CREATE_PRODUCT
from tests.helpers import gid
from tests.wsclient import connect


async def test_a_subscriber_receives_an_event_per_changed_row(cluster: Cluster) -> None:
    rows = await fetch_all(cluster.url, "SELECT id FROM products ORDER BY sku LIMIT 3")
    ids = [gid("Product", row.id) for row in rows]
    made = [
        await cluster.call(
            cluster.a,
            cluster.admin,
            CREATE_PRODUCT,
            input={"sku": f"BULK-EV-{n}", "name": "Bulk", "price": "1", "stock": 1},
        )
        for n in range(2)
    ]
    new = [m["createProduct"]["product"]["id"] for m in made]
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe(PRODUCT_EVENTS, {"filter": {"ids": ids + new}})
        await asyncio.sleep(0.3)
        items = [{"id": ids[2], "stock": 41}, {"id": ids[0], "stock": 42}]
        # The second item is stale: refused, and no event for it.
        items += [{"id": ids[1], "stock": 43, "expectedVersion": 999}]
        updated = await cluster.call(
            cluster.a,
            cluster.admin,
            BULK_UPDATE_PRODUCTS,
            items=items,
            policy="REJECT_FAILED_ROWS",
        )
        assert updated["bulkUpdateProducts"]["count"] == 2
        deleted = await cluster.call(
            cluster.a,
            cluster.admin,
            BULK_DELETE_PRODUCTS,
            ids=new,
            policy="REJECT_EVERYTHING",
        )
        assert deleted["bulkDeleteProducts"]["count"] == 2
        events: list[dict[str, Any]] = []
        while len(events) < 4:
            event = (await session.next_data(op))["productEvents"]
            # B's broker may not have reached the two creates when the subscription
            # joined it; a subscription without `after` starts from where its broker is.
            if event["type"] == "CREATED" and event["node"]["id"] in new:
                continue
            events.append(event)
    assert [(e["type"], e["node"]["id"]) for e in events] == [
        ("UPDATED", ids[2]),
        ("UPDATED", ids[0]),
        ("DELETED", new[0]),
        ("DELETED", new[1]),
    ]
    assert [e["node"]["stock"] for e in events[:2]] == [41, 42]
