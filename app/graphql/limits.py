"""Limits on a document's shape: depth, aliases and nesting, checked before any other rule.

Each definition is walked once, without recursion, and each fragment's totals are
computed once and reused by every spread of it. A document's cost to check is then
linear in its length, however often its fragments spread one another: a fragment that
spreads the next one twice, thirty times over, is 2^30 paths but 31 fragments here.
(Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk every path, and recurse once
per fragment, so a chain of a few hundred fragments overflowed Python's stack.)

The field limit counts fields as the executor would meet them, each spread of a fragment
anew, so a document cannot ask for more than its text shows by spreading fragments into
one another. The nesting limit (selection sets, inline fragments and spreads within one
another) keeps every later step, graphql-core's rules and the executor, well inside the
interpreter's recursion limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

CODE = "GRAPHQL_VALIDATION_FAILED"


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The most a document may ask for; see Settings for what each one means."""

    max_depth: int
    max_aliases: int
    max_nesting: int
    max_fields: int


@dataclass
class _Shape:
    """What one definition asks for on its own, and where it spreads fragments."""

    depth: int = 0
    nesting: int = 0
    aliases: int = 0
    fields: int = 0
    # (fragment, fields enclosing the spread or None inside introspection, nesting there)
    spreads: list[tuple[str, int | None, int]] = field(default_factory=list)


def _shape(selection_set: SelectionSetNode) -> _Shape:
    shape = _Shape()
    # Depth counts the fields enclosing a selection; introspection fields (`__schema`,
    # `__type`) are not counted and nothing under them is, as in Strawberry's limiter.
    stack: list[tuple[SelectionSetNode, int | None, int]] = [(selection_set, 0, 1)]
    while stack:
        selections, depth, nesting = stack.pop()
        shape.nesting = max(shape.nesting, nesting)
        if depth is not None:
            shape.depth = max(shape.depth, depth)
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                shape.fields += 1
                if selection.alias is not None:
                    shape.aliases += 1
                if selection.selection_set is not None:
                    counted = not selection.name.value.startswith("__")
                    inner = depth + 1 if depth is not None and counted else None
                    stack.append((selection.selection_set, inner, nesting + 1))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth, nesting + 1))
            elif isinstance(selection, FragmentSpreadNode):
                shape.spreads.append((selection.name.value, depth, nesting))
    return shape


def _with_spreads(shape: _Shape, totals: dict[str, _Shape]) -> _Shape:
    """`shape` with the totals of the fragments it spreads (known ones; the others are
    reported by graphql-core's KnownFragmentNames)."""
    total = _Shape(
        depth=shape.depth, nesting=shape.nesting, aliases=shape.aliases, fields=shape.fields
    )
    for name, depth, nesting in shape.spreads:
        spread = totals.get(name)
        if spread is None:
            continue
        if depth is not None:
            total.depth = max(total.depth, depth + spread.depth)
        total.nesting = max(total.nesting, nesting + spread.nesting)
        total.aliases += spread.aliases
        total.fields += spread.fields
    return total


def _fragment_totals(own: dict[str, _Shape]) -> dict[str, _Shape]:
    """Each fragment's totals, its spreads included, each computed once: depth-first
    over the spreads with an explicit stack. A spread that closes a cycle adds nothing
    (NoFragmentCycles refuses the document)."""
    totals: dict[str, _Shape] = {}
    for root in own:
        if root in totals:
            continue
        path = [(root, iter(own[root].spreads))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread, _depth, _nesting in spreads:
                if spread in own and spread not in totals and spread not in on_path:
                    path.append((spread, iter(own[spread].spreads)))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                totals[name] = _with_spreads(own[name], totals)
    return totals


def check_limits(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """The errors of a document that asks for more than `limits` allow, in time linear
    in the document; empty when it fits."""
    operations: list[tuple[OperationDefinitionNode, _Shape]] = []
    fragments: dict[str, _Shape] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            operations.append((definition, _shape(definition.selection_set)))
        elif isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, _shape(definition.selection_set))
    totals = _fragment_totals(fragments)

    errors: list[GraphQLError] = []
    nesting = max((shape.nesting for shape in totals.values()), default=0)
    aliases = fields = 0
    for operation, shape in operations:
        total = _with_spreads(shape, totals)
        nesting = max(nesting, total.nesting)
        aliases += total.aliases
        fields += total.fields
        if total.depth > limits.max_depth:
            name = operation.name.value if operation.name else "anonymous"
            errors.append(
                GraphQLError(
                    f"The operation '{name}' nests fields {total.depth} deep; the maximum "
                    f"depth is {limits.max_depth}.",
                    operation,
                    extensions={"code": CODE},
                )
            )
    if nesting > limits.max_nesting:
        errors.append(
            GraphQLError(
                f"Selections are nested {nesting} deep (fields, inline fragments and "
                f"fragment spreads within one another); at most {limits.max_nesting} "
                "are allowed.",
                extensions={"code": CODE},
            )
        )
    if fields > limits.max_fields:
        errors.append(
            GraphQLError(
                f"The document selects {fields} fields (counting each spread of a fragment); "
                f"at most {limits.max_fields} are allowed.",
                extensions={"code": CODE},
            )
        )
    if aliases > limits.max_aliases:
        errors.append(
            GraphQLError(
                f"The document uses {aliases} aliases (counting each spread of a fragment); "
                f"at most {limits.max_aliases} are allowed.",
                extensions={"code": CODE},
            )
        )
    return errors


__all__ = ["Limits", "check_limits"]
