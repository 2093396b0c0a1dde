"""Compile an operation into a plan: per level, what to read and how to write each field.

Covered: queries whose root fields are `user(id)`, `viewer`, `product(id)`, `order(id)`
and the root connections `users`, `orders`, `products` (with first/after/last/before;
`filter` and `orderBy` take the executor); below them the columns of User, Order,
OrderItem and Product, their `id`, `User.orders(first after last before)`,
`Order.items`, `Order.itemCount`, `OrderItem.product`, connections' `edges`,
`pageInfo` and `totalCount`, edges' `cursor` and `node`, and `__typename` anywhere.
Aliases, fragments, inline fragments and @skip/@include are collected as graphql-core
collects them. Anything else raises Unplannable and the document runs through the
executor: other fields, field extensions and permission classes (which run only
inside the executor), @defer/@stream and other directives, mutations and subscriptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_argument_values,
)
from strawberry.types.field import StrawberryField

from app.graphql.connections import LIST_SPEC, ListSpec
from app.graphql.lookahead import reaches
from app.graphql.plan import reads
from app.graphql.plan.collect import Fields, Unplannable, collect
from app.graphql.plan.fields import leaf_reader
from app.graphql.plan.state import Fetch, Prepare, State, Writer

_LOOKUPS = ("user", "viewer", "product", "order")
_ENTITIES = ("User", "Order", "Product")


@dataclass(slots=True)
class Level:
    """How to write one object of a type, and what to read for a level of them."""

    ops: list[tuple[str, Writer]]
    fetches: list[Fetch]

    def write(self, value: Any, state: State) -> dict[str, Any]:
        return {key: op(value, state) for key, op in self.ops}

    async def fetch(self, values: list[Any], state: State) -> None:
        if not values or not self.fetches:
            return
        if len(self.fetches) == 1:
            await self.fetches[0](values, state)
        else:
            await asyncio.gather(*(fetch(values, state) for fetch in self.fetches))


@dataclass(slots=True)
class Root:
    prepare: list[Prepare]
    fetch: Fetch | None
    write: Writer


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Any,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.prepares: list[Prepare] = []

    def collect(self, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> Fields:
        sets = [node.selection_set for node in nodes if node.selection_set is not None]
        return collect(self.schema, object_type, sets, self.fragments, self.variables)

    def root(self, operation: OperationDefinitionNode) -> list[tuple[str, Root]]:
        if operation.operation is not OperationType.QUERY:
            raise Unplannable("not a query")
        query = self.schema.query_type
        assert query is not None
        fields = collect(
            self.schema, query, [operation.selection_set], self.fragments, self.variables
        )
        roots: list[tuple[str, Root]] = []
        for key, nodes in fields.items():
            self.prepares = []
            name = nodes[0].name.value
            if name == "__typename":
                roots.append((key, Root([], None, _constant(query.name))))
                continue
            field = _field(query, name)
            spec = _definition(field).metadata.get(LIST_SPEC)
            if isinstance(spec, ListSpec):
                fetch, write = self.root_connection(field, nodes, spec)
            elif name in _LOOKUPS:
                fetch, write = self.lookup(field, nodes, name)
            else:
                raise Unplannable(f"Query.{name}")
            roots.append((key, Root(self.prepares, fetch, write)))
        return roots

    def lookup(
        self, field: GraphQLField, nodes: list[FieldNode], name: str
    ) -> tuple[Fetch, Writer]:
        object_type = _object(field.type)
        level = self.level(object_type, nodes)
        slot = id(nodes[0])
        node = nodes[0]

        def prepare(state: State) -> None:
            arguments = get_argument_values(field, node, state.variables)
            state.prepared[slot] = reads.prepare_lookup(state, name, arguments)

        self.prepares.append(prepare)

        async def fetch(_: list[Any], state: State) -> None:
            record = await reads.lookup(state, name, state.prepared[slot])
            state.values[slot] = record
            if record is not None:
                await level.fetch([record], state)

        def write(_: Any, state: State) -> Any:
            record = state.values[slot]
            return None if record is None else level.write(record, state)

        return fetch, write

    def root_connection(
        self, field: GraphQLField, nodes: list[FieldNode], spec: ListSpec
    ) -> tuple[Fetch, Writer]:
        if spec.entity not in _ENTITIES or (spec.has_prefetch and spec.entity != "Order"):
            raise Unplannable(f"Query list of {spec.entity}")
        write, levels, counted = self.connection(_object(field.type), nodes)
        slot = id(nodes[0])
        node = nodes[0]
        lines = _lines(nodes, self.fragments) if spec.has_prefetch else None

        def prepare(state: State) -> None:
            arguments = get_argument_values(field, node, state.variables)
            state.prepared[slot] = reads.prepare_root_page(state, spec, arguments)

        self.prepares.append(prepare)

        async def fetch(_: list[Any], state: State) -> None:
            connection = await reads.root_page(state, spec, state.prepared[slot])
            state.values[slot] = connection
            rows = [edge.node for edge in connection.edges]
            if lines is not None:
                await reads.prefetch_lines(state, rows, items=lines[0], products=lines[1])
            await _after_page(state, [connection], rows, levels, counted)

        def write_root(_: Any, state: State) -> Any:
            return write(state.values[slot], state)

        return fetch, write_root

    def connection(
        self, connection_type: GraphQLObjectType, nodes: list[FieldNode]
    ) -> tuple[Writer, list[Level], bool]:
        """A connection's writer, the levels of its nodes, and whether it is counted."""
        levels: list[Level] = []
        ops: list[tuple[str, Writer]] = []
        counted = False
        for key, fields in self.collect(connection_type, nodes).items():
            name = fields[0].name.value
            if name == "__typename":
                ops.append((key, _constant(connection_type.name)))
            elif name == "totalCount":
                counted = True
                ops.append((key, _count))
            elif name == "pageInfo":
                info_type = _object(connection_type.fields[name].type)
                ops.append((key, _page_info(self.page_info(info_type, fields))))
            elif name == "edges":
                edge_type = _object(connection_type.fields[name].type)
                edge_level, node_level = self.edge(edge_type, fields)
                levels.append(node_level)
                ops.append((key, _list_of(edge_level)))
            else:
                raise Unplannable(f"{connection_type.name}.{name}")
        level = Level(ops, [])
        return level.write, levels, counted

    def page_info(self, info_type: GraphQLObjectType, nodes: list[FieldNode]) -> Writer:
        ops: list[tuple[str, Writer]] = []
        for key, fields in self.collect(info_type, nodes).items():
            name = fields[0].name.value
            attribute = _PAGE_INFO.get(name)
            if name == "__typename":
                ops.append((key, _constant(info_type.name)))
            elif attribute is not None:
                ops.append((key, _attribute(attribute)))
            else:
                raise Unplannable(f"PageInfo.{name}")
        return Level(ops, []).write

    def edge(self, edge_type: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[Level, Level]:
        ops: list[tuple[str, Writer]] = []
        node_type = _object(edge_type.fields["node"].type)
        collected = self.collect(edge_type, nodes)
        node_keys = [key for key, fields in collected.items() if fields[0].name.value == "node"]
        if len(node_keys) > 1:
            raise Unplannable("node under two aliases")
        node_level = self.level(node_type, collected[node_keys[0]]) if node_keys else Level([], [])
        for key, fields in collected.items():
            name = fields[0].name.value
            if name == "__typename":
                ops.append((key, _constant(edge_type.name)))
            elif name == "cursor":
                ops.append((key, _attribute("encoded_cursor")))
            elif name == "node":
                ops.append((key, _edge_node(node_level)))
            else:
                raise Unplannable(f"{edge_type.name}.{name}")
        return Level(ops, []), node_level

    def level(self, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> Level:
        """The writer of `object_type`'s objects and the reads its children need."""
        if object_type.name not in ("User", "Order", "OrderItem", "Product"):
            raise Unplannable(object_type.name)
        ops: list[tuple[str, Writer]] = []
        fetches: list[Fetch] = []
        items_levels: list[Level] = []
        for key, fields in self.collect(object_type, nodes).items():
            name = fields[0].name.value
            if name == "__typename":
                ops.append((key, _constant(object_type.name)))
                continue
            field = _field(object_type, name)
            leaf = leaf_reader(object_type, name)
            if leaf is not None:
                ops.append((key, leaf))
            elif object_type.name == "User" and name == "orders":
                write, fetch = self.user_orders(field, fields)
                ops.append((key, write))
                fetches.append(fetch)
            elif object_type.name == "Order" and name == "items":
                item_level = self.level(_object(field.type), fields)
                items_levels.append(item_level)
                ops.append((key, _items(item_level)))
            elif object_type.name == "Order" and name == "itemCount":
                items_levels.append(Level([], []))
                ops.append((key, _item_count))
            elif object_type.name == "OrderItem" and name == "product":
                ops.append((key, _product(self.level(_object(field.type), fields))))
            else:
                raise Unplannable(f"{object_type.name}.{name}")
        if items_levels:
            with_products = any(_selects_product(level) for level in items_levels)
            fetches.append(_order_lines(with_products, items_levels))
        return Level(ops, fetches)

    def user_orders(self, field: GraphQLField, nodes: list[FieldNode]) -> tuple[Writer, Fetch]:
        write, levels, counted = self.connection(_object(field.type), nodes)
        slot = id(nodes[0])
        node = nodes[0]
        wants_items, wants_products = _lines(nodes, self.fragments)

        def prepare(state: State) -> None:
            arguments = get_argument_values(field, node, state.variables)
            state.prepared[slot] = reads.prepare_user_orders(state, arguments)

        self.prepares.append(prepare)

        async def fetch(users: list[Any], state: State) -> None:
            connections = await reads.user_orders(
                state,
                [user.id for user in users],
                state.prepared[slot],
                items=wants_items,
                products=wants_products,
            )
            for user, connection in zip(users, connections, strict=True):
                state.values[(slot, user.id)] = connection
            rows = [edge.node for connection in connections for edge in connection.edges]
            await _after_page(state, connections, rows, levels, counted)

        def write_orders(user: Any, state: State) -> Any:
            return write(state.values[(slot, user.id)], state)

        return write_orders, fetch


_PAGE_INFO = {
    "hasNextPage": "has_next_page",
    "hasPreviousPage": "has_previous_page",
    "startCursor": "start_cursor",
    "endCursor": "end_cursor",
}


async def _after_page(
    state: State, connections: list[Any], rows: list[Any], levels: list[Level], counted: bool
) -> None:
    """A page's totalCount when selected, then the next level for its nodes."""
    if counted:
        counts = await asyncio.gather(*(connection.count() for connection in connections))
        for connection, count in zip(connections, counts, strict=True):
            state.counts[id(connection)] = count
    for level in levels:
        await level.fetch(rows, state)


def _lines(
    nodes: list[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> tuple[bool, bool]:
    """What the resolvers would prefetch for a page of orders: they look ahead over the
    syntax (app.graphql.lookahead), not the collected fields, so the plan does too."""
    items = reaches(nodes, ("edges", "node", "items"), fragments) or reaches(
        nodes, ("edges", "node", "itemCount"), fragments
    )
    return items, reaches(nodes, ("edges", "node", "items", "product"), fragments)


def _selects_product(level: Level) -> bool:
    return any(getattr(op, "selects_product", False) for _, op in level.ops)


def _order_lines(with_products: bool, levels: list[Level]) -> Fetch:
    """Orders' items (and products) that no page prefetched, as their resolvers load
    them; then the items' own level."""

    async def fetch(orders: list[Any], state: State) -> None:
        await reads.fill_lines(state, orders, products=with_products)
        items = [item for order in orders for item in state.items[order.id]]
        for level in levels:
            await level.fetch(items, state)

    return fetch


def _field(object_type: GraphQLObjectType, name: str) -> GraphQLField:
    field: GraphQLField | None = object_type.fields.get(name)
    if field is None:
        raise Unplannable(f"{object_type.name}.{name}")
    definition = _definition(field)
    if definition.permission_classes or definition.extensions:
        raise Unplannable(f"{object_type.name}.{name} has extensions")
    return field


def _definition(field: GraphQLField) -> StrawberryField:
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField):
        raise Unplannable("not a Strawberry field")
    return definition


def _object(type_: GraphQLOutputType) -> GraphQLObjectType:
    """The object type of a field typed T, T!, [T!] or [T!]!."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLObjectType):
        raise Unplannable(str(type_))
    return type_


def _constant(value: str) -> Writer:
    return lambda _, __: value


def _count(connection: Any, state: State) -> Any:
    return state.counts[id(connection)]


def _attribute(name: str) -> Writer:
    def read(value: Any, _: State) -> Any:
        return getattr(value, name)

    return read


def _page_info(write: Writer) -> Writer:
    def page_info(connection: Any, state: State) -> Any:
        return write(connection.page_info, state)

    return page_info


def _list_of(level: Level) -> Writer:
    write = level.write

    def edges(connection: Any, state: State) -> Any:
        return [write(edge, state) for edge in connection.edges]

    return edges


def _edge_node(level: Level) -> Writer:
    write = level.write

    def node(edge: Any, state: State) -> Any:
        return write(edge.node, state)

    return node


def _items(level: Level) -> Writer:
    write = level.write

    def items(order: Any, state: State) -> Any:
        return [write(item, state) for item in state.items[order.id]]

    return items


def _item_count(order: Any, state: State) -> Any:
    return sum(item.quantity for item in state.items[order.id])


def _product(level: Level) -> Writer:
    """Order lines share products: each is written once per selection and request."""
    write = level.write
    slot = id(level)

    def product(item: Any, state: State) -> Any:
        key = (slot, item.product_id)
        written = state.written.get(key)
        if written is None:
            found = state.products.get(item.product_id)
            if found is None:
                raise reads.Fallback("an item without its product")
            written = state.written[key] = write(found, state)
        return written

    product.selects_product = True  # type: ignore[attr-defined]
    return product
