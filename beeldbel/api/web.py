"""The web shell: ``GET /`` serves ``web/index.html``; ``/static/`` serves ``web/`` as it is.

The front end is plain ES modules (no bundler, no build step): what is in ``web/`` is
what the browser gets. Pages are hash routes (``/#/account``), so the server needs no
route per page. Static files carry no data; the start-up check allows them
(``web.StaticResource``), and they get the same security headers as every answer.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation

__all__ = ["CONTEXTS", "OPERATIONS", "STATIC_PREFIX", "WEB_DIR", "add_static"]

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
STATIC_PREFIX = "/static/"


async def index(call: Call) -> web.StreamResponse:
    response = web.FileResponse(WEB_DIR / "index.html")
    response.headers["Cache-Control"] = "no-cache"
    response.content_type = "text/html"
    return response


def add_static(app: web.Application) -> None:
    """Serve ``web/`` under ``/static/`` (no directory listings, no symlinks out)."""
    app.router.add_static(STATIC_PREFIX, WEB_DIR, name="static", show_index=False)


CONTEXTS: tuple[CleanupContext, ...] = ()

OPERATIONS = (
    Operation(
        "GET",
        "/",
        index,
        "webShell",
        "The web interface (an HTML page; its scripts and styles come from /static/)",
        "web",
        DataClass.NONE,
        public=True,
        rate_limited=False,
        media_type="text/html",
    ),
)
