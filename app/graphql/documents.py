"""Each distinct document parsed once and validated once, in caches bounded by bytes.

The caches are weighed by what an entry keeps alive: the document's text and its syntax
tree. Entry counts bounded nothing: a 1 MB comment passes the token limit, and 512 of
them held half a gigabyte per worker. An entry too large for a fair share of the budget
is not kept at all, so one large document cannot push out the hot ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, Token
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.graphql.context import Context
from app.graphql.cost import CostModel, estimate
from app.graphql.limits import Limits, check_limits

# Measured with tracemalloc on graphql-core 3.3: a syntax tree holds 400 to 550 bytes
# per token (the token and the nodes over it), and a comment's or string's text once
# more besides the document's own.
_BYTES_PER_TOKEN = 600
_BYTES_PER_CHARACTER = 2
# No entry may take more than this share of its cache.
_LARGEST_SHARE = 64


def weigh(document: DocumentNode) -> int:
    """About how many bytes `document` (with its text) keeps alive."""
    if document.loc is None:
        return 0
    tokens = 0
    token: Token | None = document.loc.start_token
    while token is not None:
        tokens += 1
        token = token.next
    return _BYTES_PER_CHARACTER * len(document.loc.source.body) + _BYTES_PER_TOKEN * tokens


class Parsed(NamedTuple):
    document: DocumentNode
    weight: int


class Costs:
    """A document's costs, by operation and by the sizes its slicing variables ask for;
    at most _COSTS_PER_DOCUMENT combinations are kept."""

    __slots__ = ("figures", "variables")

    def __init__(self) -> None:
        self.variables: dict[str | None, tuple[str, ...]] = {}
        self.figures: dict[tuple[object, ...], int | None] = {}

    def cost(
        self,
        model: CostModel,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> int | None:
        names = self.variables.get(operation_name)
        if names is not None:
            values = variables or {}
            key = (operation_name, *(_size(values.get(name)) for name in names))
            if key in self.figures:
                return self.figures[key]
        found = estimate(model, document, operation_name=operation_name, variables=variables)
        figure = found.cost if found is not None else None
        names = found.variables if found is not None else ()
        self.variables[operation_name] = names
        values = variables or {}
        if len(self.figures) >= _COSTS_PER_DOCUMENT:
            self.figures.clear()
        self.figures[(operation_name, *(_size(values.get(name)) for name in names))] = figure
        return figure


_COSTS_PER_DOCUMENT = 64


def _size(value: object) -> object:
    """What a slicing variable's value says about a size (the cost depends on no more)."""
    if isinstance(value, list | tuple):
        return len(value)
    return value if isinstance(value, int) else None


class Validated(NamedTuple):
    document: DocumentNode
    rules: tuple[Any, ...]
    errors: list[GraphQLError]
    weight: int
    costs: Costs


def parse_key(query: str, options: Mapping[str, Any]) -> tuple[str, str]:
    return (query, repr(sorted(options.items())))


class DocumentCaches:
    """The parsed and the validated documents of one schema, `budget` bytes each, and
    the read plans compiled from them (app.graphql.plan), keyed like the validated ones."""

    def __init__(
        self, *, budget: int, limits: Limits, parse_options: dict[str, Any], max_cost: int
    ) -> None:
        self.limits = limits
        self.parse_options = parse_options
        self.max_cost = max_cost
        # Set by build_schema once the schema it reads exists.
        self.cost_model: CostModel | None = None
        self.largest = budget // _LARGEST_SHARE
        # (document id, operation name, @skip/@include values) -> (document, plan or None)
        self.plans: LRUCache[tuple[Any, ...], tuple[DocumentNode, Any]] = LRUCache(4096)
        self.parsed: LRUCache[tuple[str, str], Parsed] = LRUCache(
            budget, getsizeof=lambda entry: entry.weight
        )
        self.validated: LRUCache[int, Validated] = LRUCache(
            budget, getsizeof=lambda entry: entry.weight
        )

    def cost_of(
        self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any]
    ) -> int | None:
        """The static cost of an operation of a ready document, as validation reckons it
        (cached with it); None when no cost limit is set."""
        validated = self.validated.get(id(document))
        if self.cost_model is None or not self.max_cost or validated is None:
            return None
        return validated.costs.cost(self.cost_model, document, operation_name, variables)

    def ready(self, query: str) -> DocumentNode | None:
        """The document of `query` when it was parsed and found valid (by the same
        limits and rules) before: a request for it may skip both."""
        parsed = self.parsed.get(parse_key(query, self.parse_options))
        if parsed is None:
            return None
        validated = self.validated.get(id(parsed.document))
        if validated is None or validated.document is not parsed.document or validated.errors:
            return None
        return parsed.document


