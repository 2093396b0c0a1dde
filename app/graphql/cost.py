"""Static query cost, as the IBM GraphQL Cost Directives specification defines it.

`@cost(weight)` sets what a field (or every field of an object type) costs;
`@listSize(assumedSize, slicingArguments, sizedFields)` says how many items a list field
returns: the largest slicing argument given (`first: 50`; a list argument counts its
items), else the argument's default, else `assumedSize`. With `sizedFields` the size
applies to those child fields (a connection's `edges`), not to the field itself.

A document's cost is the sum over its selections of

    field weight + size * (type weight + children)    (a list field)
    field weight + type weight + children             (any other field)

where a field's weight is its @cost (10 for a mutation's root field, else 0), a type's
weight its @cost (else 1 for an object, interface or union, 0 for a scalar or enum), and
`children` the cost of the field's own selections, its sized fields multiplied by the
size; a list without @listSize holds DEFAULT_LIST_SIZE items. Fragments on different
object types exclude one another, so the dearest of them counts (the others could not
all apply); introspection (`__schema`, `__type`, `__typename`) costs nothing. Directives
that skip fields are ignored: the cost is an upper bound, known before anything runs.

The figure depends only on the document, the operation and the values of variables that
slicing arguments take, so it is computed once per such combination (the validated
document's entry keeps it, app.graphql.documents).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.pyutils import Undefined
from strawberry.schema_directive import Location

DEFAULT_LIST_SIZE = 10
"""Items assumed in a list field that has no @listSize."""
MUTATION_WEIGHT = 10.0


@strawberry.schema_directive(
    name="cost",
    locations=[Location.FIELD_DEFINITION, Location.OBJECT],
    description="What a field, or each field of an object type, costs (IBM GraphQL Cost "
    "Directives); a number.",
)
class Cost:
    weight: str


@strawberry.schema_directive(
    name="listSize",
    locations=[Location.FIELD_DEFINITION],
    description="How many items a list field returns, for its cost: the largest of the "
    "slicing arguments given, else assumedSize; with sizedFields, the size of those child "
    "fields (IBM GraphQL Cost Directives).",
)
class ListSize:
    assumed_size: int | None = None
    slicing_arguments: list[str] | None = None
    sized_fields: list[str] | None = None
    require_one_slicing_argument: bool = True


CONNECTION_SIZE = ListSize(
    assumed_size=20,
    slicing_arguments=["first", "last"],
    sized_fields=["edges"],
    require_one_slicing_argument=False,
)
"""A connection's: `first` or `last`, else the default page size, applied to `edges`."""

COUNT_WEIGHT = "5"
"""A connection's totalCount: a COUNT over the filter, dearer than a field read."""

# Directives that only static analysis reads: the executor's fast path may skip them.
STATIC_DIRECTIVES = (Cost, ListSize)


@dataclass(frozen=True, slots=True)
class FieldModel:
    weight: float
    type_weight: float
    type: GraphQLNamedType
    is_list: bool
    list_size: ListSize | None
    defaults: dict[str, Any]


def _directive(definition: Any, kind: type[Any]) -> Any:
    for directive in getattr(definition, "directives", None) or ():
        if isinstance(directive, kind):
            return directive
    return None


