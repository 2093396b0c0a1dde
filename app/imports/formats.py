"""What an import file holds, per entity, and how an import may treat its rows."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table

from app.db.products import products
from app.db.users import users
from app.queries.products import COLUMNS as PRODUCT_COLUMNS
from app.queries.users import COLUMNS as USER_COLUMNS
from app.services import products as product_service
from app.services import users as user_service


class ImportMode(enum.StrEnum):
    INSERT = "insert"  # every row is a new object; a key that exists is a row error
    UPSERT = "upsert"  # a row whose key exists updates that object


@dataclass(frozen=True, slots=True)
class Entity:
    """One importable kind of object.

    `model` is the create mutation's input model: its fields are the file's columns and
    its constraints the checks (app.imports.rules). `key` is what upsert matches on.
    """

    name: str  # "products": the CLI argument
    topic: str  # outbox topic and audit entity type (capitalised)
    table: Table
    model: type[BaseModel]
    key: str
    fields: tuple[str, ...]  # audited fields, as the service's diff sees them
    columns: list[Any]  # the record's columns: an event's data
    key_taken: tuple[str, str, str]  # (column, code, message) of a key that exists
    owned: bool  # the event's owner is the object itself (users)
    # Columns set on insert only, as SQL: an admin vouches for the addresses they give.
    insert_extra: dict[str, str] = field(default_factory=dict)
    # Extra changed field names of an UPDATED event, as SQL over old_<f> and new <f>.
    extra_changed: tuple[str, ...] = ()
    created_action: str = ""
    updated_action: str = ""
    normalize_key: Callable[[str], str] = str

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.model.model_fields.items() if f.is_required())


PRODUCTS = Entity(
    name="products",
    topic="product",
    table=products,
    model=product_service.NewProduct,
    key="sku",
    fields=product_service.FIELDS,
    columns=PRODUCT_COLUMNS,
    key_taken=product_service._CONSTRAINTS["uq_products_sku"],
    owned=False,
    # As services.products.emit_product_change: inStock joins when stock crossed zero.
    extra_changed=("CASE WHEN (old_stock > 0) <> (stock > 0) THEN 'inStock' END",),
    created_action="product.created",
    updated_action="product.updated",
)

USERS = Entity(
    name="users",
    topic="user",
    table=users,
    model=user_service.NewUser,
    key="email",
    fields=user_service.FIELDS,
    columns=USER_COLUMNS,
    key_taken=user_service._CONSTRAINTS["uq_users_email"],
    owned=True,
    insert_extra={"email_verified_at": "now()"},
    created_action="user.created",
    updated_action="user.updated",
)

ENTITIES = {entity.name: entity for entity in (PRODUCTS, USERS)}
