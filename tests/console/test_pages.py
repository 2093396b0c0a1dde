"""The console's pages over HTTP: /admin and its deep links, the assets, GraphiQL at
GET /graphql, all from the shipped build and nothing from a CDN."""

from __future__ import annotations

import re

from app.console.pages import STATIC
from tests.conftest import running_app

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_admin_and_its_deep_links_serve_the_console(seeded_url: str) -> None:
    async with running_app(seeded_url, as_admin=False) as api:
        for path in ("/admin", "/admin/", "/admin/orders", "/admin/products/UHJvZHVjdDox"):
            response = await api.client.get(path)
            assert response.status_code == 200, path
            assert response.text == (STATIC / "index.html").read_text()
            policy = response.headers["content-security-policy"]
            assert "default-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy


async def test_assets_are_served_and_cached_for_good(seeded_url: str) -> None:
    html = (STATIC / "index.html").read_text()
    script = re.search(r'src="(/admin/assets/[^"]+\.js)"', html)
    assert script is not None
    async with running_app(seeded_url, as_admin=False) as api:
        response = await api.client.get(script.group(1))
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]
        assert "immutable" in response.headers["cache-control"]
        assert (await api.client.get("/admin/assets/nope.js")).status_code == 404


async def test_graphiql_page_comes_from_the_build_not_a_cdn(seeded_url: str) -> None:
    async with running_app(seeded_url, as_admin=False) as api:
        response = await api.client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    assert response.text == (STATIC / "graphiql.html").read_text()
    assert not re.search(r"unpkg|jsdelivr|cdn|https?://", response.text)
    assert "content-security-policy" in response.headers


async def test_console_setting_off_leaves_admin_unserved(seeded_url: str) -> None:
    async with running_app(seeded_url, as_admin=False, console=False) as api:
        assert (await api.client.get("/admin")).status_code == 404
