"""The sealed stream on its own: many chunks, any damage detected, memory flat."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from app.backup import crypto
from app.errors import BackupError
from tests.backup.conftest import KEY, OTHER_KEY, flip

HEADER = b"OGBACKUP-test-header"
CHUNK = 64


def seal(plain: bytes, *, chunk_size: int = CHUNK) -> bytes:
    out = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(plain), out, key=KEY, header=HEADER, chunk_size=chunk_size)
    return out.getvalue()


def open_sealed(sealed: bytes, *, key: bytes = KEY, header: bytes = HEADER) -> bytes:
    return b"".join(crypto.decrypt_stream(io.BytesIO(sealed), key=key, header=header))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK, 10 * CHUNK + 7])
def test_round_trip_over_many_chunks(size: int) -> None:
    plain = os.urandom(size)
    sealed = seal(plain)
    chunks = max(1, -(-size // CHUNK))  # a whole last chunk is sealed as the last
    assert len(sealed) == crypto.PARAMS.size + size + chunks * crypto.TAG_BYTES
    assert open_sealed(sealed) == plain


def test_wrong_key_is_told_apart_from_damage() -> None:
    with pytest.raises(BackupError) as caught:
        open_sealed(seal(b"x" * 500), key=OTHER_KEY)
    assert caught.value.code == "BACKUP_WRONG_KEY"
    assert "BACKUP_KEY" in caught.value.message


def test_every_flipped_byte_is_detected() -> None:
    sealed = seal(os.urandom(5 * CHUNK + 10))
    for at in range(len(sealed)):
        with pytest.raises(BackupError):
            open_sealed(flip(sealed, at))


def test_a_changed_header_is_detected() -> None:
    with pytest.raises(BackupError) as caught:
        open_sealed(seal(b"y" * 300), header=HEADER + b"!")
    assert caught.value.code == "BACKUP_CORRUPT"


def _sealed_chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    params, body = sealed[: crypto.PARAMS.size], sealed[crypto.PARAMS.size :]
    step = CHUNK + crypto.TAG_BYTES
    return params, [body[i : i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize(
    "damage",
    [
        "cut at a chunk boundary",
        "cut inside a chunk",
        "last byte cut",
        "chunks swapped",
        "chunk dropped",
        "chunk repeated",
        "bytes appended",
        "only the header",
    ],
)
def test_truncation_reordering_and_extension_are_detected(damage: str) -> None:
    sealed = seal(os.urandom(6 * CHUNK + 20))
    params, chunks = _sealed_chunks(sealed)
    damaged = {
        "cut at a chunk boundary": params + b"".join(chunks[:3]),
        "cut inside a chunk": sealed[: len(params) + 2 * len(chunks[0]) + 30],
        "last byte cut": sealed[:-1],
        "chunks swapped": params + b"".join([chunks[1], chunks[0], *chunks[2:]]),
        "chunk dropped": params + b"".join([chunks[0], *chunks[2:]]),
        "chunk repeated": params + b"".join([chunks[0], chunks[0], *chunks[1:]]),
        "bytes appended": sealed + b"\0",
        "only the header": params,
    }[damage]
    with pytest.raises(BackupError) as caught:
        open_sealed(damaged)
    assert caught.value.code == "BACKUP_CORRUPT"


def test_a_cut_inside_the_encryption_header_is_detected() -> None:
    with pytest.raises(BackupError) as caught:
        open_sealed(seal(b"z")[:10])
    assert caught.value.code == "BACKUP_CORRUPT"


@pytest.mark.parametrize("text", ["", "c2hvcnQ=", "not base64 at all!", crypto.new_key() + "AAAA"])
def test_a_bad_key_says_how_to_make_one(text: str) -> None:
    with pytest.raises(ValueError, match="backup keygen"):
        crypto.parse_key(text)


def test_new_keys_parse_in_either_alphabet() -> None:
    key = crypto.new_key()
    assert len(crypto.parse_key(key)) == crypto.KEY_BYTES
    urlsafe = key.replace("+", "-").replace("/", "_").rstrip("=")
    assert crypto.parse_key(urlsafe) == crypto.parse_key(key)


# Seals STREAM_MIB of data that never exists whole, then prints its peak RSS in KiB.
STREAMER = """
import io, resource, sys
from app.backup import crypto

class Zeros(io.RawIOBase):
    def __init__(self, size): self.left = size
    def readable(self): return True
    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n

class Sink(io.RawIOBase):
    def writable(self): return True
    def write(self, data): return len(data)

size = int(sys.argv[1]) << 20
crypto.encrypt_stream(io.BufferedReader(Zeros(size)), Sink(), key=bytes(32), header=b"h")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
STREAM_MIB = 512


def test_sealing_a_large_stream_keeps_memory_flat() -> None:
    """512 MiB sealed in 1 MiB chunks: the process's peak RSS stays within a few chunks
    of what it takes to start Python with cryptography (measured, then printed)."""
    baseline = subprocess.run(
        [sys.executable, "-c", STREAMER, "0"], capture_output=True, text=True, check=True
    )
    large = subprocess.run(
        [sys.executable, "-c", STREAMER, str(STREAM_MIB)],
        capture_output=True,
        text=True,
        check=True,
    )
    base_kib, peak_kib = int(baseline.stdout), int(large.stdout)
    print(
        f"peak RSS sealing 0 MiB: {base_kib // 1024} MiB; {STREAM_MIB} MiB: {peak_kib // 1024} MiB"
    )
    assert peak_kib - base_kib < 32 * 1024, (base_kib, peak_kib)
