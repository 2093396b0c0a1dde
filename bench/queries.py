"""The bench's queries, each as ordergraph, PostGraphile and the database floor ask it.

Each peer's answer is normalised to one common shape (ids as UUID strings, money as
Decimal, times as datetimes, statuses lower-case) so the suite can refuse a faster
wrong answer. Orderings match ordergraph's defaults: users and products oldest first,
orders newest first, ties broken by id in the same direction.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from app.queries import orders
from app.queries.keyset import CursorCodec, Ordering

Body = dict[str, Any]
Post = Callable[[Body], Awaitable[Any]]
"""Sends a body to the peer under test and returns the response's `data`."""

HEAVY = (Path(__file__).parent / "heavy.graphql").read_text()
FIRST, ORDERS = 50, 10
SAMPLE_IDS = 1000
DEEP_OFFSET = 50_000


@dataclass(frozen=True)
class Ask:
    """How one GraphQL peer asks a query: its request bodies, and how to read an answer."""

    bodies: Callable[[Post], Awaitable[list[Body]]]
    normalise: Callable[[Any], Any]


@dataclass(frozen=True)
class Floor:
    """The same answer from one hand-written statement; one argument tuple per body."""

    sql: str
    args: list[tuple[Any, ...]]
    normalise: Callable[[Any], Any]


@dataclass(frozen=True)
class Query:
    name: str
    ordergraph: Ask
    postgraphile: Ask | None
    floor: Floor
    cached: bool = False
    """Made of cached fields: ordergraph also runs it with the field cache off (cold)."""


def fixed(*bodies: Body) -> Callable[[Post], Awaitable[list[Body]]]:
    async def given(_: Post) -> list[Body]:
        return list(bodies)

    return given


def relay_pk(global_id: str) -> str:
    """The primary key inside an ordergraph global ID (base64 of "Type:uuid")."""
    return base64.urlsafe_b64decode(global_id).decode().partition(":")[2]


def node_pk(node_id: str) -> str:
    """The primary key inside a PostGraphile node ID (base64 of ["Type", "uuid"])."""
    return str(json.loads(base64.b64decode(node_id))[-1])


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def floor_json(raw: str) -> Any:
    return json.loads(raw, parse_float=Decimal)


# -- user(id) point lookups -------------------------------------------------------------

USER_OG = "query User($id: ID!) { user(id: $id) { email name } }"
USER_PG = "query User($id: UUID!) { user(rowId: $id) { email name } }"
USER_FLOOR = "SELECT json_build_object('email', email, 'name', name) FROM users WHERE id = $1"


def _point(ids: list[uuid.UUID]) -> Query:
    def read(user: dict[str, Any]) -> tuple[str, str]:
        return user["email"], user["name"]

    return Query(
        name="user(id)",
        ordergraph=Ask(
            fixed(*({"query": USER_OG, "variables": {"id": _global("User", pk)}} for pk in ids)),
            lambda data: read(data["user"]),
        ),
        postgraphile=Ask(
            fixed(*({"query": USER_PG, "variables": {"id": str(pk)}} for pk in ids)),
            lambda data: read(data["user"]),
        ),
        floor=Floor(USER_FLOOR, [(pk,) for pk in ids], lambda raw: read(floor_json(raw))),
    )


