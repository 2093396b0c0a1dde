"""Streaming authenticated encryption for backups: AES-256-GCM in chunks.

The construction is the STREAM scheme of Hoang, Reyhanitabar, Rogaway and Vizár
("Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015): each
chunk is sealed on its own, under a nonce made of its position and a flag marking the
last chunk. Reordered, dropped, duplicated or appended chunks fail to open, and so does
a stream cut short: its new last chunk was not sealed as the last.

Every file gets its own key, derived from BACKUP_KEY and a random salt with HKDF, so the
chunk counter alone makes each nonce unique (no nonce is ever drawn at random). The
derived key also yields a key-check value, so a wrong BACKUP_KEY is told apart from a
damaged file.

Encrypted payload, after the container's header (see app.backup.container):

    salt        32 bytes, random
    key check   16 bytes, HMAC-SHA256(file key, "key check")[:16]
    chunk size  4 bytes, big-endian: plaintext bytes per chunk (the last may be shorter)
    chunks      each: ciphertext of chunk size bytes (fewer for the last) + 16-byte tag

Chunk i (from 0) is sealed with nonce = i as 8 bytes big-endian, 3 zero bytes, then 1 for
the last chunk or 0; its associated data is SHA-256 of everything in the file before the
first chunk (header, manifest, salt, key check, chunk size), then the same counter and
flag. The manifest is readable without the key, and tampering with it is detected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.errors import BackupError

KEY_BYTES = 32
SALT_BYTES = 32
CHECK_BYTES = 16
TAG_BYTES = 16
DEFAULT_CHUNK = 1 << 20
MAX_CHUNK = 16 << 20  # a header asking for more is damaged, not a reason to allocate it
PARAMS = struct.Struct(f">{SALT_BYTES}s{CHECK_BYTES}sI")
HKDF_INFO = b"ordergraph backup v1"


def new_key() -> str:
    """A fresh BACKUP_KEY: 32 random bytes, base64."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str) -> bytes:
    """BACKUP_KEY's 32 bytes, from base64 (standard or URL-safe alphabet)."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(
            "BACKUP_KEY must be 32 bytes in base64 (44 characters); "
            "make one with `ordergraph backup keygen`"
        )
    return key


class _Keys:
    def __init__(self, key: bytes, salt: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=HKDF_INFO
        ).derive(key)
        self.aead = AESGCM(derived)
        self.check = hmac.new(derived, b"key check", hashlib.sha256).digest()[:CHECK_BYTES]


def _nonce_and_aad(prefix: bytes, index: int, last: bool) -> tuple[bytes, bytes]:
    position = struct.pack(">Q3xB", index, last)
    return position, prefix + position


def encrypt_stream(
    source: BinaryIO,
    out: BinaryIO,
    *,
    key: bytes,
    header: bytes,
    chunk_size: int = DEFAULT_CHUNK,
) -> None:
    """Write source, sealed, to out (which already holds `header`), a chunk at a time."""
    salt = os.urandom(SALT_BYTES)
    keys = _Keys(key, salt)
    params = PARAMS.pack(salt, keys.check, chunk_size)
    out.write(params)
    prefix = hashlib.sha256(header + params).digest()
    for index, (chunk, last) in enumerate(_chunks(source, chunk_size)):
        nonce, aad = _nonce_and_aad(prefix, index, last)
        out.write(keys.aead.encrypt(nonce, chunk, aad))


def decrypt_stream(source: BinaryIO, *, key: bytes, header: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed payload, chunk by chunk; BackupError when the key is not
    this file's or any byte of it was changed, removed or added."""
    params = source.read(PARAMS.size)
    if len(params) < PARAMS.size:
        raise BackupError("BACKUP_CORRUPT", "the file ends inside its encryption header")
    salt, check, chunk_size = PARAMS.unpack(params)
    keys = _Keys(key, salt)
    if not hmac.compare_digest(keys.check, check):
        raise BackupError(
            "BACKUP_WRONG_KEY",
            "BACKUP_KEY is not the key this backup was encrypted with (or its salt is damaged)",
        )
    if not 0 < chunk_size <= MAX_CHUNK:
        raise BackupError("BACKUP_CORRUPT", f"the encryption header is damaged ({chunk_size=})")
    prefix = hashlib.sha256(header + params).digest()
    for index, (sealed, last) in enumerate(_chunks(source, chunk_size + TAG_BYTES)):
        nonce, aad = _nonce_and_aad(prefix, index, last)
        try:
            yield keys.aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise BackupError(
                "BACKUP_CORRUPT",
                f"encrypted chunk {index} fails authentication: the file was changed, "
                "cut short or extended after it was written",
            ) from None


def _chunks(source: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """source in pieces of `size` bytes (the last may be shorter, even empty), each with
    whether it is the last; one piece of look-ahead."""
    current = _read_full(source, size)
    while True:
        following = _read_full(source, size) if len(current) == size else b""
        last = not following
        yield current, last
        if last:
            return
        current = following


def _read_full(source: BinaryIO, size: int) -> bytes:
    parts = []
    wanted = size
    while wanted:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)
