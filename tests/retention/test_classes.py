"""Each class deletes only what is past its age and no longer needed."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from app.retention.classes import CLASSES
from app.settings import Settings
from tests.conftest import running_app
from tests.dbtools import fetch_all, fetch_value
from tests.graphql.mutations import CREATE_PRODUCT
from tests.retention.conftest import OLD_AUDIT, execute, execute_url, rows, run

# Tables a class is declared for before the issue that creates them has landed.
PENDING_TABLES: set[str] = set()


def test_every_class_reads_a_setting_in_days() -> None:
    for cls in CLASSES:
        assert cls.setting in Settings.model_fields, cls.name
        assert cls.setting.endswith("_retention_days"), cls.name


async def test_every_class_has_its_table_or_is_pending(small_url: str) -> None:
    tables = {cls.table for cls in CLASSES}
    present = {
        row[0]
        for row in await fetch_all(
            small_url, "SELECT tablename FROM pg_tables WHERE tablename = ANY(:t)", t=list(tables)
        )
    }
    # A pending table that now exists: check the class's columns, then drop it from the set.
    assert present == tables - PENDING_TABLES


async def test_audit_events_past_their_age_go_and_younger_ones_stay(
    db: AsyncEngine, small_url: str
) -> None:
    await execute(db, OLD_AUDIT, days=40, n=7)
    await execute(db, OLD_AUDIT, days=20, n=3)
    before = await fetch_value(small_url, "SELECT count(*) FROM audit_events")

    result = await run(db, small_url, audit_retention_days=30, retention_batch_size=3)

    assert rows(result)["audit_events"] == 7
    old = "SELECT count(*) FROM audit_events WHERE occurred_at < now() - interval '30 days'"
    assert await fetch_value(small_url, old) == 0
    kept = "SELECT count(*) FROM audit_events WHERE action <> 'audit.purged'"
    assert await fetch_value(small_url, kept) == before - 7


async def test_events_go_by_position_up_to_the_first_one_within_retention(
    db: AsyncEngine, small_url: str
) -> None:
    # 4 is old but numbered after 3 (a long transaction): a replay must never meet a
    # hole, so it stays with everything from 3 on.
    ages = {1: 30, 2: 20, 3: 1, 4: 15, 5: 0}
    for position, days in ages.items():
        await execute(
            db,
            "INSERT INTO events (position, topic, type, entity_id, data, occurred_at) "
            "VALUES (:p, 'product', 'updated', gen_random_uuid(), '{}', "
            "now() - make_interval(days => :d))",
            p=position,
            d=days,
        )

    result = await run(db, small_url, events_retention_days=7)

    assert rows(result)["events"] == 2
    kept = await fetch_all(small_url, "SELECT position FROM events ORDER BY position")
    assert [row[0] for row in kept] == [3, 4, 5]


async def test_the_newest_event_stays_even_when_every_event_is_old(
    db: AsyncEngine, small_url: str
) -> None:
    for position in (1, 2, 3):
        await execute(
            db,
            "INSERT INTO events (position, topic, type, entity_id, data, occurred_at) "
            "VALUES (:p, 'product', 'updated', gen_random_uuid(), '{}', now() - interval "
            "'30 days')",
            p=position,
        )

    await run(db, small_url, events_retention_days=7)

    assert await fetch_value(small_url, "SELECT array_agg(position) FROM events") == [3]


async def test_outbox_rows_not_yet_relayed_are_never_deleted(
    db: AsyncEngine, small_url: str
) -> None:
    await execute(
        db,
        "INSERT INTO outbox (topic, type, entity_id, data, occurred_at) "
        "VALUES ('product', 'updated', gen_random_uuid(), '{}', now() - interval '400 days')",
    )

    await run(db, small_url, events_retention_days=0.001, audit_retention_days=0.001)

    assert await fetch_value(small_url, "SELECT count(*) FROM outbox") == 1


async def test_idempotency_records_past_their_age_go_and_their_orders_stay(
    db: AsyncEngine, small_url: str
) -> None:
    orders = await fetch_all(small_url, "SELECT id, user_id FROM orders ORDER BY id LIMIT 2")
    for (order_id, user_id), days in zip(orders, (40, 2), strict=True):
        await execute(
            db,
            "INSERT INTO order_requests (user_id, idempotency_key, request_hash, order_id, "
            "created_at) VALUES (:u, :k, '\\x00', :o, now() - make_interval(days => :d))",
            u=user_id,
            k=f"key-{days}",
            o=order_id,
            d=days,
        )
    order_count = await fetch_value(small_url, "SELECT count(*) FROM orders")

    result = await run(db, small_url, idempotency_retention_days=30)

    assert rows(result)["order_requests"] == 1
    keys = await fetch_all(small_url, "SELECT idempotency_key FROM order_requests")
    assert [row[0] for row in keys] == ["key-2"]
    assert await fetch_value(small_url, "SELECT count(*) FROM orders") == order_count


async def test_usable_tokens_stay_and_long_expired_or_revoked_ones_go(
    db: AsyncEngine, small_url: str
) -> None:
    user_id = await fetch_value(small_url, "SELECT id FROM users ORDER BY id LIMIT 1")
    tokens = {
        "never expires": ("NULL", "NULL"),
        "expires later": ("now() + interval '1 day'", "NULL"),
        "old, still good": ("now() + interval '1 day'", "NULL"),
        "expired lately": ("now() - interval '2 days'", "NULL"),
        "expired long ago": ("now() - interval '40 days'", "NULL"),
        "revoked lately": ("NULL", "now() - interval '2 days'"),
        "revoked long ago": ("now() + interval '100 days'", "now() - interval '40 days'"),
    }
    for name, (expires_at, revoked_at) in tokens.items():
        await execute(
            db,
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at, "
            f"revoked_at) VALUES (:u, :n, :h, now() - interval '400 days', {expires_at}, "
            f"{revoked_at})",
            u=user_id,
            n=name,
            h=uuid.uuid4().bytes,
        )

    result = await run(db, small_url, tokens_retention_days=30)

    assert rows(result)["api_tokens"] == 2
    kept = await fetch_all(small_url, "SELECT name FROM api_tokens ORDER BY name")
    assert {row[0] for row in kept} == set(tokens) - {"expired long ago", "revoked long ago"}


async def test_used_link_records_go_once_their_link_has_long_expired(
    db: AsyncEngine, small_url: str
) -> None:
    # A used link's nonce must stay while the link could still be presented (or it could
    # be used again); once it has expired the signature check refuses it anyway.
    await execute(
        db,
        "INSERT INTO signed_link_uses (nonce, purpose, expires_at) VALUES "
        "('\\x01', 'export', now() - interval '3 days'), "
        "('\\x02', 'export', now() - interval '1 hour'), "
        "('\\x03', 'export', now() + interval '1 hour')",
    )

    result = await run(db, small_url, signed_links_retention_days=1)

    assert rows(result)["signed_link_uses"] == 1
    kept = await fetch_all(small_url, "SELECT nonce FROM signed_link_uses ORDER BY nonce")
    assert [bytes(row[0]) for row in kept] == [b"\x02", b"\x03"]


async def test_a_credential_whose_token_row_is_gone_is_refused_at_once(small_url: str) -> None:
    """A checked token is trusted for AUTH_CACHE_SECONDS; a write still looks its row up,
    and a row retention deleted counts as revoked, not as fine."""
    async with running_app(small_url, auth_cache_seconds=300) as api:
        assert "errors" not in await api.query("{ viewer { id } }")  # checked and cached
        await execute_url(small_url, "DELETE FROM api_tokens")

        error = await api.error(
            CREATE_PRODUCT, {"input": {"sku": "GONE-1", "name": "Gone", "price": "1"}}
        )

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert await fetch_value(small_url, "SELECT count(*) FROM products WHERE sku = 'GONE-1'") == 0


async def _webhook(db: AsyncEngine, small_url: str, *, cursor: int, state: str) -> str:
    owner = await fetch_value(small_url, "SELECT id FROM users ORDER BY id LIMIT 1")
    webhook_id = str(uuid.uuid4())
    await execute(
        db,
        "INSERT INTO webhooks (id, owner_id, url, events, secret, cursor, state) "
        "VALUES (:i, :o, 'https://example.com/hook', ARRAY['PRODUCT_UPDATED'], 'whsec_x', "
        ":c, :s)",
        i=webhook_id,
        o=owner,
        c=cursor,
        s=state,
    )
    return webhook_id


async def _delivery(
    db: AsyncEngine, webhook_id: str, *, position: int, status: str, days: int
) -> None:
    await execute(
        db,
        "INSERT INTO webhook_deliveries (webhook_id, message_id, event_position, event_type, "
        "status, created_at, last_attempt_at, delivered_at) VALUES (:w, :m, :p, "
        "'PRODUCT_UPDATED', :s, now() - make_interval(days => :d), "
        "now() - make_interval(days => :d), "
        "CASE WHEN :s = 'delivered' THEN now() - make_interval(days => :d) END)",
        w=webhook_id,
        m=f"msg_{uuid.uuid4().hex}",
        p=position,
        s=status,
        d=days,
    )


async def test_finished_webhook_deliveries_go_and_waiting_ones_stay(
    db: AsyncEngine, small_url: str
) -> None:
    webhook_id = await _webhook(db, small_url, cursor=0, state="active")
    await _delivery(db, webhook_id, position=1, status="delivered", days=40)
    await _delivery(db, webhook_id, position=2, status="failed", days=40)
    await _delivery(db, webhook_id, position=3, status="pending", days=40)
    await _delivery(db, webhook_id, position=4, status="delivered", days=1)

    result = await run(db, small_url, webhook_deliveries_retention_days=30)

    assert rows(result)["webhook_deliveries"] == 2
    kept = await fetch_all(
        small_url, "SELECT event_position FROM webhook_deliveries ORDER BY event_position"
    )
    assert [row[0] for row in kept] == [3, 4]


async def test_events_a_webhook_has_not_sent_yet_stay_past_their_age(
    db: AsyncEngine, small_url: str
) -> None:
    for position in range(1, 7):
        await execute(
            db,
            "INSERT INTO events (position, topic, type, entity_id, data, occurred_at) "
            "VALUES (:p, 'product', 'updated', gen_random_uuid(), '{}', now() - interval "
            "'30 days')",
            p=position,
        )
    # One endpoint has queued up to 4 and still has to send 3; another has queued up to
    # 5; a disabled one, stuck at 1, holds nothing back.
    first = await _webhook(db, small_url, cursor=4, state="active")
    await _delivery(db, first, position=2, status="delivered", days=0)
    await _delivery(db, first, position=3, status="pending", days=0)
    await _webhook(db, small_url, cursor=5, state="active")
    await _webhook(db, small_url, cursor=1, state="disabled")

    await run(db, small_url, events_retention_days=7)

    kept = await fetch_all(small_url, "SELECT position FROM events ORDER BY position")
    assert [row[0] for row in kept] == [3, 4, 5, 6]
