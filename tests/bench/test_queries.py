"""Each peer's answer, normalised, compares equal exactly when the data is the same."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from bench.queries import HEAVY_QUERY, PRODUCTS, USERS, Query

PID = "7b0b3c5e-1d2a-4c8b-9a53-8a2f1e0c6d11"
UID = "0f6a5f2c-8f7e-4d1b-b2a0-3c9e0e4a1b22"
OID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c55"


def relay(type_name: str, pk: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


def node(type_name: str, pk: str) -> str:
    return base64.b64encode(json.dumps([type_name, pk]).encode()).decode()


def answers(query: Query, og: Any, pg: Any, floor: Any) -> tuple[Any, Any, Any]:
    assert query.postgraphile is not None
    return (
        query.ordergraph.normalise(og),
        query.postgraphile.normalise(pg),
        query.floor.normalise(json.dumps(floor)),
    )


def product_answers(stock: int = 4) -> tuple[Any, Any, Any]:
    fields = {"sku": "SKU-1", "name": "Steel Mug", "stock": 4}
    return answers(
        PRODUCTS,
        {
            "products": {
                "edges": [{"node": {**fields, "id": relay("Product", PID), "price": "9.90"}}]
            }
        },
        {"products": {"edges": [{"node": {**fields, "id": node("Product", PID), "price": "9.9"}}]}},
        [{**fields, "id": PID, "price": 9.90, "stock": stock}],
    )


def test_products_agree_across_id_and_money_formats() -> None:
    og, pg, floor = product_answers()
    assert og == pg == floor


def test_products_with_different_data_disagree() -> None:
    og, _, floor = product_answers(stock=5)
    assert og != floor


def test_users_orders_agree_whatever_the_status_case() -> None:
    og, pg, floor = answers(
        USERS,
        {
            "users": {
                "edges": [
                    {
                        "node": {
                            "email": "a@x",
                            "name": "A",
                            "orders": {"edges": [{"node": {"status": "PAID", "total": "10.00"}}]},
                        }
                    }
                ]
            }
        },
        {
            "users": {
                "edges": [
                    {
                        "node": {
                            "email": "a@x",
                            "name": "A",
                            "orders": {"edges": [{"node": {"status": "paid", "total": "10"}}]},
                        }
                    }
                ]
            }
        },
        [{"email": "a@x", "name": "A", "orders": [{"status": "paid", "total": 10.0}]}],
    )
    assert og == pg == floor


HEAVY_FLOOR: dict[str, Any] = {
    "totalCount": 2,
    "hasNextPage": True,
    "users": [
        {
            "id": UID,
            "email": "a@x",
            "name": "A",
            "orders": [
                {
                    "id": OID,
                    "status": "paid",
                    "total": 19.8,
                    "createdAt": "2026-01-02T03:04:05+00:00",
                    "items": [
                        {
                            "quantity": 2,
                            "unitPrice": 9.9,
                            "product": {"id": PID, "sku": "SKU-1", "name": "Mug", "price": 9.9},
                        }
                    ],
                }
            ],
        }
    ],
}


def heavy_og() -> dict[str, Any]:
    return {
        "users": {
            "totalCount": 2,
            "pageInfo": {"hasNextPage": True, "endCursor": "c"},
            "edges": [
                {
                    "cursor": "c",
                    "node": {
                        "id": relay("User", UID),
                        "email": "a@x",
                        "name": "A",
                        "orders": {
                            "edges": [
                                {
                                    "node": {
                                        "id": relay("Order", OID),
                                        "status": "PAID",
                                        "total": "19.80",
                                        "createdAt": "2026-01-02T03:04:05Z",
                                        "items": [
                                            {
                                                "quantity": 2,
                                                "unitPrice": "9.90",
                                                "product": {
                                                    "id": relay("Product", PID),
                                                    "sku": "SKU-1",
                                                    "name": "Mug",
                                                    "price": "9.90",
                                                },
                                            }
                                        ],
                                    }
                                }
                            ]
                        },
                    },
                }
            ],
        }
    }


def heavy_pg() -> dict[str, Any]:
    return {
        "users": {
            "totalCount": 2,
            "pageInfo": {"hasNextPage": True, "endCursor": "c"},
            "edges": [
                {
                    "cursor": "c",
                    "node": {
                        "rowId": UID,
                        "email": "a@x",
                        "name": "A",
                        "orders": {
                            "edges": [
                                {
                                    "node": {
                                        "rowId": OID,
                                        "status": "paid",
                                        "total": "19.8",
                                        "createdAt": "2026-01-02T03:04:05.000000+00:00",
                                        "orderItems": {
                                            "nodes": [
                                                {
                                                    "quantity": 2,
                                                    "unitPrice": "9.9",
                                                    "product": {
                                                        "rowId": PID,
                                                        "sku": "SKU-1",
                                                        "name": "Mug",
                                                        "price": "9.9",
                                                    },
                                                }
                                            ]
                                        },
                                    }
                                }
                            ]
                        },
                    },
                }
            ],
        }
    }


def test_heavy_agrees_across_the_three_shapes() -> None:
    og, pg, floor = answers(HEAVY_QUERY, heavy_og(), heavy_pg(), HEAVY_FLOOR)
    assert og == pg == floor


def test_heavy_with_a_different_item_disagrees() -> None:
    changed = copy.deepcopy(HEAVY_FLOOR)
    changed["users"][0]["orders"][0]["items"][0]["quantity"] = 3
    og, _, floor = answers(HEAVY_QUERY, heavy_og(), heavy_pg(), changed)
    assert og != floor


def test_heavy_in_another_order_disagrees() -> None:
    pg = heavy_pg()
    edges = pg["users"]["edges"]
    edges.append(copy.deepcopy(edges[0]))
    edges[1]["node"]["email"] = "b@x"
    og = heavy_og()
    og_edges = og["users"]["edges"]
    og_edges.insert(0, copy.deepcopy(og_edges[0]))
    og_edges[0]["node"]["email"] = "b@x"
    assert HEAVY_QUERY.ordergraph.normalise(og) != HEAVY_QUERY.postgraphile.normalise(pg)  # type: ignore[union-attr]
