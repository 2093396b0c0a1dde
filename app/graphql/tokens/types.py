"""API tokens as GraphQL objects. The secret itself appears only in createApiToken."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.auth.api_tokens import ApiTokenRecord
from app.graphql.relay import Node


@strawberry.type(description="A bearer token for the API, without its secret.")
class ApiToken(Node):
    pk: strawberry.Private[uuid.UUID]
    name: str
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(description="Updated at most once a minute.")
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_record(cls, record: ApiTokenRecord) -> ApiToken:
        return cls(
            pk=record.id,
            name=record.name,
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            expires_at=record.expires_at,
            revoked_at=record.revoked_at,
        )
