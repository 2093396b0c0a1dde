"""Documents a client names instead of sending: automatic persisted queries (APQ) and
trusted documents.

APQ, as Apollo Client's persisted-queries link speaks it: a request carries
`extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` and no query. A
known hash runs its document; an unknown one is answered PERSISTED_QUERY_NOT_FOUND, and
the client sends the query again with the hash, which registers it once the hash is
checked. Queries may come as GET (`?extensions=...&variables=...`), so a CDN can cache
them; a mutation never runs over GET (405). Documents live in Redis (shared by
instances) or, without it, in this process's memory, each for PERSISTED_QUERY_TTL_SECONDS,
and each process keeps the ones it served in a small cache of its own (a hash always
names the same text).

Trusted documents: a manifest (TRUSTED_DOCUMENTS_PATH) of id -> document, the JSON
object that Relay's persisted queries and GraphQL Codegen's client preset
(persisted-documents.json) both write. A client may send an id as `documentId` (an
optional `sha256:` prefix is dropped) or as APQ's sha256Hash. With
TRUSTED_DOCUMENTS_ONLY=true nothing else runs, over any transport: a document whose text
is not in the manifest is refused with TRUSTED_DOCUMENT_REQUIRED, and APQ registers
nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from cachetools import LRUCache
from cross_web import HTTPException
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData

from app.cache.store import Store

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
TRUSTED_DOCUMENT_REQUIRED = "TRUSTED_DOCUMENT_REQUIRED"
_LOCAL_BYTES = 8 * 2**20


class Refusal(HTTPException):
    """A persisted-document request that cannot run, answered as a GraphQL error body;
    `status` 200 for a miss, which Apollo's link answers by sending the query."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(status, reason)
        self.code = code


def load_manifest(path: Path) -> dict[str, str]:
    """id -> document from a Relay or GraphQL Codegen manifest; ValueError when the file
    is not such an object."""
    try:
        manifest = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(
            f"TRUSTED_DOCUMENTS_PATH {path}: cannot read a JSON object ({exc})"
        ) from None
    if not isinstance(manifest, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in manifest.items()
    ):
        raise ValueError(f'TRUSTED_DOCUMENTS_PATH {path}: expected {{"<id>": "<document>"}}')
    return manifest


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedDocuments:
    def __init__(
        self,
        *,
        store: Store | None,
        namespace: str,
        ttl: int,
        manifest: dict[str, str] | None,
        trusted_only: bool,
        automatic: bool = True,
    ) -> None:
        self.automatic = automatic
        self.store = store
        self.namespace = namespace
        self.ttl = ttl
        self.manifest = manifest or {}
        self.trusted_only = trusted_only
        self.trusted_texts = frozenset(self.manifest.values())
        self._local: LRUCache[str, str] = LRUCache(_LOCAL_BYTES, getsizeof=len)

    def is_trusted(self, query: str) -> bool:
        return query in self.trusted_texts

    async def resolve(
        self, data: GraphQLRequestData, *, document_id: str | None
    ) -> GraphQLRequestData:
        """The request with the document it names filled in; Refusal when it names one
        that is not known, or sends a query that its hash does not match."""
        extensions = data.extensions or {}
        persisted = extensions.get("persistedQuery")
        digest = None
        if persisted is not None:
            if not isinstance(persisted, dict) or persisted.get("version", 1) != 1:
                raise Refusal(
                    400,
                    "BAD_REQUEST",
                    "extensions.persistedQuery must be {version: 1, sha256Hash}.",
                )
            digest = persisted.get("sha256Hash")
            if not isinstance(digest, str):
                raise Refusal(400, "BAD_REQUEST", "persistedQuery.sha256Hash must be a string.")
        if document_id is not None:
            found = self.manifest.get(document_id.removeprefix("sha256:"))
            if found is None:
                raise Refusal(
                    200, PERSISTED_QUERY_NOT_FOUND, f"No trusted document has the id {document_id}."
                )
            return dataclasses.replace(data, query=found)
        if digest is None:
            return data
        digest = digest.lower()
        if data.query is not None:
            if sha256(data.query) != digest:
                raise Refusal(
                    400,
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    "persistedQuery.sha256Hash is not the SHA-256 of the query sent with it.",
                )
            if self.automatic and not self.trusted_only:
                await self._register(digest, data.query)
            return data
        query = self.manifest.get(digest)
        if query is None and not self.automatic:
            # Apollo's link stops hashing for this server, and sends queries.
            raise Refusal(200, "PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
        if query is None:
            query = await self._find(digest)
        if query is None:
            raise Refusal(200, PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
        return dataclasses.replace(data, query=query)

    async def _find(self, digest: str) -> str | None:
        query = self._local.get(digest)
        if query is not None or self.store is None or self.trusted_only:
            return query
        [raw] = await self.store.get_many([self._key(digest)])
        if raw is None:
            return None
        query = raw.decode()
        if sha256(query) == digest:  # whatever is in Redis, only the hash's text runs
            self._local[digest] = query
            return query
        return None

    async def _register(self, digest: str, query: str) -> None:
        if digest in self._local:
            return
        self._local[digest] = query
        if self.store is not None:
            await self.store.set(self._key(digest), query.encode(), self.ttl)

    def _key(self, digest: str) -> str:
        return f"{self.namespace}:apq:{digest}"

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


def get_cache_control(*, ok: bool, anonymous: bool, max_age: int) -> str:
    """Cache-Control for a GET query's answer. Errors (a PERSISTED_QUERY_NOT_FOUND above
    all, which the link answers by registering) are never stored; an answer made for a
    token is for that caller's browser alone, never a shared cache."""
    if not ok:
        return "no-store"
    scope = "public" if anonymous else "private"
    return f"{scope}, max-age={max_age}" if max_age else f"{scope}, no-cache"


# Caches key GET answers by these too: a token's answer is not the anonymous one,
# application/graphql-response+json is not application/json, and a request carrying a
# newer commit LSN must not get an answer read before that commit (read-your-writes).
GET_VARY = "Authorization, Accept, X-Ordergraph-LSN"


async def document_id_of(method: str, query_params: Any, body: bytes | None) -> str | None:
    """The `documentId` a request names, if any (only read for requests with no query)."""
    if method == "GET":
        value = query_params.get("documentId")
        return str(value) if value else None
    if body:
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        value = decoded.get("documentId") if isinstance(decoded, dict) else None
        return value if isinstance(value, str) else None
    return None


class TrustedDocumentsOnly(SchemaExtension):
    """With TRUSTED_DOCUMENTS_ONLY: a document not in the manifest is refused before it
    is validated, whatever transport brought it."""

    def __init__(self, documents: PersistedDocuments) -> None:
        super().__init__()
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and not self.documents.is_trusted(
            context.query or ""
        ):
            context.pre_execution_errors = [
                GraphQLError(
                    "Only trusted documents run on this server (TRUSTED_DOCUMENTS_ONLY): send "
                    "the id of a document in its manifest (documentId or "
                    "extensions.persistedQuery.sha256Hash), or its exact text.",
                    extensions={"code": TRUSTED_DOCUMENT_REQUIRED},
                )
            ]
        yield


__all__ = [
    "PERSISTED_QUERY_NOT_FOUND",
    "TRUSTED_DOCUMENT_REQUIRED",
    "PersistedDocuments",
    "Refusal",
    "TrustedDocumentsOnly",
    "document_id_of",
    "load_manifest",
    "sha256",
]
