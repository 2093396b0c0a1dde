"""An erased user's live subscriptions end with UNAUTHENTICATED, on the instance that
erased them and on the others, over a real WebSocket between two server processes."""

from __future__ import annotations

import time

from tests.dbtools import fetch_value
from tests.events.conftest import RECHECK_SECONDS, Cluster
from tests.helpers import gid
from tests.wsclient import connect

ERASE_USER = """mutation($input: EraseUserInput!) { eraseUser(input: $input) {
  user { id email } errors { code } } }"""
USER_EVENTS = "subscription($id: ID!) { userEvents(id: $id) { cursor node { id email } } }"
# Within the recheck window plus the other instance's credential cache, with slack.
BOUND_SECONDS = 2 * RECHECK_SECONDS + 4


async def test_an_erased_users_subscriptions_end_unauthenticated(cluster: Cluster) -> None:
    email = "user000000@example.com"
    user_id = await fetch_value(cluster.url, "SELECT id FROM users WHERE email = :e", e=email)
    token = await cluster.token(email)
    async with (
        connect(cluster.b.ws, token=token) as on_b,
        connect(cluster.a.ws, token=token) as on_a,
    ):
        ops = {
            session: await session.subscribe(USER_EVENTS, {"id": gid("User", user_id)})
            for session in (on_a, on_b)
        }
        erased = await cluster.call(
            cluster.a, cluster.admin, ERASE_USER, input={"id": gid("User", user_id)}
        )
        assert erased["eraseUser"]["errors"] == []
        erased_at = time.monotonic()
        for session, op in ops.items():
            while True:
                left = erased_at + BOUND_SECONDS - time.monotonic()
                assert left > 0, f"still subscribed {BOUND_SECONDS} s after the erasure"
                message = await session.receive(wait=left)
                assert message["id"] == op, message
                if message["type"] != "next" or "errors" in message["payload"]:
                    break
                # Only the pseudonym may still go out before the check falls due.
                assert message["payload"]["data"]["userEvents"]["node"]["email"] != email
            assert message["type"] == "next", message
            [error] = message["payload"]["errors"]
            assert error["extensions"]["code"] == "UNAUTHENTICATED", error
            assert (await session.receive())["type"] == "complete"
