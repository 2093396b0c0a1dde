"""Uploading import files to the app in-process, as the multipart request spec says."""

from __future__ import annotations

from typing import Any

import orjson

from tests.conftest import Api

IMPORT_PRODUCTS = """mutation($file: Upload!, $mode: ImportMode!, $policy: ErrorPolicy!,
                     $dryRun: Boolean!) {
  importProducts(file: $file, mode: $mode, errorPolicy: $policy, dryRun: $dryRun) {
    created updated unchanged failed written dryRun errors { line column code message } } }"""
IMPORT_USERS = IMPORT_PRODUCTS.replace("importProducts", "importUsers")
PREFLIGHT = {"apollo-require-preflight": "true"}


async def post_upload(
    api: Api,
    content: bytes,
    *,
    document: str = IMPORT_PRODUCTS,
    headers: dict[str, str] | None = None,
    **variables: Any,
) -> Any:
    """The raw response of an upload of `content` as variable `file`."""
    values = {"mode": "INSERT", "policy": "REJECT_EVERYTHING", "dryRun": False, **variables}
    operations = {"query": document, "variables": {**values, "file": None}}
    return await api.client.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps({"0": ["variables.file"]}).decode(),
        },
        files={"0": ("import.csv", content, "text/csv")},
        headers={**api.headers, **PREFLIGHT, **(headers or {})},
    )


async def upload(api: Api, content: bytes, **kwargs: Any) -> dict[str, Any]:
    """The payload of an import that ran."""
    response = await post_upload(api, content, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload
