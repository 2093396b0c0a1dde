"""One error body and one status map for every route: /graphql's request errors, the
exports (streamed and PDF) and invoices answer alike, so a client parses them one way."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import app.errors
from app.errors import BackupError, FieldProblem, InvalidInput, OrdergraphError, SlowConsumer
from app.exports.kinds import Kind
from app.web.errors import status_of
from tests.conftest import Api

BAD_TOKEN = {"authorization": "Bearer og_not-a-token"}
UNAUTHENTICATED = {
    "errors": [{"message": "Unknown API token.", "extensions": {"code": "UNAUTHENTICATED"}}]
}


async def an_invoice_path(api: Api) -> str:
    page = await api.data("{ orders(first: 1) { edges { node { id } } } }")
    return f"/orders/{page['orders']['edges'][0]['node']['id']}/invoice.pdf"


async def test_bad_credentials_get_the_same_answer_from_every_route(api: Api) -> None:
    graphql = await api.client.post("/graphql", json={"query": "{ __typename }"}, headers=BAD_TOKEN)
    answers = [graphql]
    for path in ("/export/products.csv", "/export/orders.pdf", await an_invoice_path(api)):
        answers.append(await api.client.get(path, headers=BAD_TOKEN))
    for response in answers:
        assert response.status_code == 401, response.request.url
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.json() == UNAUTHENTICATED, response.request.url


async def test_bad_input_is_coded_alike_in_graphql_and_in_a_download(api: Api) -> None:
    """The export's error is the GraphQL error of the same variable, as a client that
    reads `errors[0].extensions.code` sees it."""
    filter = {"status": ["LOST"]}
    body = await api.query(
        "query($filter: OrderFilter) { orders(filter: $filter) { totalCount } }",
        {"filter": filter},
    )
    response = await api.client.get(
        "/export/orders.pdf", params={"filter": '{"status": ["LOST"]}'}, headers=api.headers
    )
    assert response.status_code == 400
    # Only `locations` differs: a download has no GraphQL document to point into.
    [error] = body["errors"]
    del error["locations"]
    assert response.json() == {"errors": [error]}


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the innards, with a secret")


@pytest.mark.parametrize("route", ["export", "report", "invoice"])
async def test_a_bug_is_internal_with_the_request_id_and_the_trace_only_in_the_log(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, route: str
) -> None:
    path = {
        "export": "/export/orders.csv",
        "report": "/export/orders.pdf",
        "invoice": await an_invoice_path(api),
    }[route]
    monkeypatch.setattr(Kind, "batch", _broken)
    monkeypatch.setattr("app.exports.pdf.report.totals_by_status", _broken)
    monkeypatch.setattr("app.exports.pdf.routes.render_invoice", _broken)
    with caplog.at_level(logging.ERROR, logger="app.web"):
        response = await api.client.get(
            path, headers={**api.headers, "x-request-id": f"trace-{route}"}
        )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == f"trace-{route}"
    assert response.json() == {
        "errors": [
            {
                "message": f"Internal server error (request id trace-{route}); "
                "this is a bug on our side.",
                "extensions": {"code": "INTERNAL", "requestId": f"trace-{route}"},
            }
        ]
    }
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "app.web"]
    assert f"trace-{route}" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_a_request_id_is_kept_when_plain_and_replaced_when_not(api: Api) -> None:
    kept = await api.client.get(
        "/export/orders.csv", params={"x": "1"}, headers=api.headers | {"x-request-id": "abc-1"}
    )
    assert kept.status_code == 400
    assert kept.headers["x-request-id"] == "abc-1"
    odd = await api.client.get(
        "/export/products.csv", headers={"x-request-id": "no spaces <allowed>"}
    )
    assert odd.status_code == 200
    assert odd.headers["x-request-id"] != "no spaces <allowed>"
    assert len(odd.headers["x-request-id"]) == 16


def _domain_errors() -> list[type[OrdergraphError]]:
    found = []
    for value in vars(app.errors).values():
        if isinstance(value, type) and issubclass(value, OrdergraphError):
            found.append(value)
    return found


def test_every_domain_error_a_route_can_raise_has_a_status() -> None:
    """A new error in app.errors gets its status here, not a 500 by default. A slow
    consumer is a subscriber's, a backup error the command line's, and the base class is
    never raised."""
    for kind in _domain_errors():
        if kind in (OrdergraphError, SlowConsumer, BackupError):
            continue
        error = InvalidInput([FieldProblem("f", "C", "m")]) if kind is InvalidInput else kind("m")
        assert 400 <= status_of(error) < 500 or status_of(error) == 503, kind.__name__
    assert status_of(OrdergraphError("a bug")) == 500