class CostModel:
    """The weights and list sizes of one schema's fields, read once per field."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self._fields: dict[tuple[str, str], FieldModel | None] = {}

    def field(self, parent: GraphQLNamedType, name: str) -> FieldModel | None:
        key = (parent.name, name)
        try:
            return self._fields[key]
        except KeyError:
            model = self._fields[key] = self._read(parent, name)
            return model

    def _read(self, parent: GraphQLNamedType, name: str) -> FieldModel | None:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return None
        field = parent.fields.get(name)
        if field is None:
            return None
        definition = field.extensions.get("strawberry-definition")
        inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        named = get_named_type(field.type)
        cost = _directive(definition, Cost)
        if cost is not None:
            weight = float(cost.weight)
        else:
            weight = MUTATION_WEIGHT if parent is self.schema.mutation_type else 0.0
        type_cost = _directive(named.extensions.get("strawberry-definition"), Cost)
        if type_cost is not None:
            type_weight = float(type_cost.weight)
        else:
            type_weight = 1.0 if isinstance(named, _COMPOSITE) else 0.0
        defaults = {
            arg: value.default_value
            for arg, value in field.args.items()
            if value.default_value is not Undefined
        }
        return FieldModel(
            weight=weight,
            type_weight=type_weight,
            type=named,
            is_list=isinstance(inner, GraphQLList),
            list_size=_directive(definition, ListSize),
            defaults=defaults,
        )


_COMPOSITE = (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)


@dataclass(slots=True)
class Estimate:
    cost: int
    variables: tuple[str, ...]
    """The variables the figure depends on (those slicing arguments take)."""


class _Walk:
    def __init__(
        self,
        model: CostModel,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.model = model
        self.fragments = fragments
        self.variables = variables
        self.read: dict[str, None] = {}
        self.memo: dict[tuple[str, float, tuple[str, ...]], float] = {}
        self.on_path: set[str] = set()

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        sized: tuple[tuple[str, ...], float] = ((), 1.0),
    ) -> float:
        base = 0.0
        # Fragments on other object types than the parent's: only one of them applies.
        branches: dict[str, float] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                # A sized field (a connection's edges) holds as many items as its parent
                # says; not being a list, it would cost that many times its own.
                if selection.name.value in sized[0]:
                    base += self.field(selection, parent, sized[1])
                else:
                    base += self.field(selection, parent)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.model.schema.get_type(condition.name.value) if condition else parent
                cost = self.selections(selection.selection_set, target, sized) if target else 0.0
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self.on_path:
                    continue
                target = self.model.schema.get_type(fragment.type_condition.name.value)
                if target is None:
                    continue
                key = (name, sized[1], sized[0])
                if key not in self.memo:
                    self.on_path.add(name)
                    self.memo[key] = self.selections(fragment.selection_set, target, sized)
                    self.on_path.discard(name)
                cost = self.memo[key]
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            if target is None or target is parent or not isinstance(target, GraphQLObjectType):
                base += cost
            else:
                branches[target.name] = branches.get(target.name, 0.0) + cost
        return base + max(branches.values(), default=0.0)

    def field(self, node: FieldNode, parent: GraphQLNamedType, size: float | None = None) -> float:
        if node.name.value.startswith("__"):
            return 0.0
        model = self.model.field(parent, node.name.value)
        if model is None:
            return 0.0
        listed = model.list_size
        if size is not None:
            return model.weight + size * (model.type_weight + self.children(node, model))
        if listed is not None and listed.sized_fields:
            sized = (tuple(listed.sized_fields), self.size(node, model))
            children = (
                self.selections(node.selection_set, model.type, sized) if node.selection_set else 0
            )
            return model.weight + model.type_weight + children
        children = self.children(node, model)
        if model.is_list:
            return model.weight + self.size(node, model) * (model.type_weight + children)
        return model.weight + model.type_weight + children

    def children(self, node: FieldNode, model: FieldModel) -> float:
        if node.selection_set is None:
            return 0.0
        return self.selections(node.selection_set, model.type)

    def size(self, node: FieldNode, model: FieldModel) -> float:
        listed = model.list_size
        if listed is None:
            return float(DEFAULT_LIST_SIZE)
        sizes = []
        given = {argument.name.value: argument for argument in node.arguments or ()}
        for name in listed.slicing_arguments or ():
            value = self.value(given[name]) if name in given else _count(model.defaults.get(name))
            if value is not None:
                sizes.append(value)
        if sizes:
            return float(max(sizes))
        return float(listed.assumed_size if listed.assumed_size is not None else DEFAULT_LIST_SIZE)

    def value(self, argument: ArgumentNode) -> int | None:
        node = argument.value
        if isinstance(node, VariableNode):
            name = node.name.value
            self.read[name] = None
            return _count(self.variables.get(name))
        if isinstance(node, IntValueNode):
            return max(int(node.value), 0)
        if isinstance(node, ListValueNode):
            return len(node.values)
        return None


def _count(value: Any) -> int | None:
    """What a slicing argument's value says about a list's size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, list | tuple):
        return len(value)
    return None


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation that runs: the one named, or the only one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    return None


def root_of(model: CostModel, operation: OperationDefinitionNode) -> GraphQLObjectType | None:
    return {
        OperationType.QUERY: model.schema.query_type,
        OperationType.MUTATION: model.schema.mutation_type,
        OperationType.SUBSCRIPTION: model.schema.subscription_type,
    }[operation.operation]


def estimate(
    model: CostModel,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Estimate | None:
    """The cost of a valid document's operation with these variables; None when there is
    no such operation (the executor reports that)."""
    operation = operation_of(document, operation_name)
    if operation is None:
        return None
    root = root_of(model, operation)
    if root is None:
        return None
    values = dict(variables or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if values.get(name) is None and isinstance(definition.default_value, IntValueNode):
            values[name] = int(definition.default_value.value)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(model, fragments, values)
    cost = walk.selections(operation.selection_set, root)
    return Estimate(cost=math.ceil(cost), variables=tuple(walk.read))


__all__ = [
    "CONNECTION_SIZE",
    "DEFAULT_LIST_SIZE",
    "STATIC_DIRECTIVES",
    "Cost",
    "CostModel",
    "Estimate",
    "ListSize",
    "estimate",
    "operation_of",
    "root_of",
]
