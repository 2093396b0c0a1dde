"""Bad input: a coded error that says what to fix, never a stack trace or a 500."""

from __future__ import annotations

import base64
import json
import logging
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


@pytest.mark.parametrize(
    ("filter", "field"),
    [
        ({"email": "a\u0000b"}, "filter.email"),
        ({"name": "x" * 257}, "filter.name"),
        ({"email": "y" * 1_000_000}, "filter.email"),
        ({"createdAt": {"from": "0001-01-01T00:00:00+05:00"}}, "filter.createdAt.from"),
    ],
)
async def test_filter_text_and_times_the_database_cannot_take(
    api: Api, filter: dict[str, Any], field: str
) -> None:
    error = await api.error(USERS, {"filter": filter})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert_clean(error)


async def test_too_long_search_is_refused(api: Api) -> None:
    error = await api.error(PRODUCTS, {"filter": {"search": "desk " * 20_000}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.search"}


@pytest.mark.parametrize("amount", ["1e999999", "1_000", "\u0661\u0662", "99999999999999"])
async def test_money_takes_plain_ascii_decimals_only(api: Api, amount: str) -> None:
    error = await api.error(ORDERS, {"filter": {"total": {"min": amount}}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_money_bound_beyond_the_column_is_a_valid_filter(api: Api) -> None:
    data = await api.data(PRODUCTS, {"filter": {"price": {"max": "100000000"}}, "first": 1})
    assert data["products"]["totalCount"] == 40


@pytest.mark.parametrize(
    "payload",
    [
        [1, "User", "CREATED_AT:ASC", "2026-01-01T00:00:00+00:00", 5],
        [1, "User", "CREATED_AT:ASC", "0001-01-01T00:00:00+05:00", uuid.uuid4().hex],
        [1, "User", "NAME:ASC", "a\u0000b", uuid.uuid4().hex],
    ],
)
async def test_forged_cursor_values_are_damaged_cursors(api: Api, payload: list[Any]) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    order_by = {"field": "NAME"} if payload[2] == "NAME:ASC" else None
    error = await api.error(USERS, {"after": cursor, "orderBy": order_by})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "damaged" in error["message"]


async def test_unused_variable_is_a_validation_error(api: Api) -> None:
    error = await api.error("query($x: Int) { products(first: 1) { totalCount } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_too_many_aliases_are_refused(api: Api) -> None:
    many = " ".join(f"a{i}: products(first: 1) {{ totalCount }}" for i in range(16))
    error = await api.error("{ " + many + " }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def _internal(error: dict[str, Any], secret: str) -> None:
    assert error["extensions"]["code"] == "INTERNAL"
    assert "this is a bug on our side" in error["message"]
    assert secret not in str(error)
    assert_clean(error)


async def test_an_exception_while_parsing_is_internal_and_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Strawberry wraps it as a path-less error, like a document's own fault."""

    def broken(context: object) -> None:
        raise KeyError("the parser's innards")

    monkeypatch.setattr("strawberry.schema.schema._parse_operation_document", broken)
    with caplog.at_level(logging.ERROR, logger="app.graphql"):
        error = await api.error("{ __typename } # parsed anew")
    _internal(error, "innards")
    [record] = [r for r in caplog.records if r.name == "app.graphql"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], KeyError)


async def test_an_exception_escaping_the_operation_hooks_is_internal_and_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(document: object, limits: object) -> None:
        raise RuntimeError("the validator's innards")

    monkeypatch.setattr("app.graphql.documents.check_limits", broken)
    with caplog.at_level(logging.ERROR, logger="app.graphql"):
        error = await api.error("{ __typename } # validated anew")
    _internal(error, "innards")
    [record] = [r for r in caplog.records if r.name == "app.graphql"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_a_literal_a_scalar_refuses_is_still_a_validation_error(api: Api) -> None:
    """graphql-core wraps the scalar's exception with a place in the document: the
    client's fault, not ours."""
    error = await api.error('{ products(filter: {price: {min: "abc"}}) { totalCount } }')
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Money" in error["message"] or "money" in error["message"]
