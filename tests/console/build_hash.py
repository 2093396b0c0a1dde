"""The hash console/build-info.mjs writes into build.json, computed the same way here."""

from __future__ import annotations

import hashlib
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[2] / "console"
# Keep in step with FILES in console/build-info.mjs.
FILES = (
    "package.json",
    "package-lock.json",
    "index.html",
    "graphiql.html",
    "vite.config.ts",
    "tsconfig.json",
    "build-info.mjs",
)


def source_files() -> list[str]:
    walked = [path.relative_to(SOURCES).as_posix() for path in (SOURCES / "src").rglob("*")]
    return sorted([*FILES, *(name for name in walked if (SOURCES / name).is_file())])


def sources_hash() -> str:
    digest = hashlib.sha256()
    for name in source_files():
        digest.update(name.encode() + b"\0")
        digest.update((SOURCES / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
