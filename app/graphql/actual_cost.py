"""The cost a result actually had: app.graphql.cost's sums, each list counted by the
items it holds instead of its estimated size. One walk over the result, made only for a
request that asks for `extensions.cost`."""

from __future__ import annotations

import math
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
)

from app.graphql.cost import CostModel, operation_of, root_of


class _Actual:
    """The same sums over a result: each list counts the items it holds."""

    def __init__(self, model: CostModel, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.model = model
        self.fragments = fragments

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, value: dict[str, Any]
    ) -> float:
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                if key in value:
                    total += self.field(selection, parent, value[key])
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            else:  # pragma: no cover
                continue
            target = self.model.schema.get_type(condition.name.value) if condition else parent
            if target is None:
                continue
            typename = value.get("__typename")
            if isinstance(target, GraphQLObjectType) and typename not in (None, target.name):
                continue
            total += self.selections(inner, target, value)
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType, value: Any) -> float:
        if node.name.value.startswith("__"):
            return 0.0
        model = self.model.field(parent, node.name.value)
        if model is None or value is None:
            return model.weight if model is not None else 0.0
        items = value if isinstance(value, list) else [value]
        total = model.weight
        for item in items:
            total += model.type_weight
            if node.selection_set is not None and isinstance(item, dict):
                total += self.selections(node.selection_set, model.type, item)
        return total


def actual(
    model: CostModel, document: DocumentNode, *, operation_name: str | None, data: Any
) -> int | None:
    """What a result cost by the same rules, each list counted by the items it holds
    rather than its size's estimate: one walk over the result."""
    operation = operation_of(document, operation_name)
    if operation is None or not isinstance(data, dict):
        return None
    root = root_of(model, operation)
    if root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return math.ceil(_Actual(model, fragments).selections(operation.selection_set, root, data))


__all__ = ["actual"]