class DocumentCache(SchemaExtension):
    """Parse each distinct document once. Unlike strawberry's ParserCache it never parses
    itself: a syntax error still happens inside strawberry's own parse step, where it
    becomes a GRAPHQL_PARSE_FAILED error like any other."""

    def __init__(self, caches: DocumentCaches) -> None:
        super().__init__()
        self.caches = caches

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        parsed = self.caches.parsed
        key = parse_key(context.query or "", dict(context.parse_options))
        cached = parsed.get(key)
        if cached is not None and context.graphql_document is None:
            context.graphql_document = cached.document
        yield
        if cached is None and context.graphql_document is not None:
            weight = weigh(context.graphql_document)
            if weight <= self.caches.largest:
                parsed[key] = Parsed(context.graphql_document, weight)


class ValidatedDocuments(SchemaExtension):
    """Check each distinct document once against the limits (app.graphql.limits) and,
    when it fits them, graphql-core's rules; an over-limit document goes no further, so
    no other rule ever walks it. A valid document's cost (app.graphql.cost) is kept with
    it, per operation and slicing variables, and refused over MAX_QUERY_COST; the
    operation's context carries it (rate limits charge it).

    Keyed by the parsed document's identity: DocumentCache hands every request with the
    same text the same object, and the entry holds that object, so its id cannot be
    reused while the entry lives. The rules are part of the entry, so a document
    validated under other rules is validated again. (strawberry's ValidationCache keys
    on the rule classes, and its depth and alias limiters make new classes per request,
    so it never hit: 43% of a small query's time.)"""

    def __init__(self, caches: DocumentCaches) -> None:
        super().__init__()
        self.caches = caches

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        rules = context.validation_rules
        validated = self.caches.validated
        if document is not None and context.pre_execution_errors is None:
            key = id(document)
            entry = validated.get(key)
            if entry is not None and entry.document is document and entry.rules == rules:
                errors = entry.errors
                costs = entry.costs
            else:
                errors = check_limits(document, self.caches.limits) or validate_document(
                    context.schema._schema, document, rules
                )
                weight = weigh(document)
                costs = Costs()
                if weight <= self.caches.largest:
                    validated[key] = Validated(document, rules, errors, weight, costs)
            if not errors and self.caches.cost_model is not None and self.caches.max_cost:
                cost = costs.cost(
                    self.caches.cost_model, document, context.operation_name, context.variables
                )
                if isinstance(context.context, Context):
                    context.context.cost = cost
                if cost is not None and cost > self.caches.max_cost:
                    errors = [cost_exceeded(cost, self.caches.max_cost)]
            context.pre_execution_errors = errors
        yield


COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"


def cost_exceeded(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"The operation costs {cost}; at most {limit} is allowed (MAX_QUERY_COST). Ask for "
        "fewer items (first/last) or fewer nested lists.",
        extensions={"code": COST_LIMIT_EXCEEDED, "cost": cost, "limit": limit},
    )


__all__ = ["COST_LIMIT_EXCEEDED", "DocumentCache", "DocumentCaches", "ValidatedDocuments", "weigh"]
