"""Redis going away loses no committed event: instances read them from PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.events.conftest import Cluster
from tests.events.feeds import PRODUCT_EVENTS, a_product, set_stock
from tests.helpers import gid
from tests.redis_server import PrivateRedis
from tests.wsclient import connect


async def test_events_committed_while_redis_restarts_are_delivered(
    fragile_cluster: Cluster, own_redis: PrivateRedis
) -> None:
    cluster = fragile_cluster
    product_id = await a_product(cluster)
    only_this = {"filter": {"ids": [gid("Product", product_id)]}}
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe(PRODUCT_EVENTS, only_this)
        await asyncio.sleep(0.3)
        await set_stock(cluster, product_id, 41)
        assert (await session.next_data(op))["productEvents"]["node"]["stock"] == 41
        own_redis.stop()
        try:
            await set_stock(cluster, product_id, 42)
            await set_stock(cluster, product_id, 43)
            during = [
                (await session.next_data(op))["productEvents"]["node"]["stock"] for _ in range(2)
            ]
        finally:
            own_redis.start()
        await asyncio.sleep(2)  # the servers resubscribe
        await set_stock(cluster, product_id, 44)
        after = (await session.next_data(op))["productEvents"]["node"]["stock"]
    assert during == [42, 43]
    assert after == 44
