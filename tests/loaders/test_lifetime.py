"""What an operation read is freed when it ends, not when the cycle collector runs."""

from __future__ import annotations

import gc

from app.loaders.registry import Loader
from tests.conftest import Api

HEAVY_ISH = """{ users(first: 3) { edges { node { email orders(first: 2) { edges { node {
  total items { quantity product { sku } } } } } } } } }"""


def loaders_alive() -> int:
    return sum(isinstance(o, Loader) for o in gc.get_objects())


async def test_a_finished_operation_leaves_no_loaders_for_the_collector(api: Api) -> None:
    await api.data(HEAVY_ISH)  # warm: documents parsed and validated
    gc.collect()
    gc.disable()
    try:
        before = loaders_alive()
        data = await api.data(HEAVY_ISH)
        assert data["users"]["edges"]
        # graphql-core's executor is a reference cycle that holds the context; the
        # loaders (and every record they cached) must not hang off it once it is done.
        assert loaders_alive() == before
    finally:
        gc.enable()
