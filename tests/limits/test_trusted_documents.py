"""Trusted documents: a manifest (Relay's and GraphQL Codegen's shape) admits its
documents, by id or by text, and with TRUSTED_DOCUMENTS_ONLY refuses any other, over
HTTP and WebSocket alike; introspection can be switched off, and is off in production."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from app.db.seed import ADMIN_EMAIL
from tests.conftest import running_app, token_for
from tests.events.conftest import start_server, stop_server
from tests.redis_server import private_redis
from tests.wsclient import connect

VIEWER = "query Me { viewer { email } }"
PRODUCTS = "query Few { products(first: 2) { edges { node { sku } } } }"
OTHER = "query Other { viewer { name } }"
INTROSPECTION = "{ __schema { __typename } }"


@pytest.fixture
def codegen_manifest(tmp_path: Path) -> Path:
    """GraphQL Codegen's client preset: persisted-documents.json, sha256 -> document."""
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({hashlib.sha256(d.encode()).hexdigest(): d for d in (VIEWER,)}))
    return path


@pytest.fixture
def relay_manifest(tmp_path: Path) -> Path:
    """Relay's persisted queries: an id of the compiler's choosing (md5) -> document."""
    path = tmp_path / "persisted_queries.json"
    path.write_text(json.dumps({hashlib.md5(PRODUCTS.encode()).hexdigest(): PRODUCTS}))
    return path


async def post(api: object, body: dict[str, object]) -> httpx.Response:
    response: httpx.Response = await api.client.post(  # type: ignore[attr-defined]
        "/graphql",
        json=body,
        headers=api.headers,  # type: ignore[attr-defined]
    )
    return response


async def test_only_manifest_documents_run(seeded_url: str, codegen_manifest: Path) -> None:
    async with running_app(
        seeded_url, trusted_documents_path=codegen_manifest, trusted_documents_only=True
    ) as api:
        digest = hashlib.sha256(VIEWER.encode()).hexdigest()
        by_id = (await post(api, {"documentId": f"sha256:{digest}"})).json()
        assert by_id["data"] == {"viewer": {"email": "admin@example.com"}}
        by_hash = (
            await post(
                api, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
            )
        ).json()
        assert by_hash["data"] == by_id["data"]
        by_text = (await post(api, {"query": VIEWER})).json()
        assert by_text["data"] == by_id["data"]

        refused = (await post(api, {"query": OTHER})).json()
        assert refused["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        assert "data" not in refused
        # Registering through APQ does not make a document trusted.
        other = hashlib.sha256(OTHER.encode()).hexdigest()
        apq = {"persistedQuery": {"version": 1, "sha256Hash": other}}
        registered = (await post(api, {"query": OTHER, "extensions": apq})).json()
        assert registered["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        missing = (await post(api, {"extensions": apq})).json()
        assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        unknown = (await post(api, {"documentId": "sha256:" + "0" * 64})).json()
        assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_relay_manifest_is_read_by_its_ids(seeded_url: str, relay_manifest: Path) -> None:
    async with running_app(
        seeded_url, trusted_documents_path=relay_manifest, trusted_documents_only=True
    ) as api:
        ident = hashlib.md5(PRODUCTS.encode()).hexdigest()
        response = await api.client.get(
            "/graphql", params={"documentId": ident}, headers=api.headers
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]["products"]["edges"]) == 2


async def test_without_only_other_documents_still_run(
    seeded_url: str, codegen_manifest: Path
) -> None:
    async with running_app(seeded_url, trusted_documents_path=codegen_manifest) as api:
        assert "errors" not in await api.query(OTHER)
        digest = hashlib.sha256(VIEWER.encode()).hexdigest()
        assert "errors" not in (await post(api, {"documentId": digest})).json()


async def test_a_websocket_operation_is_held_to_the_manifest_too(
    seeded_url: str, codegen_manifest: Path, tmp_path: Path
) -> None:
    with private_redis() as redis:
        server = start_server(
            seeded_url,
            redis.url,
            tmp_path / "server.log",
            TRUSTED_DOCUMENTS_PATH=str(codegen_manifest),
            TRUSTED_DOCUMENTS_ONLY="true",
        )
        try:
            token = await token_for(seeded_url, ADMIN_EMAIL)
            async with connect(server.ws, token=token) as session:
                trusted = await session.subscribe(VIEWER)
                assert await session.next_data(trusted) == {
                    "viewer": {"email": "admin@example.com"}
                }
                other = await session.subscribe(OTHER)
                message = await session.receive()
                while message.get("id") != other:
                    message = await session.receive()
                assert message["type"] == "error", message
                assert message["payload"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        finally:
            stop_server(server)


async def test_introspection_can_be_switched_off(seeded_url: str) -> None:
    async with running_app(seeded_url, introspection=False) as api:
        error = await api.error(INTROSPECTION)
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in error["message"].lower()
        assert "errors" not in await api.query("{ __typename viewer { id } }")


async def test_introspection_is_off_in_production_unless_asked_for(seeded_url: str) -> None:
    async with running_app(seeded_url, environment="production") as api:
        error = await api.error(INTROSPECTION)
        assert "introspection" in error["message"].lower()
    async with running_app(seeded_url, environment="production", introspection=True) as api:
        assert "errors" not in await api.query(INTROSPECTION)
    async with running_app(seeded_url) as api:
        assert "errors" not in await api.query(INTROSPECTION)
