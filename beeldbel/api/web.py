"""The web shell: ``GET /`` serves ``web/index.html``; ``GET /static/{path}`` serves ``web/``;
``GET /join`` serves ``web/join.html``, the page behind a personal join link.

The front end is plain ES modules (no bundler, no build step): what is in ``web/`` is
what the browser gets. Pages are hash routes (``/#/account``), so the server needs no
route per page. The routes are declared operations like every other: a file that is not
there is a 404 in the one error shape, and paths cannot leave ``web/``.

The join page needs no sign-in. Its link carries the code in the fragment
(``/join#<code>``), which the browser never sends: the GET only serves the page, so a mail
scanner that prefetches the link changes nothing. The page's script POSTs the code to
``/api/v1/join``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from pydantic import Field

from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation
from beeldbel.api.schemas import Request
from beeldbel.errors import NotFound

__all__ = ["CONTEXTS", "OPERATIONS", "WEB_DIR"]

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
SERVED_SUFFIXES = frozenset({".html", ".js", ".css", ".json", ".svg", ".png", ".ico", ".woff2"})


class StaticPath(Request):
    path: str = Field(min_length=1, max_length=200)


def _page(name: str) -> web.StreamResponse:
    response = web.FileResponse(WEB_DIR / name)
    response.headers["Cache-Control"] = "no-cache"
    response.content_type = "text/html"
    return response


async def index(call: Call) -> web.StreamResponse:
    return _page("index.html")


async def join_page(call: Call) -> web.StreamResponse:
    return _page("join.html")


def resolve_static(path: str, root: Path = WEB_DIR) -> Path:
    """The file under ``root`` that ``path`` names; NotFound for anything else
    (missing files, directories, ``..``, hidden files, other kinds of file)."""
    parts = path.split("/")
    if any(part in {"", ".", ".."} or part.startswith(".") for part in parts):
        raise NotFound("no such file")
    candidate = root.joinpath(*parts).resolve()
    if (
        not candidate.is_relative_to(root.resolve())
        or not candidate.is_file()
        or candidate.suffix not in SERVED_SUFFIXES
    ):
        raise NotFound("no such file")
    return candidate


async def static(call: Call) -> web.StreamResponse:
    response = web.FileResponse(resolve_static(call.path_as(StaticPath).path))
    response.headers["Cache-Control"] = "no-cache"
    return response


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
    Operation(
        "GET",
        "/join",
        join_page,
        "joinPage",
        "The page behind a personal join link (/join#<code>): no sign-in",
        "web",
        DataClass.NONE,
        public=True,
        rate_limited=False,
        media_type="text/html",
        description="Serves the page only: the code is in the fragment, which browsers never "
        "send, and the page's script exchanges it with POST /api/v1/join.",
    ),
    Operation(
        "GET",
        "/static/{path:.+}",
        static,
        "webAsset",
        "A file of the web interface (scripts, styles, catalogs)",
        "web",
        DataClass.NONE,
        path_params=StaticPath,
        public=True,
        rate_limited=False,
        media_type="application/octet-stream",
    ),
)
