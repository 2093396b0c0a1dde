"""Documents generated from the schema by hypothesis-graphql answer the same through the
planned read path as through the executor, for every viewer.

The documents come from the part of the schema the plan covers (checked against the
real schema below), with a few fields it does not cover mixed in, so that generated
documents take both paths; ids and cursors are drawn from the data and from junk.
PLAN_GENERATED (environment, tests only) sets how many documents per viewer.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema

from app.graphql.schema import print_schema
from app.settings import Settings
from tests.plan.differential import VIEWERS, Pair, pair

PER_VIEWER = int(os.environ.get("PLAN_GENERATED", "800"))  # x2 sets x3 viewers: ~4,800

_PAGE = "first: Int = null, after: String = null, last: Int = null, before: String = null"
COVERED = f"""
scalar DateTime
scalar Money
interface Node {{ id: ID! }}
enum Role {{ USER ADMIN }}
enum OrderStatus {{ PENDING PAID SHIPPED DELIVERED CANCELLED }}
type Query {{
  user(id: ID!): User
  viewer: User
  product(id: ID!): Product
  order(id: ID!): Order
  users({_PAGE}): UserConnection!
  orders({_PAGE}): OrderConnection!
  products({_PAGE}): ProductConnection!
}}
type PageInfo {{
  hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String
}}
type User implements Node {{
  id: ID! email: String! name: String! role: Role! createdAt: DateTime!
  updatedAt: DateTime! version: Int! orders({_PAGE}): OrderConnection!
}}
type Order implements Node {{
  id: ID! status: OrderStatus! total: Money! createdAt: DateTime! updatedAt: DateTime!
  version: Int! items: [OrderItem!]! itemCount: Int! user: User!
}}
type OrderItem implements Node {{
  id: ID! quantity: Int! unitPrice: Money! product: Product!
}}
type Product implements Node {{
  id: ID! sku: String! name: String! description: String! price: Money! stock: Int!
  createdAt: DateTime! updatedAt: DateTime! version: Int!
}}
type UserConnection {{ edges: [UserEdge!]! pageInfo: PageInfo! totalCount: Int! }}
type UserEdge {{ cursor: String! node: User! }}
type OrderConnection {{ edges: [OrderEdge!]! pageInfo: PageInfo! totalCount: Int! }}
type OrderEdge {{ cursor: String! node: Order! }}
type ProductConnection {{ edges: [ProductEdge!]! pageInfo: PageInfo! totalCount: Int! }}
type ProductEdge {{ cursor: String! node: Product! }}
"""


# The same types with only what the plan serves and values that work (ids and cursors
# from the data, page sizes in range, no Order.user): most of these documents are
# answered by the plan, so most of them compare the plan with the executor. COVERED's
# documents, with junk and every argument, mostly end up in the executor on both sides.
# Each lookup takes an id of its own type (a product's id to `order` is an error, which
# sends the whole document to the executor); the scalars print as the string literals
# they are, and the real schema reads them as ID.
TYPED_IDS = {"UserID": "User", "ProductID": "Product", "OrderID": "Order"}
SERVED = COVERED.replace(_PAGE, "first: Int = null, after: String = null").replace(
    " user: User!\n", "\n"
).replace("user(id: ID!)", "user(id: UserID!)").replace(
    "product(id: ID!)", "product(id: ProductID!)"
).replace("order(id: ID!)", "order(id: OrderID!)") + "".join(
    f"scalar {name}\n" for name in TYPED_IDS
)


@pytest.mark.parametrize("sdl", [COVERED, SERVED], ids=["covered", "served"])
def test_the_covered_schema_is_part_of_the_real_one(sdl: str) -> None:
    """Every field of COVERED exists in the real schema with the same type and
    arguments, so a document valid here is valid there."""
    real = graphql.build_schema(print_schema(Settings()))
    covered = graphql.build_schema(sdl)
    for name, type_ in covered.type_map.items():
        if name.startswith("__") or not isinstance(type_, graphql.GraphQLObjectType):
            continue
        real_type = real.get_type(name)
        assert isinstance(real_type, graphql.GraphQLObjectType), name
        for field_name, field in type_.fields.items():
            real_field = real_type.fields[field_name]
            assert str(real_field.type) == str(field.type), (name, field_name)
            for argument, value in field.args.items():
                asked = str(value.type)
                for typed in TYPED_IDS:
                    asked = asked.replace(typed, "ID")
                assert str(real_field.args[argument].type) == asked


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _documents(ids: list[str], cursors: list[str], count: int, *, served: bool) -> list[str]:
    junk_ids = [] if served else ["junk", ""]
    junk_sizes = [] if served else [0, 101, -1]
    typed = {
        name: st.sampled_from(
            [i for i in ids if base64.b64decode(i).decode().startswith(f"{kind}:")] or ids
        ).map(_string)
        for name, kind in TYPED_IDS.items()
    }
    strategy = from_schema(
        SERVED if served else COVERED,
        custom_scalars={
            **(typed if served else {}),
            "ID": st.sampled_from([*ids, *junk_ids]).map(_string),
            "String": st.sampled_from([*cursors, *junk_ids[:1]]).map(_string),
            # Mostly sizes in range; an error anywhere sends the document to the executor.
            "Int": st.sampled_from([1, 2, 3, 5, 1, 2, 3, *junk_sizes]).map(
                lambda n: graphql.IntValueNode(value=str(n))
            ),
        },
    )
    found: dict[str, None] = {}

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(document: Any) -> None:
        found[str(document)] = None

    draw()
    return list(found)


@pytest.fixture(scope="module")
async def compared(seeded_url: str) -> AsyncIterator[Pair]:
    # No field cache: over the minutes of a run a cached entry can expire between the
    # two apps' requests, and the statements compared would then differ by a cache miss,
    # not by the path. The corpus (test_corpus.py) runs with the cache and its scopes.
    async with pair(seeded_url, field_cache=False) as found:
        yield found


async def _samples(compared: Pair) -> tuple[list[str], list[str]]:
    outcome = await compared.send(
        compared.executor,
        "admin",
        """{ users(first: 3) { edges { cursor node { id
             orders(first: 2) { edges { cursor node { id items { id product { id } } } } } } } }
           products(first: 2) { edges { cursor node { id } } } }""",
        None,
    )
    data = outcome.body[1]["data"]
    ids, cursors = [], []
    for user in data["users"]["edges"]:
        ids.append(user["node"]["id"])
        cursors.append(user["cursor"])
        for order in user["node"]["orders"]["edges"]:
            ids.append(order["node"]["id"])
            cursors.append(order["cursor"])
            ids.extend(item["product"]["id"] for item in order["node"]["items"])
    for product in data["products"]["edges"]:
        ids.append(product["node"]["id"])
        cursors.append(product["cursor"])
    return ids, cursors


@pytest.mark.parametrize("served", [False, True], ids=["covered", "served"])
@pytest.mark.parametrize("viewer", VIEWERS)
async def test_generated_documents_answer_as_the_executor_does(
    compared: Pair, viewer: str, served: bool
) -> None:
    ids, cursors = await _samples(compared)
    documents = _documents(ids, cursors, PER_VIEWER, served=served)
    paths = [await compared.compare(viewer, document) for document in documents]
    print(f"{viewer}: {len(documents)} documents, {paths.count('plan')} planned")
    if viewer == "admin":  # anonymous callers may read products only: mostly refused
        # Generated documents really take the plan (many do), not the executor twice.
        assert paths.count("plan") > len(documents) // (3 if served else 20)
