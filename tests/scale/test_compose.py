"""docker-compose.yml shows the production shape.

The file is validated by Compose itself (`docker compose config`, or Debian's
`docker-compose config`, which `make test` installs as root; neither needs a Docker
engine), and loaded as YAML (with its anchors and merge keys) to check its structure: the
services, how they depend on one another, the API's settings (each one a real setting),
and Prometheus scraping both instances.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
APIS = ("api-1", "api-2")


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = loaded["services"]
    return found


def test_the_compose_file_has_the_production_services() -> None:
    assert set(services()) >= {
        *APIS,
        "postgres",
        "postgres-replica",
        "pgbouncer",
        "redis",
        "prometheus",
        "migrate",
    }


def test_every_dependency_and_volume_exists() -> None:
    loaded = yaml.safe_load(COMPOSE.read_text())
    named = set(loaded["services"])
    for name, service in loaded["services"].items():
        for dependency in service.get("depends_on", []):
            assert dependency in named, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), (name, source)
            else:
                assert source in loaded["volumes"], (name, source)


def test_the_api_instances_use_pgbouncer_the_replica_and_redis() -> None:
    every = services()
    fields = {name.upper() for name in Settings.model_fields}
    for name in APIS:
        api = every[name]
        env = api["environment"]
        assert set(env) <= fields, set(env) - fields  # no setting that does not exist
        assert make_url(env["DATABASE_URL"]).host == "pgbouncer"
        assert env["DB_PGBOUNCER"] == "true"
        [replica] = json.loads(env["DATABASE_REPLICA_URLS"])
        assert make_url(replica).host == "postgres-replica"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert {"migrate", "pgbouncer", "postgres-replica", "redis"} <= set(api["depends_on"])
        # Long enough for the drain and the grace period before Docker kills it.
        grace = float(env["SHUTDOWN_DRAIN_SECONDS"]) + float(env["SHUTDOWN_GRACE_SECONDS"])
        assert float(api["stop_grace_period"].rstrip("s")) > grace
        assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert every["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"


def test_the_replica_streams_from_the_primary() -> None:
    every = services()
    assert "wal_level=replica" in every["postgres"]["command"]
    script = " ".join(every["postgres-replica"]["entrypoint"])
    assert "pg_basebackup -h postgres" in script
    assert " -R " in script


def test_prometheus_scrapes_both_instances() -> None:
    prometheus = services()["prometheus"]
    [mount] = [v for v in prometheus["volumes"] if v.endswith("prometheus.yml:ro")]
    config = yaml.safe_load((ROOT / mount.split(":", 1)[0]).read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    [targets] = job["static_configs"]
    assert sorted(targets["targets"]) == [f"{name}:8000" for name in APIS]


def _compose() -> list[str]:
    """The Compose command here: the docker plugin, else Debian's docker-compose."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.skip(
        "neither `docker compose` nor docker-compose is installed (apt-get install docker-compose)"
    )


def _config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_compose(), "-f", str(path), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
    )


def test_compose_itself_validates_the_file() -> None:
    checked = _config(COMPOSE)
    assert checked.returncode == 0, checked.stderr


def test_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    """The validation above is real: the same file with a misspelt key is refused."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("depends_on:", "depend_on:", 1))
    for source in ("deploy",):  # the files the services mount, beside it as in the repo
        if (ROOT / source).exists():
            shutil.copytree(ROOT / source, tmp_path / source)
    checked = _config(broken)
    assert checked.returncode != 0
    assert "depend_on" in checked.stderr
