"""Managing your API tokens."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.api_tokens import ApiTokenRecord
from app.graphql.context import Info
from app.graphql.payloads import InputError, write
from app.graphql.relay import pk_of
from app.graphql.tokens.types import ApiToken
from app.services import tokens
from app.services.audit import Actor
from app.services.validation import validate


@strawberry.input(description="A new API token.")
class CreateApiTokenInput:
    name: str = strawberry.field(default="API token", description="1 to 100 characters.")
    expires_in_days: int | None = strawberry.field(
        default=None, description="1 to 3650; default: never."
    )
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Admins may make one for someone else; default: you."
    )


@strawberry.input(description="The token to revoke.")
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.type(description="The new token. `token` is shown only here, only once.")
class CreateApiTokenPayload:
    token: str | None = strawberry.field(
        description="The secret: send as `Authorization: Bearer <token>`. Store it now."
    )
    api_token: ApiToken | None
    errors: list[InputError]


@strawberry.type(description="The revoked token, or what to fix.")
class RevokeApiTokenPayload:
    api_token: ApiToken | None
    errors: list[InputError]


@strawberry.type
class TokenMutation:
    @strawberry.mutation(description="Create an API token for yourself.")
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenPayload:
        viewer_id = policy.require_user(info.context.viewer, to="create API tokens")
        user_id = pk_of(input.user_id, "User", argument="userId") if input.user_id else viewer_id

        async def work(conn: AsyncConnection, actor: Actor) -> tuple[str, ApiTokenRecord]:
            data = validate(tokens.NewToken, name=input.name, expires_in_days=input.expires_in_days)
            return await tokens.create_api_token(conn, actor=actor, user_id=user_id, data=data)

        result, errors = await write(info, work)
        if result is None:
            return CreateApiTokenPayload(token=None, api_token=None, errors=errors)
        secret, record = result
        return CreateApiTokenPayload(
            token=secret, api_token=ApiToken.from_record(record), errors=[]
        )

    @strawberry.mutation(description="Revoke one of your API tokens; it stops working at once.")
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput
    ) -> RevokeApiTokenPayload:
        token_id = pk_of(input.id, "ApiToken")

        async def work(conn: AsyncConnection, actor: Actor) -> ApiTokenRecord:
            return await tokens.revoke_api_token(conn, actor=actor, token_id=token_id)

        record, errors = await write(info, work)
        info.context.authenticator.forget_token(token_id)
        return RevokeApiTokenPayload(
            api_token=ApiToken.from_record(record) if record else None, errors=errors
        )
