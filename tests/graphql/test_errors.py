"""Bad input: a coded error that says what to fix, never a stack trace or a 500."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tests.conftest import Api
from tests.graphql.operations import ORDERS, PRODUCTS, USERS
from tests.helpers import gid


def assert_clean(error: dict[str, Any]) -> None:
    text = str(error)
    assert "Traceback" not in text
    assert 'File "' not in text
    assert "sqlalchemy" not in text.lower()


async def first_cursor(api: Api, document: str, root: str, **variables: Any) -> str:
    data = await api.data(document, {"first": 1, **variables})
    cursor: str = data[root]["edges"][0]["cursor"]
    return cursor


@pytest.mark.parametrize(
    ("variables", "field", "fragment"),
    [
        ({"first": 101}, "first", "between 0 and 100"),
        ({"first": -1}, "first", "between 0 and 100"),
        ({"last": 1000}, "last", "between 0 and 100"),
        ({"first": 2, "last": 2}, "first", "either `first` or `last`"),
        ({"after": "not-a-cursor"}, "after", "not a cursor this API issued"),
        ({"before": "!!!"}, "before", "not a cursor this API issued"),
        ({"after": base64.urlsafe_b64encode(b"[1,2,3]").decode()}, "after", "not a cursor"),
        (
            {
                "filter": {
                    "createdAt": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
                }
            },
            "filter.createdAt",
            "earlier than",
        ),
        (
            {"filter": {"createdAt": {"from": "2026-02-01T00:00:00"}}},
            "filter.createdAt.from",
            "time zone",
        ),
    ],
)
async def test_bad_paging_arguments_are_bad_user_input(
    api: Api, variables: dict[str, Any], field: str, fragment: str
) -> None:
    error = await api.error(USERS, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert fragment in error["message"]
    assert_clean(error)


async def test_cursor_from_another_connection_is_refused(api: Api) -> None:
    cursor = await first_cursor(api, PRODUCTS, "products")
    error = await api.error(USERS, {"after": cursor})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another connection" in error["message"]


async def test_cursor_from_another_ordering_is_refused(api: Api) -> None:
    cursor = await first_cursor(api, USERS, "users", orderBy={"field": "NAME", "direction": "ASC"})
    error = await api.error(USERS, {"after": cursor})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NAME:ASC" in error["message"]
    assert "CREATED_AT:ASC" in error["message"]


async def test_damaged_cursor_value_is_refused(api: Api) -> None:
    forged = base64.urlsafe_b64encode(
        b'[1,"User","CREATED_AT:ASC","yesterday","' + uuid.uuid4().hex.encode() + b'"]'
    ).decode()
    error = await api.error(USERS, {"after": forged})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "damaged" in error["message"]


async def test_global_id_of_the_wrong_type_is_refused(api: Api) -> None:
    error = await api.error(
        "query($id: ID!) { user(id: $id) { id } }", {"id": gid("Product", uuid.uuid4())}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Product" in error["message"]
    assert "expected a User ID" in error["message"]


async def test_malformed_global_id_is_refused(api: Api) -> None:
    error = await api.error('{ node(id: "bm9wZQ") { id } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_user_id_filter_with_wrong_type_names_the_argument(api: Api) -> None:
    error = await api.error(ORDERS, {"filter": {"userId": gid("Order", uuid.uuid4())}})
    assert error["extensions"]["field"] == "filter.userId"


async def test_unknown_order_by_field_is_a_validation_error(api: Api) -> None:
    error = await api.error("{ users(orderBy: {field: AGE}) { totalCount } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "AGE" in error["message"]


async def test_unknown_order_by_field_in_variables_is_bad_user_input(api: Api) -> None:
    error = await api.error(USERS, {"orderBy": {"field": "AGE"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "AGE" in error["message"]


@pytest.mark.parametrize("amount", ["1.234", "abc", "NaN", True])
async def test_bad_money_is_bad_user_input(api: Api, amount: Any) -> None:
    error = await api.error(PRODUCTS, {"filter": {"price": {"min": amount}}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Money" in error["message"] or "money" in error["message"]


async def test_inverted_money_range_is_refused(api: Api) -> None:
    error = await api.error(PRODUCTS, {"filter": {"price": {"min": "10", "max": "5"}}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.price"}


async def test_syntax_error_is_parse_failed(api: Api) -> None:
    error = await api.error("{ users(first: ) }")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_too_deep_query_is_refused(api: Api) -> None:
    level = "orders { edges { node { user { %s } } } }"
    deep = "{ " + (level % (level % (level % (level % "id")))) + " }"  # 17 deep
    error = await api.error(deep)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "depth" in error["message"]


async def test_too_many_ids_for_nodes(api: Api) -> None:
    ids = [gid("User", uuid.uuid4()) for _ in range(101)]
    error = await api.error("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
