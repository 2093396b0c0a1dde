"""Inputs and payloads of the privacy mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.payloads import InputError
from app.graphql.users.types import User


@strawberry.input(description="Your confirmation that your data is to be erased.")
class EraseMyDataInput:
    confirm: str = strawberry.field(
        description="The email address of your account, typed out: erasure cannot be undone."
    )


@strawberry.input(description="The user whose data an admin erases.")
class EraseUserInput:
    id: strawberry.ID


@strawberry.input(description="The user whose data an admin exports.")
class ExportUserDataInput:
    id: strawberry.ID


@strawberry.type(description="The erased user under their pseudonym (orders kept), or what to fix.")
class EraseUserPayload:
    user: User | None = strawberry.field(
        description="The account as it is now: pseudonymous email and name, no access."
    )
    errors: list[InputError]


@strawberry.type(description="A download link for a person's data, or what to fix.")
class PersonalDataExportPayload:
    url: str | None = strawberry.field(
        description="GET it once, before expiresAt, without an Authorization header: a "
        "JSON document with the profile, identities, API tokens (no secrets), orders with "
        "items, audit events and events about the person."
    )
    expires_at: datetime | None
    errors: list[InputError]
