"""How errors reach clients: a code in extensions, a message that says what to fix.

Domain errors (app.errors) keep their message and code, and say `retryable: true` where
the same request sent again may succeed. GraphQL's own request errors
get Apollo-style codes: GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED and, for
variables that do not fit their types, BAD_USER_INPUT. Anything else is a bug: the
client sees INTERNAL with the request id, and the stack trace goes to the log only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import OrdergraphError

log = logging.getLogger("app.graphql")
P = ParamSpec("P")
T = TypeVar("T")


def classify(error: GraphQLError, *, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, OrdergraphError):
        extensions: dict[str, Any] = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
        if original.retryable:
            extensions["retryable"] = True
        return _copy(error, original.message, extensions)
    if error.path is None:
        if error.extensions and "code" in error.extensions:
            return error
        if not _is_internal(error):
            # Not from a resolver: the request could not run (parse, validation, variables).
            return _copy(error, error.message, {"code": _request_error_code(error)})
    if original is not None:
        log.error(
            "Unhandled error in %s (request %s)",
            ".".join(map(str, error.path or [])) or "operation",
            request_id,
            exc_info=original,
        )
        return _copy(
            error,
            f"Internal server error (request id {request_id}); this is a bug on our side.",
            {"code": "INTERNAL", "requestId": request_id},
        )
    return error


def _is_internal(error: GraphQLError) -> bool:
    """A request error that is an exception of ours, not a fault of the document: one
    Strawberry wrapped as it escaped parsing, validation or an extension. graphql-core's
    own errors about the document or its variables point at a place in it, also those
    wrapping a scalar's exception."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError) and not error.nodes


_VARIABLE_VALUE_PROBLEMS = (
    "has invalid value",
    "got invalid value",
    "was not provided",
    "must not be null",
)


def _request_error_code(error: GraphQLError) -> str:
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    # Values of variables that do not fit their types (a document's own misuse of
    # variables, such as an unused one, is a validation error).
    if error.message.startswith("Variable ") and any(
        phrase in error.message for phrase in _VARIABLE_VALUE_PROBLEMS
    ):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **extensions},
    )


class ErrorCodes(SchemaExtension):
    """Gives every error of an operation a code, and hides internals."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "") or "unknown"
        result.errors = [classify(error, request_id=request_id) for error in result.errors]


def coded(
    resolver: Callable[P, AsyncGenerator[T, None]],
) -> Callable[P, AsyncGenerator[T, None]]:
    """For subscriptions: errors raised while streaming carry codes too (results of a
    subscription bypass the operation hooks of ErrorCodes). Closing the wrapper closes
    the resolver's generator at once, so its cleanup (leaving the broker) runs when the
    subscription ends, not when the cycle collector finds it."""

    @functools.wraps(resolver)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> AsyncGenerator[T, None]:
        async with contextlib.aclosing(resolver(*args, **kwargs)) as items:
            try:
                async for item in items:
                    yield item
            except GraphQLError:
                raise
            except Exception as exc:
                raise classify(
                    GraphQLError(str(exc), original_error=exc, path=["subscription"]),
                    request_id="subscription",
                ) from None

    return wrapper
