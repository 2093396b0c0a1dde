"""The built pages and their assets, as HTTP responses."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = STATIC / "assets"

# Everything the pages load comes from this origin: the policy makes a CDN reference (or
# an injected script) fail loudly instead of loading. GraphiQL and React set inline styles.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "content-security-policy": POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    # The pages name their assets by content hash; the pages themselves are re-fetched.
    "cache-control": "no-cache",
}
MISSING = (
    "The console is not built: static/{name} is missing from app/console. "
    "Run `make console` (needs Node) or use a release that ships it."
)


def _page(name: str) -> str | None:
    # Read per request (a few hundred bytes): a `make console` under a running server
    # shows at once instead of pointing at assets that are gone.
    path = STATIC / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def page_response(name: str) -> Response:
    """index.html (the console) or graphiql.html, with the headers every page gets."""
    html = _page(name)
    if html is None:
        return Response(MISSING.format(name=name), status_code=503, media_type="text/plain")
    return HTMLResponse(html, headers=PAGE_HEADERS)


async def console(request: Request) -> Response:
    """Any path under /admin: the single-page app routes it in the browser."""
    return page_response("index.html")


class Assets(StaticFiles):
    """Hashed file names: cached for a year, never revalidated."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def console_routes() -> list[BaseRoute]:
    return [
        Mount("/admin/assets", app=Assets(directory=ASSETS, check_dir=False), name="assets"),
        Route("/admin", console),
        Route("/admin/{path:path}", console),
    ]
