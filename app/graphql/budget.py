"""What an operation may spend: its cost against the rate limits, and the cost reported
in `extensions.cost` when the request asks (`"extensions": {"cost": true}`)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.graphql.actual_cost import actual
from app.graphql.context import Context
from app.ratelimit.limiter import Bucket, RateLimiter, retry_after_header

RATE_LIMITED = "RATE_LIMITED"


@functools.lru_cache(maxsize=4096)
def token_key(credential: str) -> str:
    """The credential's hash, never the credential, names its bucket in Redis."""
    return "token:" + hashlib.sha256(credential.encode()).hexdigest()[:32]


def buckets(context: Context) -> list[Bucket]:
    """The request's token's bucket and its address's, each where its rate is set."""
    settings = context.settings
    found = []
    if settings.rate_limit_token_cost_per_minute and context.credential:
        found.append(
            Bucket(token_key(context.credential), settings.rate_limit_token_cost_per_minute)
        )
    if settings.rate_limit_address_cost_per_minute and context.meta.client_addr:
        found.append(
            Bucket(f"addr:{context.meta.client_addr}", settings.rate_limit_address_cost_per_minute)
        )
    return found


def rate_limited(retry_after: float) -> GraphQLError:
    seconds = int(retry_after_header(retry_after))
    return GraphQLError(
        f"Rate limit reached: this token or address has spent its query cost for the minute "
        f"(RATE_LIMIT_*_COST_PER_MINUTE); retry in {seconds} s.",
        extensions={"code": RATE_LIMITED, "retryAfter": seconds},
    )


class OperationBudget(SchemaExtension):
    """After the document is validated and costed (app.graphql.documents): charge the
    cost to the rate limits, or refuse the operation with RATE_LIMITED; the HTTP view
    answers that with 429 and Retry-After."""

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if not execution.pre_execution_errors and isinstance(context, Context):
            limiter: RateLimiter | None = getattr(context.request.app.state, "rate_limiter", None)
            found = buckets(context) if limiter is not None else []
            if limiter is not None and found:
                verdict = await limiter.charge(found, float(context.cost or 0))
                if not verdict.admitted:
                    execution.pre_execution_errors = [rate_limited(verdict.retry_after)]
        yield

    def get_results(self) -> dict[str, Any]:
        execution = self.execution_context
        asked = (execution.operation_extensions or {}).get("cost")
        context = execution.context
        if not asked or not isinstance(context, Context) or context.cost is None:
            return {}
        schema = execution.schema
        report: dict[str, Any] = {"requested": context.cost}
        result = execution.result
        model = getattr(getattr(schema, "documents", None), "cost_model", None)
        data = getattr(result, "data", None)
        document = execution.graphql_document
        if model is not None and data is not None and document is not None:
            report["actual"] = actual(
                model, document, operation_name=execution.operation_name, data=data
            )
        report["limit"] = context.settings.max_query_cost
        return {"cost": report}


__all__ = ["RATE_LIMITED", "OperationBudget", "buckets", "rate_limited"]
