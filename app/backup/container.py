"""The backup file: a fixed header, the JSON manifest, then the payload.

    magic            8 bytes  b"OGBACKUP"
    version          1 byte   1
    flags            1 byte   bit 0: the payload is encrypted (see app.backup.crypto)
    manifest length  4 bytes  big-endian
    manifest         UTF-8 JSON (app.backup.manifest.Manifest)
    payload          the pg_dump -Fc archive as it is, or sealed, to the end of the file

The manifest comes first so that restore can judge a file before it reads the rest; it
is written after pg_dump has finished (the dump waits in a temporary file until then).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from app.backup.manifest import Manifest
from app.errors import BackupError

MAGIC = b"OGBACKUP"
VERSION = 1
ENCRYPTED = 0x01
HEAD = struct.Struct(">8sBBI")
MAX_MANIFEST = 4 << 20
PG_DUMP_MAGIC = b"PGDMP"  # the start of a plain pg_dump -Fc archive


def header_bytes(manifest: Manifest) -> bytes:
    body = manifest.to_json()
    flags = ENCRYPTED if manifest.encryption else 0
    return HEAD.pack(MAGIC, VERSION, flags, len(body)) + body


def read_header(source: BinaryIO) -> tuple[Manifest, bytes]:
    """The manifest and the header's exact bytes (encryption authenticates them);
    BackupError for a file that is not an ordergraph backup or whose header is damaged."""
    head = source.read(HEAD.size)
    if not head.startswith(MAGIC[: len(head)]) or not head:
        if head.startswith(PG_DUMP_MAGIC):
            raise BackupError(
                "BACKUP_FOREIGN_FILE",
                "this is a plain pg_dump archive, not an ordergraph backup: it has no "
                "manifest to check; restore it with pg_restore itself",
            )
        raise BackupError(
            "BACKUP_FOREIGN_FILE",
            "not an ordergraph backup (it does not start with OGBACKUP); "
            "make one with `ordergraph backup`",
        )
    if len(head) < HEAD.size:
        raise BackupError("BACKUP_CORRUPT", "the file ends inside its header")
    _, version, flags, length = HEAD.unpack(head)
    if version != VERSION:
        raise BackupError(
            "BACKUP_FOREIGN_FILE",
            f"backup file version {version}: this ordergraph reads version {VERSION}",
        )
    if length > MAX_MANIFEST:
        raise BackupError("BACKUP_CORRUPT", f"the header is damaged (manifest of {length} bytes)")
    body = source.read(length)
    if len(body) < length:
        raise BackupError("BACKUP_CORRUPT", "the file ends inside its manifest")
    manifest = Manifest.from_json(body)
    if bool(flags & ENCRYPTED) != (manifest.encryption is not None):
        raise BackupError("BACKUP_CORRUPT", "the header and the manifest disagree on encryption")
    return manifest, head + body
