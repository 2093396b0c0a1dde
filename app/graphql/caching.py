"""The @cached hint in the schema, and how a resolver serves a field through the cache."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema_directive import Location

from app.graphql.context import Context, Info

T = TypeVar("T")


@strawberry.enum(description="Who a cached value may be served to.")
class CacheScope(Enum):
    PUBLIC = "public"
    PRIVATE = "private"


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="Served from a cache for up to `ttl` seconds, and never after a write that "
    "changes it. PRIVATE values are cached per viewer, PUBLIC ones for everyone.",
)
class Cached:
    ttl: int
    scope: CacheScope


async def through_cache(
    info: Info,
    *,
    type_name: str,
    field_name: str,
    parent_id: str | None,
    arguments: Mapping[str, Any],
    hint: Cached,
    tags: list[str],
    compute: Callable[[], Awaitable[T]],
    encode: Callable[[T], bytes],
    decode: Callable[[bytes], T],
) -> T:
    return await cached_value(
        info.context,
        type_name=type_name,
        field_name=field_name,
        parent_id=parent_id,
        arguments=arguments,
        hint=hint,
        tags=tags,
        compute=compute,
        encode=encode,
        decode=decode,
    )


async def cached_value(
    context: Context,
    *,
    type_name: str,
    field_name: str,
    parent_id: str | None,
    arguments: Mapping[str, Any],
    hint: Cached,
    tags: list[str],
    compute: Callable[[], Awaitable[T]],
    encode: Callable[[T], bytes],
    decode: Callable[[bytes], T],
) -> T:
    """through_cache for a caller that has the request's context but no resolve info
    (the planned read path, app.graphql.plan)."""
    viewer = context.viewer.user_id
    trace = context.cache_trace

    def outcome(result: str) -> None:
        trace.append({"field": f"{type_name}.{field_name}", "parent": parent_id, "result": result})

    if hint.scope is CacheScope.PRIVATE and viewer is None:
        outcome("bypass")
        return await compute()  # a private value is never cached without a viewer
    return await context.field_cache.get_or_compute(
        type_name=type_name,
        field_name=field_name,
        parent_id=parent_id,
        arguments=arguments,
        viewer=viewer if hint.scope is CacheScope.PRIVATE else None,
        tags=tags,
        ttl=hint.ttl,
        compute=compute,
        encode=encode,
        decode=decode,
        reads=context.cache_reads,
        outcome=outcome,
    )


class CacheTrace(SchemaExtension):
    """With `X-Cache-Debug: 1` outside production, the response's extensions say which
    fields came from the cache: {"cache": [{"field", "parent", "result"}]}."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not isinstance(context, Context) or not traces_cache(context):
            return {}
        return {"cache": context.cache_trace}


def traces_cache(context: Context) -> bool:
    """Whether this request's results carry the cache trace (CacheTrace)."""
    return (
        context.settings.environment != "production"
        and context.request.headers.get("x-cache-debug") == "1"
    )
