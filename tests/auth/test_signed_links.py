"""The signed-link module on its own: purposes, instances sharing the database's key,
and a configured secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.signed_links import SignedLinks
from app.auth.viewer import ANONYMOUS
from app.errors import LinkInvalid, LinkUsed


@pytest.fixture
async def engine(empty_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(empty_url)
    yield engine
    await engine.dispose()


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


async def test_instances_without_a_secret_verify_each_others_links_once(
    engine: AsyncEngine,
) -> None:
    one, other = SignedLinks(engine, secret=None), SignedLinks(engine, secret=None)
    token = await one.sign(purpose="invoice", subject=ANONYMOUS, params={"n": 1}, expires_at=soon())
    grant = await other.redeem(token, purpose="invoice")
    assert grant.params == {"n": 1}
    assert grant.viewer == ANONYMOUS
    with pytest.raises(LinkUsed):
        await one.redeem(token, purpose="invoice")


async def test_a_link_for_one_purpose_is_refused_for_another(engine: AsyncEngine) -> None:
    links = SignedLinks(engine, secret=None)
    token = await links.sign(purpose="invoice", subject=ANONYMOUS, params={}, expires_at=soon())
    with pytest.raises(LinkInvalid):
        await links.redeem(token, purpose="export")
    assert (await links.redeem(token, purpose="invoice")).params == {}


async def test_a_check_that_refuses_leaves_the_link_unused(engine: AsyncEngine) -> None:
    links = SignedLinks(engine, secret=None)
    token = await links.sign(purpose="export", subject=ANONYMOUS, params={}, expires_at=soon())

    def refuse(params: dict[str, object]) -> None:
        raise LinkInvalid("not this one")

    with pytest.raises(LinkInvalid):
        await links.redeem(token, purpose="export", check=refuse)
    await links.redeem(token, purpose="export")


async def test_links_of_another_secret_are_refused(engine: AsyncEngine) -> None:
    ours = SignedLinks(engine, secret=SecretStr("one secret"))
    theirs = SignedLinks(engine, secret=SecretStr("another secret"))
    token = await theirs.sign(purpose="export", subject=ANONYMOUS, params={}, expires_at=soon())
    with pytest.raises(LinkInvalid):
        await ours.redeem(token, purpose="export")
