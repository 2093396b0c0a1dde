"""Records back from an event's JSON snapshot: the object as it was after the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.queries.orders import OrderRecord
from app.queries.products import ProductRecord
from app.queries.users import UserRecord


def order(data: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        id=uuid.UUID(data["id"]),
        user_id=uuid.UUID(data["user_id"]),
        status=data["status"],
        total=Decimal(data["total"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        version=int(data["version"]),
    )


def product(data: dict[str, Any]) -> ProductRecord:
    return ProductRecord(
        id=uuid.UUID(data["id"]),
        sku=data["sku"],
        name=data["name"],
        description=data["description"],
        price=Decimal(data["price"]),
        stock=int(data["stock"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        version=int(data["version"]),
    )


def user(data: dict[str, Any]) -> UserRecord:
    return UserRecord(
        id=uuid.UUID(data["id"]),
        email=data["email"],
        name=data["name"],
        role=data["role"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        version=int(data["version"]),
    )
