"""The committed build in app/console/static is the build of console/ as it is now."""

from __future__ import annotations

import json
import re

from app.console.pages import STATIC
from tests.console.build_hash import SOURCES, source_files, sources_hash

STALE = (
    "app/console/static is stale against console/ (a source or the lockfile changed "
    "since the last build): run `make console` and commit app/console/static."
)


def test_the_committed_build_is_current() -> None:
    info = json.loads((STATIC / "build.json").read_text())
    assert info["files"] == len(source_files()), STALE
    assert info["sources"] == sources_hash(), STALE


def test_every_asset_the_pages_name_is_shipped() -> None:
    for page in ("index.html", "graphiql.html"):
        html = (STATIC / page).read_text()
        names = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert names, page
        for name in names:
            assert name.startswith("/admin/assets/"), f"{page} loads {name} from elsewhere"
            assert (STATIC / "assets" / name.removeprefix("/admin/assets/")).is_file(), name


def test_console_dependencies_are_pinned_exactly() -> None:
    package = json.loads((SOURCES / "package.json").read_text())
    for section in ("dependencies", "devDependencies"):
        for name, version in package[section].items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}@{version} is not pinned"