def _global(type_name: str, pk: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


# -- products(first: 50) --------------------------------------------------------------

PRODUCTS_OG = "{ products(first: 50) { edges { node { id sku name price stock } } } }"
PRODUCTS_PG = """{ products(first: 50, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) {
  edges { node { id sku name price stock } } } }"""
PRODUCTS_FLOOR = """
SELECT json_agg(json_build_object('id', id, 'sku', sku, 'name', name, 'price', price,
  'stock', stock) ORDER BY created_at, id)
FROM (SELECT * FROM products ORDER BY created_at, id LIMIT 50) p
"""


def _products(pk: Callable[[str], str]) -> Callable[[Any], Any]:
    def normalise(data: Any) -> Any:
        return [
            (pk(n["id"]), n["sku"], n["name"], money(n["price"]), n["stock"])
            for n in (edge["node"] for edge in data["products"]["edges"])
        ]

    return normalise


PRODUCTS = Query(
    name="products(first: 50)",
    ordergraph=Ask(fixed({"query": PRODUCTS_OG}), _products(relay_pk)),
    postgraphile=Ask(fixed({"query": PRODUCTS_PG}), _products(node_pk)),
    floor=Floor(
        PRODUCTS_FLOOR,
        [()],
        lambda raw: _products(str)({"products": {"edges": [{"node": p} for p in floor_json(raw)]}}),
    ),
    # A cached field in ordergraph: also run with the field cache off, which measures
    # the read path rather than the cache.
    cached=True,
)

# -- users(first: 20) { orders(first: 10) } ---------------------------------------------

USERS_OG = """{ users(first: 20) { edges { node { email name
  orders(first: 10) { edges { node { status total } } } } } } }"""
USERS_PG = """{ users(first: 20, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) {
  edges { node { email name
    orders(first: 10, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {
      edges { node { status total } } } } } } }"""
USERS_FLOOR = """
SELECT json_agg(json_build_object('email', u.email, 'name', u.name, 'orders', (
  SELECT coalesce(json_agg(json_build_object('status', o.status, 'total', o.total)
    ORDER BY o.created_at DESC, o.id DESC), '[]')
  FROM (SELECT * FROM orders WHERE user_id = u.id
        ORDER BY created_at DESC, id DESC LIMIT 10) o)) ORDER BY u.created_at, u.id)
FROM (SELECT * FROM users ORDER BY created_at, id LIMIT 20) u
"""


def _users_graphql(data: Any) -> Any:
    return [
        (
            node["email"],
            node["name"],
            [
                (o["node"]["status"].lower(), money(o["node"]["total"]))
                for o in node["orders"]["edges"]
            ],
        )
        for node in (edge["node"] for edge in data["users"]["edges"])
    ]


USERS = Query(
    name="users{orders}",
    ordergraph=Ask(fixed({"query": USERS_OG}), _users_graphql),
    postgraphile=Ask(fixed({"query": USERS_PG}), _users_graphql),
    floor=Floor(
        USERS_FLOOR,
        [()],
        lambda raw: [
            (u["email"], u["name"], [(o["status"], money(o["total"])) for o in u["orders"]])
            for u in floor_json(raw)
        ],
    ),
)

# -- Heavy ----------------------------------------------------------------------------

HEAVY_PG = """query Heavy($first: Int!, $orders: Int!) {
  users(first: $first, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      rowId email name
      orders(first: $orders, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {
        edges { node {
          rowId status total createdAt
          orderItems(orderBy: [LINE_ASC]) { nodes { quantity unitPrice
            product { rowId sku name price } } }
        } }
      }
    } }
  }
}"""
HEAVY_FLOOR = """
SELECT json_build_object('totalCount', (SELECT count(*) FROM users),
  'hasNextPage', (SELECT count(*) FROM users) > $1, 'users', (
  SELECT json_agg(json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'orders', (
    SELECT coalesce(json_agg(json_build_object('id', o.id, 'status', o.status,
      'total', o.total, 'createdAt', o.created_at, 'items', (
      SELECT coalesce(json_agg(json_build_object('quantity', i.quantity,
        'unitPrice', i.unit_price, 'product', json_build_object('id', p.id, 'sku', p.sku,
        'name', p.name, 'price', p.price)) ORDER BY i.line), '[]')
      FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = o.id))
      ORDER BY o.created_at DESC, o.id DESC), '[]')
    FROM (SELECT * FROM orders WHERE user_id = u.id
          ORDER BY created_at DESC, id DESC LIMIT $2) o))
    ORDER BY u.created_at, u.id)
  FROM (SELECT * FROM users ORDER BY created_at, id LIMIT $1) u))
"""


@dataclass(frozen=True)
class _HeavyShape:
    """Where each peer keeps the Heavy query's parts."""

    pk: Callable[[dict[str, Any]], str]
    users: Callable[[Any], list[dict[str, Any]]]
    orders: Callable[[dict[str, Any]], list[dict[str, Any]]]
    items: Callable[[dict[str, Any]], list[dict[str, Any]]]

    def normalise(self, total: int, has_next: bool, data: Any) -> Any:
        def product(p: dict[str, Any]) -> Any:
            return self.pk(p), p["sku"], p["name"], money(p["price"])

        return (
            total,
            has_next,
            [
                (
                    self.pk(user),
                    user["email"],
                    user["name"],
                    [
                        (
                            self.pk(order),
                            order["status"].lower(),
                            money(order["total"]),
                            moment(order["createdAt"]),
                            [
                                (i["quantity"], money(i["unitPrice"]), product(i["product"]))
                                for i in self.items(order)
                            ],
                        )
                        for order in self.orders(user)
                    ],
                )
                for user in self.users(data)
            ],
        )


def _edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


_HEAVY_OG = _HeavyShape(
    pk=lambda n: relay_pk(n["id"]),
    users=lambda data: _edges(data["users"]),
    orders=lambda user: _edges(user["orders"]),
    items=lambda order: list(order["items"]),
)
_HEAVY_PG = _HeavyShape(
    pk=lambda n: str(n["rowId"]),
    users=lambda data: _edges(data["users"]),
    orders=lambda user: _edges(user["orders"]),
    items=lambda order: list(order["orderItems"]["nodes"]),
)
_HEAVY_FLOOR = _HeavyShape(
    pk=lambda n: str(n["id"]),
    users=lambda data: list(data["users"]),
    orders=lambda user: list(user["orders"]),
    items=lambda order: list(order["items"]),
)


def _heavy_graphql(shape: _HeavyShape) -> Callable[[Any], Any]:
    def normalise(data: Any) -> Any:
        users = data["users"]
        return shape.normalise(users["totalCount"], users["pageInfo"]["hasNextPage"], data)

    return normalise


def _heavy_floor(raw: str) -> Any:
    data = floor_json(raw)
    return _HEAVY_FLOOR.normalise(data["totalCount"], data["hasNextPage"], data)


_HEAVY_VARIABLES = {"first": FIRST, "orders": ORDERS}
HEAVY_QUERY = Query(
    name="heavy",
    ordergraph=Ask(
        fixed({"query": HEAVY, "variables": _HEAVY_VARIABLES}), _heavy_graphql(_HEAVY_OG)
    ),
    postgraphile=Ask(
        fixed({"query": HEAVY_PG, "variables": _HEAVY_VARIABLES}), _heavy_graphql(_HEAVY_PG)
    ),
    floor=Floor(HEAVY_FLOOR, [(FIRST, ORDERS)], _heavy_floor),
)

# -- keyset paging deep into orders, with totalCount --------------------------------------

DEEP_OG = """query Deep($after: String!) { orders(first: 20, after: $after) {
  totalCount edges { node { status total createdAt } } } }"""
DEEP_PG = """query Deep($after: Cursor!) {
  orders(first: 20, after: $after, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {
    totalCount edges { node { status total createdAt } } } }"""
DEEP_PG_CURSOR = """query Cursor($offset: Int!) {
  orders(first: 1, offset: $offset, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {
    edges { cursor } } }"""
DEEP_FLOOR = """
SELECT json_build_object('totalCount', (SELECT count(*) FROM orders), 'orders', (
  SELECT coalesce(json_agg(json_build_object('status', o.status, 'total', o.total,
    'createdAt', o.created_at) ORDER BY o.created_at DESC, o.id DESC), '[]')
  FROM (SELECT * FROM orders WHERE (created_at, id) < ($1, $2)
        ORDER BY created_at DESC, id DESC LIMIT 20) o))
"""


def _deep(data: Any) -> Any:
    connection = data["orders"]
    return connection["totalCount"], [
        (n["status"].lower(), money(n["total"]), moment(n["createdAt"])) for n in _edges(connection)
    ]


def _deep_query(offset: int, created_at: datetime, order_id: uuid.UUID) -> Query:
    codec = CursorCodec("Order", Ordering(orders.SORT_KEYS["CREATED_AT"], descending=True))
    cursor = codec.encode(created_at, order_id)

    async def postgraphile_bodies(post: Post) -> list[Body]:
        found = await post({"query": DEEP_PG_CURSOR, "variables": {"offset": offset - 1}})
        after = found["orders"]["edges"][0]["cursor"]
        return [{"query": DEEP_PG, "variables": {"after": after}}]

    def floor(raw: str) -> Any:
        data = floor_json(raw)
        return _deep({"orders": {**data, "edges": [{"node": o} for o in data["orders"]]}})

    return Query(
        name="orders deep",
        ordergraph=Ask(fixed({"query": DEEP_OG, "variables": {"after": cursor}}), _deep),
        postgraphile=Ask(postgraphile_bodies, _deep),
        floor=Floor(DEEP_FLOOR, [(created_at, order_id)], floor),
    )


# -- cached fields: topProducts and a products search with salesStats ----------------------

CACHED = """{
  topProducts(limit: 10) { product { sku name } sales { unitsSold revenue } }
  products(first: 20, filter: { search: "steel" }) {
    totalCount
    edges { node { sku price salesStats { unitsSold revenue orderCount } } }
  }
}"""
CACHED_FLOOR = """
WITH found AS (
  SELECT * FROM products WHERE search_vector @@ websearch_to_tsquery('english', 'steel')
)
SELECT json_build_object(
  'top', (SELECT json_agg(json_build_object('sku', p.sku, 'name', p.name, 'units', s.units,
      'revenue', s.revenue) ORDER BY s.units DESC, s.revenue DESC, s.product_id)
    FROM (SELECT i.product_id, sum(i.quantity) AS units,
            sum(i.quantity * i.unit_price) AS revenue
          FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE o.status <> 'cancelled' GROUP BY i.product_id
          ORDER BY units DESC, revenue DESC, i.product_id LIMIT 10) s
    JOIN products p ON p.id = s.product_id),
  'totalCount', (SELECT count(*) FROM found),
  'search', (SELECT coalesce(json_agg(json_build_object('sku', f.sku, 'price', f.price,
      'units', s.units, 'revenue', s.revenue, 'orders', s.orders)
      ORDER BY f.created_at, f.id), '[]')
    FROM (SELECT * FROM found ORDER BY created_at, id LIMIT 20) f
    CROSS JOIN LATERAL (SELECT coalesce(sum(i.quantity), 0) AS units,
        coalesce(sum(i.quantity * i.unit_price), 0) AS revenue,
        count(DISTINCT i.order_id) AS orders
      FROM order_items i JOIN orders o ON o.id = i.order_id
      WHERE i.product_id = f.id AND o.status <> 'cancelled') s))
"""


def _cached_og(data: Any) -> Any:
    top = [
        (
            t["product"]["sku"],
            t["product"]["name"],
            t["sales"]["unitsSold"],
            money(t["sales"]["revenue"]),
        )
        for t in data["topProducts"]
    ]
    found = [
        (
            n["sku"],
            money(n["price"]),
            n["salesStats"]["unitsSold"],
            money(n["salesStats"]["revenue"]),
            n["salesStats"]["orderCount"],
        )
        for n in _edges(data["products"])
    ]
    return top, data["products"]["totalCount"], found


def _cached_floor(raw: str) -> Any:
    data = floor_json(raw)
    top = [(t["sku"], t["name"], t["units"], money(t["revenue"])) for t in data["top"]]
    found = [
        (f["sku"], money(f["price"]), f["units"], money(f["revenue"]), f["orders"])
        for f in data["search"]
    ]
    return top, data["totalCount"], found


CACHED_QUERY = Query(
    name="cached fields",
    ordergraph=Ask(fixed({"query": CACHED}), _cached_og),
    postgraphile=None,
    floor=Floor(CACHED_FLOOR, [()], _cached_floor),
    cached=True,
)

NAMES = [
    "user(id)",
    "products(first: 50)",
    "users{orders}",
    "heavy",
    "orders deep",
    "cached fields",
]


async def build(conn: asyncpg.Connection) -> list[Query]:
    """Every query, with its sample ids and deep cursor read from the seeded database."""
    ids = [row["id"] for row in await conn.fetch("SELECT id FROM users ORDER BY id")]
    sample = random.Random(1).sample(ids, min(SAMPLE_IDS, len(ids)))
    total = await conn.fetchval("SELECT count(*) FROM orders")
    offset = min(DEEP_OFFSET, max(total // 2, 1))
    position = await conn.fetchrow(
        "SELECT created_at, id FROM orders ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
        offset - 1,
    )
    assert position is not None, "the bench database has no orders"
    deep = _deep_query(offset, position["created_at"], position["id"])
    return [_point(sample), PRODUCTS, USERS, HEAVY_QUERY, deep, CACHED_QUERY]
