"""The SSRF guard: every non-public range refused, at registration and on every delivery."""

from __future__ import annotations

import pytest

from app.webhooks import ssrf
from tests.conftest import running_app
from tests.helpers import pk
from tests.webhooks.conftest import (
    CREATE_WEBHOOK,
    FAST,
    bump_stock,
    create_webhook,
    deliveries,
    eventually,
)
from tests.webhooks.receiver import Receiver

REFUSED = [
    ("loopback", "127.0.0.1"),
    ("loopback", "127.8.9.10"),
    ("loopback", "[::1]"),
    ("loopback", "localhost"),
    ("loopback", "2130706433"),  # 127.0.0.1 as one decimal number
    ("private", "10.1.2.3"),
    ("private", "172.16.0.1"),
    ("private", "192.168.1.1"),
    ("private", "[fd00::1]"),
    ("link-local", "169.254.169.254"),  # the cloud metadata service
    ("link-local", "[fe80::1]"),
    ("multicast", "224.0.0.1"),
    ("multicast", "[ff02::1]"),
    ("unspecified", "0.0.0.0"),
    ("unspecified", "[::]"),
    ("reserved", "240.0.0.1"),
    ("reserved", "255.255.255.255"),
    ("not globally routable", "100.64.0.1"),  # carrier-grade NAT
    ("private", "192.0.2.1"),  # documentation
    ("loopback", "[::ffff:127.0.0.1]"),  # IPv4-mapped
    ("link-local", "[::ffff:169.254.169.254]"),
    ("link-local", "[64:ff9b::a9fe:a9fe]"),  # NAT64
    ("loopback", "[2002:7f00:1::]"),  # 6to4
]


@pytest.mark.parametrize(("kind", "host"), REFUSED)
async def test_each_non_public_range_is_refused(kind: str, host: str) -> None:
    target = ssrf.check_url(f"http://{host}:8080/hook", require_https=False)
    with pytest.raises(ssrf.RefusedTarget) as refused:
        await ssrf.resolve(target, allow_private=False)
    assert f"is {kind}" in refused.value.message
    assert refused.value.code == "WEBHOOK_TARGET_REFUSED"


async def test_public_addresses_pass_and_allow_private_opens_the_rest() -> None:
    public = ssrf.check_url("https://93.184.215.14/x?y=1", require_https=True)
    assert await ssrf.resolve(public, allow_private=False) == "93.184.215.14"
    assert public.path == "/x?y=1"
    loopback = ssrf.check_url("http://localhost:9/", require_https=False)
    assert await ssrf.resolve(loopback, allow_private=True) in ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # production wants https
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
        "https:///nohost",
        "not a url",
    ],
)
def test_urls_refused_before_any_lookup(url: str) -> None:
    with pytest.raises(ssrf.RefusedTarget):
        ssrf.check_url(url, require_https=True)


async def test_registration_refuses_every_range(seeded: str) -> None:
    async with running_app(seeded) as api:
        for kind, host in REFUSED:
            data = await api.data(
                CREATE_WEBHOOK, {"url": f"http://{host}/hook", "events": ["USER_UPDATED"]}
            )
            errors = data["createWebhook"]["errors"]
            assert [e["code"] for e in errors] == ["WEBHOOK_TARGET_REFUSED"], (host, errors)
            assert kind in errors[0]["message"]


async def test_each_delivery_checks_the_address_again(seeded: str, receiver: Receiver) -> None:
    """A name registered while it resolved to an allowed address and that resolves to a
    refused one later (DNS rebinding): the delivery is refused, nothing is sent."""
    url = f"http://localhost:{receiver.port}/hook"
    async with running_app(seeded, **FAST) as api:
        webhook_id, _ = await create_webhook(api, url, ["PRODUCT_UPDATED"])
        await bump_stock(api, 1)
        await eventually(lambda: receiver.received, what="the first message")
        assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
    strict = {**FAST, "webhook_allow_private": False}
    async with running_app(seeded, **strict) as api:
        await bump_stock(api, 1)

        async def refused() -> bool:
            rows = await deliveries(api.url, pk(webhook_id))
            return len(rows) == 2 and rows[1].attempts >= 1

        await eventually(refused, what="the refused attempt")
        rows = await deliveries(api.url, pk(webhook_id))
        assert "is loopback" in rows[1].last_error
        assert rows[1].status == "pending"
    assert len(receiver.received) == 1
