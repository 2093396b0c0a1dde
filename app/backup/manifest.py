"""What a backup says about itself: read back before anything is restored."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from app.errors import BackupError

FORMAT = 1
ENCRYPTION = "AES-256-GCM-STREAM"  # see app.backup.crypto


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    taken_at: datetime  # the moment of the snapshot pg_dump read (its transaction's start)
    database: str
    schema_revision: str | None  # alembic_version at that moment; None before migrating
    server_version: str  # SHOW server_version
    pg_dump_version: str
    row_counts: dict[str, int]  # "schema.table" -> rows, counted in pg_dump's own snapshot
    dump_sha256: str  # of the pg_dump -Fc bytes (the plaintext, when encrypted)
    dump_bytes: int
    encryption: str | None = None
    format: int = field(default=FORMAT)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["taken_at"] = self.taken_at.isoformat()
        return json.dumps(data, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(raw)
            manifest = cls(
                taken_at=datetime.fromisoformat(data["taken_at"]),
                database=str(data["database"]),
                schema_revision=data["schema_revision"],
                server_version=str(data["server_version"]),
                pg_dump_version=str(data["pg_dump_version"]),
                row_counts={str(k): int(v) for k, v in data["row_counts"].items()},
                dump_sha256=str(data["dump_sha256"]),
                dump_bytes=int(data["dump_bytes"]),
                encryption=data["encryption"],
                format=int(data["format"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BackupError(
                "BACKUP_CORRUPT", f"the backup's manifest is damaged ({type(exc).__name__}: {exc})"
            ) from None
        if manifest.format != FORMAT:
            raise BackupError(
                "BACKUP_FOREIGN_FILE",
                f"manifest format {manifest.format} is not one this ordergraph reads ({FORMAT})",
            )
        if manifest.encryption not in (None, ENCRYPTION):
            raise BackupError(
                "BACKUP_FOREIGN_FILE", f"unknown encryption {manifest.encryption!r} in the manifest"
            )
        if manifest.taken_at.tzinfo is None:
            raise BackupError("BACKUP_CORRUPT", "the manifest's taken_at has no time zone")
        return manifest

    @property
    def pg_dump_major(self) -> int:
        return int(self.pg_dump_version.split(".")[0])
