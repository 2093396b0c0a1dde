"""Field collection as graphql-core does it: fragments, type conditions, @skip/@include.

graphql-core's own collector returns a version-specific shape (with @defer's usage
records), so the plan collects with the spec's algorithm over the syntax tree instead:
selections in document order, a response key's fields merged in the order they
appear, each fragment spread once per collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    NamedTypeNode,
    SelectionSetNode,
    get_directive_values,
    is_abstract_type,
)
from graphql.language import DirectiveNode, Node, VariableNode

Fields = dict[str, list[FieldNode]]


class Unplannable(Exception):
    """The document asks for something the plan does not do (the executor will)."""


def collect(
    schema: GraphQLSchema,
    runtime_type: GraphQLObjectType,
    selection_sets: Iterable[SelectionSetNode],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
) -> Fields:
    """The response keys of `selection_sets` on `runtime_type`, each with its fields."""
    fields: Fields = {}
    visited: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if not _included(selection, variables):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if _matches(schema, selection.type_condition, runtime_type):
                    walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = fragments.get(name)
                if fragment is not None and _matches(schema, fragment.type_condition, runtime_type):
                    walk(fragment.selection_set)

    for selection_set in selection_sets:
        walk(selection_set)
    return fields


def _included(node: Any, variables: Any) -> bool:
    for directive in node.directives or ():
        if directive.name.value not in ("skip", "include"):
            raise Unplannable(f"@{directive.name.value}")
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip["if"] is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include["if"] is False)


def _matches(
    schema: GraphQLSchema, condition: NamedTypeNode | None, runtime_type: GraphQLObjectType
) -> bool:
    if condition is None:
        return True
    conditional = schema.get_type(condition.name.value)
    if conditional is runtime_type:
        return True
    if conditional is not None and is_abstract_type(conditional):
        return schema.is_sub_type(conditional, runtime_type)
    return False


def condition_variables(document: Node) -> tuple[str, ...]:
    """The variables any @skip or @include of `document` reads, sorted: a plan is
    compiled for each combination of their values."""
    names: set[str] = set()
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, DirectiveNode) and node.name.value in ("skip", "include"):
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    names.add(argument.value.name.value)
            continue
        for key in node.keys:
            value = getattr(node, key, None)
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, tuple | list):
                stack.extend(item for item in value if isinstance(item, Node))
    return tuple(sorted(names))
