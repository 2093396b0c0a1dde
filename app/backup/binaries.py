"""Finding a pg_dump or pg_restore whose version suits the server.

pg_dump refuses servers newer than itself, and pg_restore archives from newer pg_dumps.
The candidates, in order: PG_BIN_DIR alone when it is set; else Debian's
/usr/lib/postgresql/<major>/bin, the embedded server's own binaries (the pgserver wheel),
and PATH. Of those new enough, the oldest wins: the closest match to the server.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.errors import BackupError

DEBIAN_ROOT = Path("/usr/lib/postgresql")
VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class PgTool:
    path: Path
    version: str  # as the binary prints it: "15.20", "16.2"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def find_tool(name: str, *, min_major: int, bin_dir: Path | None = None) -> PgTool:
    """The `name` binary (pg_dump, pg_restore) of the lowest major version >= min_major;
    BackupError PG_TOOL_MISSING naming the version needed when there is none."""
    found = [tool for tool in _candidates(name, bin_dir) if tool is not None]
    suited = sorted((t for t in found if t.major >= min_major), key=lambda t: t.major)
    if suited:
        return suited[0]
    where = f"PG_BIN_DIR ({bin_dir})" if bin_dir else "Debian's, the embedded server's or PATH"
    seen = ", ".join(f"{t.path} ({t.version})" for t in found) or "none"
    raise BackupError(
        "PG_TOOL_MISSING",
        f"{name} {min_major} or newer is needed and {where} has none (found: {seen}); "
        f"install postgresql-client-{min_major} or set PG_BIN_DIR to its bin directory",
    )


def _candidates(name: str, bin_dir: Path | None) -> list[PgTool | None]:
    if bin_dir is not None:
        return [_probe(bin_dir / name)]
    paths = [d / "bin" / name for d in sorted(DEBIAN_ROOT.glob("*"), reverse=True)]
    embedded = _embedded_bin()
    if embedded is not None:
        paths.append(embedded / name)
    on_path = shutil.which(name)
    if on_path:
        paths.append(Path(on_path))
    return [_probe(path) for path in paths]


def _embedded_bin() -> Path | None:
    """pgserver's bin directory (pgserver/_commands.py's POSTGRES_BIN_PATH), found without
    importing pgserver: its import starts platformdirs, which warns without XDG_RUNTIME_DIR."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _probe(path: Path) -> PgTool | None:
    if not path.is_file():
        return None
    try:
        output = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = VERSION.search(output)
    if found is None:
        return None
    return PgTool(path, found[1] + (f".{found[2]}" if found[2] else ""))
