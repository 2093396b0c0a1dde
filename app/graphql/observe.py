"""Each GraphQL operation measured once: its metrics, its log line and its span."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.graphql.context import Context
from app.metrics import Metrics
from app.observability import tracing
from app.observability.scope import CURRENT, OperationScope

log = logging.getLogger("ordergraph.operation")


class Observe(SchemaExtension):
    """Outermost extension: it ends after ErrorCodes, so the codes it counts are final.
    Subscriptions are not timed (their operation lasts as long as the subscriber)."""

    scope: OperationScope

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        started = time.perf_counter()
        scope = self.scope = OperationScope(name=None)
        token = CURRENT.set(scope)
        # A streamed operation (SSE, multipart) may end in another task than it began
        # in: a context token or an attached span can only be undone where it was made.
        task = asyncio.current_task()
        span, attached = tracing.start_span("graphql.operation")
        try:
            yield
        finally:
            same = asyncio.current_task() is task
            if same:
                CURRENT.reset(token)
            else:
                CURRENT.set(None)
            kind = _operation_type(self)
            if span is not None:
                span.set_attribute("graphql.operation.name", scope.name or "")
                span.set_attribute("graphql.operation.type", kind)
                span.update_name(f"graphql.{kind} {scope.name or 'anonymous'}")
                tracing.end_span(span, attached if same else None)
        if kind == "subscription":
            return
        seconds = time.perf_counter() - started
        result = execution.result
        codes = [
            str((error.extensions or {}).get("code", "INTERNAL"))
            for error in (result.errors if result is not None and result.errors else [])
        ]
        record(execution.context, scope, kind, seconds, codes)

    def on_execute(self) -> Iterator[None]:
        # The document is parsed by now: its operation's name is known.
        self.scope.name = self.execution_context.operation_name
        yield


def record(
    context: object, scope: OperationScope, kind: str, seconds: float, codes: list[str]
) -> None:
    """One operation's metrics and log line, however it ran (the executor or a read
    plan, app.graphql.plan.serve)."""
    metrics: Metrics | None = (
        getattr(context.request.app.state, "metrics", None)
        if isinstance(context, Context)
        else None
    )
    if metrics is not None:
        metrics.operation_seconds.labels(metrics.operation_label(scope.name), kind).observe(seconds)
        metrics.operation_statements.labels(kind).observe(scope.statements)
        for code in codes:
            metrics.errors.labels(code).inc()
    level = logging.INFO if _json_lines(context) else logging.DEBUG
    if log.isEnabledFor(level):
        viewer = context.viewer.user_id if isinstance(context, Context) else None
        log.log(
            level,
            "%s %s: %.1f ms, %d statements%s",
            kind,
            scope.name or "anonymous",
            seconds * 1000,
            scope.statements,
            f", errors {','.join(codes)}" if codes else "",
            extra={
                "request_id": getattr(context, "request_id", None),
                "operation": scope.name,
                "operation_type": kind,
                "viewer_id": str(viewer) if viewer is not None else None,
                "duration_ms": round(seconds * 1000, 2),
                "statements": scope.statements,
                "error_codes": codes,
            },
        )


def _operation_type(extension: SchemaExtension) -> str:
    try:
        return extension.execution_context.operation_type.value
    except Exception:  # no document: it did not parse
        return "unknown"


def _json_lines(context: object) -> bool:
    return isinstance(context, Context) and context.settings.log_format == "json"
