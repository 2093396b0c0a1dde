"""What an import answers."""

from __future__ import annotations

import strawberry

from app.imports.formats import ImportMode
from app.imports.run import ImportResult

# Registered with strawberry once; resolvers annotate with the enums themselves.
strawberry.enum(
    ImportMode,
    name="ImportMode",
    description="INSERT: every row is new (an existing key is SKU_TAKEN / EMAIL_TAKEN); "
    "UPSERT: a row whose sku or email exists updates it.",
)


@strawberry.type(description="A problem with one row of an import file, or with the file.")
class ImportRowError:
    line: int | None = strawberry.field(
        description="The line the row starts on (1 is the header); null: the whole file."
    )
    column: str | None = strawberry.field(description="The column; null: the whole row.")
    code: str = strawberry.field(
        description="The mutations' codes (TOO_LONG, INVALID_FORMAT, SKU_TAKEN...), or a "
        "file's: EMPTY_FILE, INVALID_ENCODING, MISSING_HEADER, UNKNOWN_COLUMN, "
        "MISSING_COLUMN, DUPLICATE_COLUMN, MALFORMED_CSV, WRONG_COLUMN_COUNT, DUPLICATE_KEY."
    )
    message: str


@strawberry.type
class ImportPayloadBase:
    created: int
    updated: int
    unchanged: int = strawberry.field(description="Rows equal to what is stored: not written.")
    failed: int = strawberry.field(description="Rows with at least one problem.")
    errors: list[ImportRowError] = strawberry.field(
        description="The problems, by line (at most 1,000; none listed under IGNORE_FAILED, "
        "except a file's own)."
    )
    dry_run: bool
    written: bool = strawberry.field(
        description="False: nothing was written (a dry run, a bad file, or REJECT_EVERYTHING "
        "with a bad row)."
    )

    @classmethod
    def of(cls, result: ImportResult) -> ImportPayloadBase:
        return cls(
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            failed=result.failed,
            errors=[
                ImportRowError(line=e.line, column=e.column, code=e.code, message=e.message)
                for e in result.errors
            ],
            dry_run=result.dry_run,
            written=result.written,
        )


@strawberry.type(description="What importProducts did, or would do (dryRun).")
class ImportProductsPayload(ImportPayloadBase):
    pass


@strawberry.type(description="What importUsers did, or would do (dryRun).")
class ImportUsersPayload(ImportPayloadBase):
    pass
