"""Mutations on users."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.context import Info
from app.graphql.payloads import InputError, write
from app.graphql.relay import pk_of
from app.graphql.users.types import Role, User
from app.queries.users import UserRecord
from app.services import users
from app.services.audit import Actor
from app.services.validation import validate


@strawberry.input(description="A new user. Email is trimmed and stored lowercase.")
class CreateUserInput:
    email: str
    name: str = strawberry.field(description="1 to 100 characters.")
    role: Role = Role.USER


@strawberry.input(description="Changes to a user; leave out what stays the same.")
class UpdateUserInput:
    id: strawberry.ID
    expected_version: int = strawberry.field(description="The version you read.")
    email: str | None = None
    name: str | None = None
    role: Role | None = strawberry.field(default=None, description="Admins only.")


@strawberry.input(description="The user to delete, at the version you read.")
class DeleteUserInput:
    id: strawberry.ID
    expected_version: int


@strawberry.type(description="The user after the change, or what to fix.")
class UserPayload:
    user: User | None
    errors: list[InputError]


@strawberry.type(description="The deleted user's ID, or what to fix.")
class DeleteUserPayload:
    deleted_id: strawberry.ID | None
    errors: list[InputError]


def _payload(result: tuple[UserRecord | None, list[InputError]]) -> UserPayload:
    record, errors = result
    return UserPayload(user=User.from_record(record) if record else None, errors=errors)


@strawberry.type
class UserMutation:
    @strawberry.mutation(description="Create a user. Admins only.")
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        async def work(conn: AsyncConnection, actor: Actor) -> UserRecord:
            data = validate(
                users.NewUser, email=input.email, name=input.name, role=input.role.value
            )
            return await users.create_user(conn, actor=actor, data=data)

        return _payload(await write(info, work))

    @strawberry.mutation(description="Change a user: yourself, or anyone if you are an admin.")
    async def update_user(self, info: Info, input: UpdateUserInput) -> UserPayload:
        user_id = pk_of(input.id, "User")

        async def work(conn: AsyncConnection, actor: Actor) -> UserRecord:
            changes = validate(
                users.UserChanges,
                email=input.email,
                name=input.name,
                role=input.role.value if input.role else None,
            )
            return await users.update_user(
                conn,
                actor=actor,
                user_id=user_id,
                expected_version=input.expected_version,
                changes=changes,
            )

        result = await write(info, work, locks_user=user_id)
        info.context.authenticator.forget_user(user_id)
        return _payload(result)

    @strawberry.mutation(description="Delete a user who has no orders. Admins only.")
    async def delete_user(self, info: Info, input: DeleteUserInput) -> DeleteUserPayload:
        user_id = pk_of(input.id, "User")

        async def work(conn: AsyncConnection, actor: Actor) -> None:
            await users.delete_user(
                conn,
                actor=actor,
                user_id=user_id,
                expected_version=input.expected_version,
            )

        _, errors = await write(info, work, locks_user=user_id)
        info.context.authenticator.forget_user(user_id)
        return DeleteUserPayload(deleted_id=None if errors else input.id, errors=errors)
