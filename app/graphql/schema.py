"""The schema: assembles each domain's Query and Mutation classes, adds limits and codes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from app.graphql.audit.queries import AuditQuery
from app.graphql.caching import CacheTrace
from app.graphql.errors import ErrorCodes
from app.graphql.events.subscriptions import Subscription
from app.graphql.execution import PlainFieldsExecutionContext
from app.graphql.node import NodeQuery, node_registry
from app.graphql.operation import OperationContext
from app.graphql.orders.mutations import OrderMutation
from app.graphql.orders.queries import OrderQuery
from app.graphql.products.mutations import ProductMutation
from app.graphql.products.queries import ProductQuery
from app.graphql.scalars import MONEY, Money
from app.graphql.tokens.mutations import TokenMutation
from app.graphql.users.mutations import UserMutation
from app.graphql.users.queries import UserQuery
from app.settings import Settings


@strawberry.type(description="Everything ordergraph can read.")
class Query(NodeQuery, UserQuery, ProductQuery, OrderQuery, AuditQuery):
    pass


@strawberry.type(description="Every write: validated, one transaction each, audited.")
class Mutation(UserMutation, ProductMutation, OrderMutation, TokenMutation):
    pass


_DOCUMENTS: OrderedDict[tuple[str, str], DocumentNode] = OrderedDict()
_DOCUMENTS_MAX = 512


class DocumentCache(SchemaExtension):
    """Parse each distinct document once (bounded LRU). Unlike strawberry's ParserCache it
    never parses itself: a syntax error still happens inside strawberry's own parse step,
    where it becomes a GRAPHQL_PARSE_FAILED error like any other."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        key = (context.query or "", repr(sorted(context.parse_options.items())))
        cached = _DOCUMENTS.get(key)
        if cached is not None and context.graphql_document is None:
            _DOCUMENTS.move_to_end(key)
            context.graphql_document = cached
        yield
        if cached is None and context.graphql_document is not None:
            _DOCUMENTS[key] = context.graphql_document
            while len(_DOCUMENTS) > _DOCUMENTS_MAX:
                _DOCUMENTS.popitem(last=False)


_VALIDATED: OrderedDict[int, tuple[DocumentNode, tuple[Any, ...], list[GraphQLError]]] = (
    OrderedDict()
)


class ValidatedDocuments(SchemaExtension):
    """Validate each distinct document once (bounded LRU), keyed by the parsed document's
    identity: DocumentCache hands every request with the same text the same object, and
    the entry holds that object, so its id cannot be reused while the entry lives. The
    rules are part of the entry, so a document validated under other rules is validated
    again. (strawberry's ValidationCache keys on the rule classes, and the depth and alias
    limiters make new classes per request, so it never hit: 43% of a small query's time.)"""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        rules = context.validation_rules
        if document is not None and context.pre_execution_errors is None:
            key = id(document)
            entry = _VALIDATED.get(key)
            if entry is not None and entry[0] is document and entry[1] == rules:
                _VALIDATED.move_to_end(key)
                errors = entry[2]
            else:
                errors = validate_document(context.schema._schema, document, rules)
                _VALIDATED[key] = (document, rules, errors)
                while len(_VALIDATED) > _DOCUMENTS_MAX:
                    _VALIDATED.popitem(last=False)
            context.pre_execution_errors = errors
        yield


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in ErrorCodes, once, and only for real failures."""


def build_schema(settings: Settings) -> Schema:
    # Factories, not instances: each request gets fresh extension state. The limiters'
    # rule classes are made once here, so every request validates under the same rules
    # and ValidatedDocuments can reuse a document's verdict. DocumentCache, not
    # strawberry's ParserCache: that one raises syntax errors where ErrorCodes cannot give
    # them a code.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
    ]
    extensions: list[Any] = [
        OperationContext,
        CacheTrace,
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        DocumentCache,
        ValidatedDocuments,
        ErrorCodes,
    ]
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={Money: MONEY}),
        execution_context_class=PlainFieldsExecutionContext,
    )
    node_registry(schema._schema)  # refuses a Node type that node() cannot fetch
    return schema


def print_schema(settings: Settings) -> str:
    """The SDL that `make schema` writes to schema.graphql."""
    return build_schema(settings).as_str() + "\n"
