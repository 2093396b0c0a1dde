"""The schema: assembles each domain's Query class, adds limits and error codes."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.graphql.errors import ErrorCodes
from app.graphql.scalars import MONEY, Money
from app.graphql.node import NodeQuery
from app.graphql.orders.queries import OrderQuery
from app.graphql.products.queries import ProductQuery
from app.graphql.users.queries import UserQuery
from app.settings import Settings


@strawberry.type(description="Everything ordergraph can read.")
class Query(NodeQuery, UserQuery, ProductQuery, OrderQuery):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in ErrorCodes, once, and only for real failures."""


def build_schema(settings: Settings) -> Schema:
    extensions: list[Any] = [
        ErrorCodes,
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        ParserCache(maxsize=256),
        ValidationCache(maxsize=256),
    ]
    return Schema(
        query=Query,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={Money: MONEY}),
    )


def print_schema(settings: Settings) -> str:
    """The SDL that `make schema` writes to schema.graphql."""
    return build_schema(settings).as_str() + "\n"
