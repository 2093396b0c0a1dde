"""The planned read path answers a corpus of edge cases exactly as the executor does:
the same data, errors (and their order and paths) and statements, for every viewer."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.plan.differential import OTHER_EMAIL, USER_EMAIL, VIEWERS, Pair, pair

HEAVY = """query Heavy($first: Int!, $orders: Int!) {
  users(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id email name
      orders(first: $orders) {
        edges { node {
          id status total createdAt
          items { quantity unitPrice product { id sku name price } }
        } }
      }
    } }
  }
}"""

FRAGMENTS = """
query Frags($withItems: Boolean!, $skipEmail: Boolean = false) {
  a: users(first: 2) { ...Page }
  b: users(first: 1) { edges { node { ... on User { name id } ...Who } } }
}
fragment Page on UserConnection {
  __typename totalCount
  edges { __typename node { __typename ...Who email @skip(if: $skipEmail)
    orders(first: 2) { edges { node { ...Lines @include(if: $withItems) status } } } } }
}
fragment Who on User { id name ... on Node { id } }
fragment Lines on Order { itemCount items { __typename product { ... on Product { sku } } } }
"""


async def _ids(pair_: Pair) -> dict[str, Any]:
    outcome = await pair_.send(
        pair_.executor,
        "admin",
        """{ users(first: 30) { edges { node { id email
             orders(first: 2) { edges { cursor node { id } } } } } }
           products(first: 3) { edges { cursor node { id } } } }""",
        None,
    )
    users = [edge["node"] for edge in outcome.body[1]["data"]["users"]["edges"]]
    by_email = {user["email"]: user for user in users}
    products = outcome.body[1]["data"]["products"]["edges"]
    return {
        "user": by_email[USER_EMAIL]["id"],
        "other": by_email[OTHER_EMAIL]["id"],
        "user_order": by_email[USER_EMAIL]["orders"]["edges"][0]["node"]["id"],
        "other_order": by_email[OTHER_EMAIL]["orders"]["edges"][0]["node"]["id"],
        "order_cursor": by_email[USER_EMAIL]["orders"]["edges"][0]["cursor"],
        "product": products[0]["node"]["id"],
        "product_cursor": products[1]["cursor"],
        "user_cursor": users[3]["id"],
    }


def corpus(ids: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, bool]]:
    """(document, variables, whether an admin's request for it must be planned)."""
    cases: list[tuple[str, dict[str, Any] | None, bool]] = [
        (HEAVY, {"first": 4, "orders": 3}, True),
        (
            "{ __typename viewer { __typename id email role version createdAt updatedAt } }",
            None,
            True,
        ),
        ("query($id: ID!) { user(id: $id) { email name } }", {"id": ids["user"]}, True),
        ("query($id: ID!) { user(id: $id) { email name } }", {"id": ids["other"]}, True),
        ("query($id: ID!) { user(id: $id) { email } }", {"id": ids["product"]}, False),
        ("query($id: ID!) { user(id: $id) { email } }", {"id": "not-an-id"}, False),
        (
            "query($a: ID!, $b: ID!) { b: user(id: $b) { name } a: user(id: $a) { name email } }",
            {"a": ids["user"], "b": ids["other"]},
            True,
        ),
        (
            "query($o: ID!, $p: ID!) { order(id: $o) { id status total itemCount "
            "items { id quantity unitPrice product { id sku price stock } } } "
            "product(id: $p) { id name description createdAt } }",
            {"o": ids["user_order"], "p": ids["product"]},
            True,
        ),
        ("query($o: ID!) { order(id: $o) { id status } }", {"o": ids["other_order"]}, True),
        ("{ products(first: 5) { edges { node { id sku name price stock } } } }", None, True),
        (
            "{ orders(first: 3) { totalCount pageInfo { startCursor endCursor hasNextPage "
            "hasPreviousPage } edges { cursor node { id itemCount "
            "items { product { sku } } } } } }",
            None,
            True,
        ),
        (FRAGMENTS, {"withItems": True}, True),
        (FRAGMENTS, {"withItems": False, "skipEmail": True}, True),
        ("query($n: Int = 2) { users(first: $n) { edges { node { name } } } }", None, True),
        ("query($n: Int = 2) { users(first: $n) { edges { node { name } } } }", {"n": 1}, True),
        # Errors: out of range, both first and last, a foreign cursor; the null of a
        # failed non-null connection inside the list of users propagates up to `users`.
        ("{ users(first: 1000) { totalCount } }", None, False),
        ("{ users(first: 1, last: 1) { totalCount } }", None, False),
        (
            "{ users(first: 2) { edges { node { name orders(first: 500) { totalCount } } } } }",
            None,
            False,
        ),
        (
            "{ ok: products(first: 1) { totalCount } users(first: 2) { edges { node { "
            "orders(last: -1) { edges { node { id } } } } } } }",
            None,
            False,
        ),
        (
            "query($c: String!) { users(first: 2, after: $c) { edges { node { id } } } }",
            {"c": ids["product_cursor"]},
            False,
        ),
        ("{ users(filter: {role: ADMIN}) { edges { node { email } } } }", None, False),
        (
            "query($id: ID!) { node(id: $id) { id ... on Order { status } } }",
            {"id": ids["user_order"]},
            False,
        ),
        ("{ users(first: 2) { edges { node { orderStats { orderCount } } } } }", None, False),
    ]
    # Every combination of the connection arguments, at the root and nested.
    arguments = {
        "first": "first: 2",
        "last": "last: 2",
        "after": f'after: "{ids["product_cursor"]}"',
        "before": f'before: "{ids["product_cursor"]}"',
    }
    for size in range(len(arguments) + 1):
        for names in itertools.combinations(arguments, size):
            given = ", ".join(arguments[name] for name in names)
            given = f"({given})" if given else ""
            cases.append(
                (
                    f"{{ products{given} {{ totalCount edges {{ cursor node {{ sku }} }} "
                    f"pageInfo {{ hasNextPage hasPreviousPage }} }} }}",
                    None,
                    False,
                )
            )
            nested = given.replace(ids["product_cursor"], ids["order_cursor"])
            cases.append(
                (
                    f"{{ users(first: 3) {{ edges {{ node {{ orders{nested} {{ totalCount "
                    f"edges {{ node {{ total }} }} pageInfo {{ endCursor }} }} }} }} }} }}",
                    None,
                    False,
                )
            )
    return cases


@pytest.fixture
async def compared(seeded_url: str) -> AsyncIterator[Pair]:
    async with pair(seeded_url) as found:
        yield found


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_corpus_answers_as_the_executor_does(compared: Pair, viewer: str) -> None:
    ids = await _ids(compared)
    served = []
    for document, variables, must_plan in corpus(ids):
        path = await compared.compare(viewer, document, variables)
        served.append(path)
        if viewer == "admin" and must_plan:
            assert path == "plan", document
    # The fast path really is what was compared, not the executor twice.
    assert served.count("plan") >= 10
