"""Bulk import of CSV files uploaded as the GraphQL multipart request spec describes.
Admins only."""

from __future__ import annotations

import os
from typing import Annotated, Any, BinaryIO, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.file_uploads import Upload

from app.graphql.bulk import ErrorPolicy
from app.graphql.context import Info
from app.graphql.imports.types import (
    ImportPayloadBase,
    ImportProductsPayload,
    ImportUsersPayload,
)
from app.graphql.payloads import write
from app.imports.formats import PRODUCTS, USERS, Entity, ImportMode
from app.imports.run import ImportResult, import_csv
from app.services import bulk
from app.services.audit import Actor

P = TypeVar("P", bound=ImportPayloadBase)

FORMAT = (
    "A CSV file (UTF-8, header first) sent as the GraphQL multipart request spec says; "
    "needs an Apollo-Require-Preflight header."
)


async def _run(
    info: Info,
    *,
    entity: Entity,
    file: Any,
    mode: ImportMode,
    error_policy: bulk.ErrorPolicy,
    dry_run: bool,
) -> ImportResult:
    # Starlette has spooled the upload to a temporary file; read it from there.
    source: BinaryIO = file.file

    async def work(conn: AsyncConnection, actor: Actor) -> ImportResult:
        source.seek(0)  # a transaction that collided runs again from the start
        return await import_csv(
            conn,
            actor=actor,
            entity=entity,
            source=source,
            size=os.fstat(source.fileno()).st_size if _has_fd(source) else 0,
            mode=mode,
            error_policy=error_policy,
            dry_run=dry_run,
        )

    result, _ = await write(info, work)
    assert result is not None  # import_csv reports problems in its result
    metrics = getattr(info.context.request.app.state, "metrics", None)
    if metrics is not None:
        metrics.imported(entity.name, result)
    # The rows' own cache tags: not emitted one by one (a million events' worth).
    await info.context.field_cache.invalidate(sorted(result.tags))
    return result


def _has_fd(source: BinaryIO) -> bool:
    try:
        source.fileno()
    except (OSError, AttributeError, ValueError):
        return False
    return True


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        description="Create (or, with UPSERT, update by sku) products from a CSV file with "
        "the columns sku, name, price and optionally description, stock. Admins only."
    )
    async def import_products(
        self,
        info: Info,
        file: Annotated[Upload, strawberry.argument(description=FORMAT)],
        mode: ImportMode = ImportMode.INSERT,
        error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
        dry_run: bool = False,
    ) -> ImportProductsPayload:
        result = await _run(
            info,
            entity=PRODUCTS,
            file=file,
            mode=mode,
            error_policy=error_policy.to_service(),
            dry_run=dry_run,
        )
        return ImportProductsPayload.of(result)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Create (or, with UPSERT, update by email) users from a CSV file with "
        "the columns email, name and optionally role (user or admin). Admins only."
    )
    async def import_users(
        self,
        info: Info,
        file: Annotated[Upload, strawberry.argument(description=FORMAT)],
        mode: ImportMode = ImportMode.INSERT,
        error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
        dry_run: bool = False,
    ) -> ImportUsersPayload:
        result = await _run(
            info,
            entity=USERS,
            file=file,
            mode=mode,
            error_policy=error_policy.to_service(),
            dry_run=dry_run,
        )
        return ImportUsersPayload.of(result)  # type: ignore[return-value]
