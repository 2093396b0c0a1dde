"""The schema: assembles each domain's Query and Mutation classes, adds limits and codes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from app.graphql.audit.queries import AuditQuery
from app.graphql.budget import OperationBudget
from app.graphql.caching import CacheTrace
from app.graphql.cost import CostModel
from app.graphql.documents import DocumentCache, DocumentCaches, ValidatedDocuments
from app.graphql.errors import ErrorCodes, classify
from app.graphql.events.sharing import SharingExecutionContext
from app.graphql.events.subscriptions import Subscription
from app.graphql.exports.mutations import ExportMutation
from app.graphql.imports.mutations import ImportMutation
from app.graphql.limits import Limits
from app.graphql.node import NodeQuery, node_registry
from app.graphql.observe import Observe
from app.graphql.operation import OperationContext
from app.graphql.orders.bulk import OrderBulkMutation
from app.graphql.orders.mutations import OrderMutation
from app.graphql.orders.queries import OrderQuery
from app.graphql.persisted import PersistedDocuments, TrustedDocumentsOnly, load_manifest
from app.graphql.privacy.mutations import PrivacyMutation
from app.graphql.products.bulk import ProductBulkMutation
from app.graphql.products.mutations import ProductMutation
from app.graphql.products.queries import ProductQuery
from app.graphql.replicas import ReadRouting
from app.graphql.scalars import MONEY, Money
from app.graphql.tokens.mutations import TokenMutation
from app.graphql.users.bulk import UserBulkMutation
from app.graphql.users.mutations import UserMutation
from app.graphql.users.queries import UserQuery
from app.graphql.webhooks.mutations import WebhookMutation
from app.graphql.webhooks.queries import WebhookQuery
from app.settings import Settings


@strawberry.type(description="Everything ordergraph can read.")
class Query(NodeQuery, UserQuery, ProductQuery, OrderQuery, AuditQuery, WebhookQuery):
    pass


@strawberry.type(description="Every write: validated, one transaction each, audited.")
class Mutation(
    UserMutation,
    ProductMutation,
    OrderMutation,
    TokenMutation,
    UserBulkMutation,
    ProductBulkMutation,
    OrderBulkMutation,
    ExportMutation,
    ImportMutation,
    PrivacyMutation,
    WebhookMutation,
):
    pass


class Schema(strawberry.Schema):
    documents: DocumentCaches
    persisted: PersistedDocuments

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in ErrorCodes, once, and only for real failures."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Like Strawberry's, but an exception that escaped the operation's hooks (and so
        ErrorCodes) is coded too: logged, and INTERNAL to the client."""
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        if result.errors:
            request_id = getattr(context_value, "request_id", "") or "unknown"
            result.errors = [classify(error, request_id=request_id) for error in result.errors]
        return result


def build_schema(settings: Settings) -> Schema:
    # Factories, not instances: each request gets fresh extension state. The document
    # caches belong to this schema, so schemas built with other limits never share a
    # verdict. DocumentCache, not strawberry's ParserCache: that one raises syntax errors
    # where ErrorCodes cannot give them a code. The depth, alias, nesting and field limits are
    # ours (app.graphql.limits), checked in linear time before graphql-core's rules.
    caches = DocumentCaches(
        budget=settings.document_cache_bytes,
        limits=Limits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_nesting=settings.max_query_nesting,
            max_fields=settings.max_query_fields,
        ),
        # What MaxTokensLimiter sets: a cached document is found under the same key.
        parse_options={"max_tokens": settings.max_query_tokens},
        max_cost=settings.max_query_cost,
    )
    persisted = PersistedDocuments(
        store=None,
        namespace="",
        ttl=settings.persisted_query_ttl_seconds,
        manifest=(
            load_manifest(settings.trusted_documents_path)
            if settings.trusted_documents_path
            else None
        ),
        trusted_only=settings.trusted_documents_only,
        automatic=settings.persisted_queries,
    )
    extensions: list[Any] = [
        # First, so it ends last: after ErrorCodes gave every error its code.
        Observe,
        OperationContext,
        ReadRouting,
        CacheTrace,
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: DocumentCache(caches),
    ]
    if settings.trusted_documents_only:
        extensions.append(lambda: TrustedDocumentsOnly(persisted))
    if not settings.introspection_enabled:
        # A validation rule: part of the validated document's cache entry, so checked once.
        extensions.append(DisableIntrospection)
    extensions += [
        lambda: ValidatedDocuments(caches),
    ]
    if (
        settings.max_query_cost
        or settings.rate_limit_token_cost_per_minute
        or settings.rate_limit_address_cost_per_minute
    ):
        extensions.append(OperationBudget)
    extensions.append(ErrorCodes)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={Money: MONEY}),
        execution_context_class=SharingExecutionContext,
    )
    schema.documents = caches
    schema.persisted = persisted
    caches.cost_model = CostModel(schema._schema)
    node_registry(schema._schema)  # refuses a Node type that node() cannot fetch
    return schema


def print_schema(settings: Settings) -> str:
    """The SDL that `make schema` writes to schema.graphql."""
    return build_schema(settings).as_str() + "\n"
