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


class Validated(NamedTuple):
    document: DocumentNode
    rules: tuple[Any, ...]
    errors: list[GraphQLError]
    weight: int


def parse_key(query: str, options: Mapping[str, Any]) -> tuple[str, str]:
    return (query, repr(sorted(options.items())))


class DocumentCaches:
    """The parsed and the validated documents of one schema, `budget` bytes each, and
    the read plans compiled from them (app.graphql.plan), keyed like the validated ones."""

    def __init__(self, *, budget: int, limits: Limits, parse_options: dict[str, Any]) -> None:
        self.limits = limits
        self.parse_options = parse_options
        self.largest = budget // _LARGEST_SHARE
        # (document id, operation name, @skip/@include values) -> (document, plan or None)
        self.plans: LRUCache[tuple[Any, ...], tuple[DocumentNode, Any]] = LRUCache(4096)
        self.parsed: LRUCache[tuple[str, str], Parsed] = LRUCache(
            budget, getsizeof=lambda entry: entry.weight
        )
        self.validated: LRUCache[int, Validated] = LRUCache(
            budget, getsizeof=lambda entry: entry.weight
        )

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
    no other rule ever walks it.

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
            else:
                errors = check_limits(document, self.caches.limits) or validate_document(
                    context.schema._schema, document, rules
                )
                weight = weigh(document)
                if weight <= self.caches.largest:
                    validated[key] = Validated(document, rules, errors, weight)
            context.pre_execution_errors = errors
        yield


__all__ = ["DocumentCache", "DocumentCaches", "ValidatedDocuments", "weigh"]
