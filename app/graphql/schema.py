"""The schema: assembles each domain's Query and Mutation classes, adds limits and codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.graphql.audit.queries import AuditQuery
from app.graphql.caching import CacheTrace
from app.graphql.context import Context
from app.graphql.errors import ErrorCodes
from app.graphql.events.subscriptions import Subscription
from app.graphql.node import NodeQuery
from app.graphql.orders.mutations import OrderMutation
from app.graphql.orders.queries import OrderQuery
from app.graphql.products.mutations import ProductMutation
from app.graphql.products.queries import ProductQuery
from app.graphql.scalars import MONEY, Money
from app.graphql.tokens.mutations import TokenMutation
from app.graphql.users.mutations import UserMutation
from app.graphql.users.queries import UserQuery
from app.loaders import Loaders
from app.settings import Settings


@strawberry.type(description="Everything ordergraph can read.")
class Query(NodeQuery, UserQuery, ProductQuery, OrderQuery, AuditQuery):
    pass


@strawberry.type(description="Every write: validated, one transaction each, audited.")
class Mutation(UserMutation, ProductMutation, OrderMutation, TokenMutation):
    pass


class FreshLoaders(SchemaExtension):
    """Each operation starts with empty loader caches: operations sharing a WebSocket
    connection (and so its context) never read one another's cached rows."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and isinstance(context.request, WebSocket):
            context.loaders = Loaders(context.loaders.engine)
            context.lookahead = {}
            context.cache_trace = []
        yield


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in ErrorCodes, once, and only for real failures."""


def build_schema(settings: Settings) -> Schema:
    # Factories, not instances: each request gets fresh extension state. The validation
    # cache lives at module level, so it is still shared. No ParserCache: it raises
    # syntax errors outside on_operation, where ErrorCodes cannot give them a code.
    extensions: list[Any] = [
        FreshLoaders,
        CacheTrace,
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
        lambda: ValidationCache(maxsize=256),
        ErrorCodes,
    ]
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={Money: MONEY}),
    )


def print_schema(settings: Settings) -> str:
    """The SDL that `make schema` writes to schema.graphql."""
    return build_schema(settings).as_str() + "\n"
