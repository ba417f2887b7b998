"""The dashboard's static files (``eventsvc/web/``) at ``/``: ES modules, styles and the
vendored chart library, served as they are from the package (no build step, nothing fetched
from elsewhere).

Only the files the package holds are served, listed once when the router is made, so no
request path reaches the file system. The page reads the public API like any other client;
these files need no token (they hold no data), the API calls they make do.
"""

from __future__ import annotations

from importlib import resources
from pathlib import PurePosixPath

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from eventsvc.errors import NotFoundError

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
}
# The page changes with the package: a browser asks again each time rather than run an old one.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def web_files() -> dict[str, str]:
    """Every file of ``eventsvc/web/`` by its path below it."""
    root = resources.files("eventsvc") / "web"
    found: dict[str, str] = {}
    pending = [(root, PurePosixPath())]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((entry, prefix / entry.name))
            elif PurePosixPath(entry.name).suffix in MEDIA_TYPES:
                found[str(prefix / entry.name)] = str(entry)
    return found


def web_routes() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    files = web_files()

    def served(name: str) -> Response:
        if name not in files:
            raise NotFoundError(f"no dashboard file {name!r}")
        media_type = MEDIA_TYPES[PurePosixPath(name).suffix]
        return FileResponse(files[name], media_type=media_type, headers=HEADERS)

    @router.get("/")
    async def index() -> Response:
        return served("index.html")

    @router.get("/web/{name:path}")
    async def web_file(name: str) -> Response:
        return served(name)

    return router
