"""The local server's two non-GraphQL routes: the farm page, and stored render files.

- ``/`` (and ``/farm.js``, ``/farm.css``): the page of renderlib/jobs/web/, which talks
  to ``/graphql`` on the same origin, or to the https jobs API (AppSync) named at sign-in.
  Its Content-Security-Policy lets it load scripts and styles from nowhere else, and
  fetch from no other plain-http origin.
- ``/files/KEY?expires=T&signature=S``: a file of the farm's storage, given a link that
  the API handed to a caller allowed to read its RenderRun (renderlib/jobs/media_links.py).
  Only keys under ``renders/`` that exist are served, with HTTP byte ranges (a ``<video>``
  seeks with them); anything else is 404, a bad or expired link 403.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from urllib.parse import unquote

from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from renderlib.errors import InvalidValueError
from renderlib.farm.storage import RENDERS_PREFIX, LocalStorage
from renderlib.jobs.fields import key_in
from renderlib.jobs.media_links import FILES_PATH, LocalLinks

PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/farm.js": ("farm.js", "text/javascript; charset=utf-8"),
    "/farm.css": ("farm.css", "text/css; charset=utf-8"),
}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        # https: for a cloud API the user names at sign-in and its presigned S3 links.
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; "
        "media-src 'self' https:; connect-src 'self' https:; form-action 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def is_page_path(path: str) -> bool:
    return path in PAGE_FILES or path == "/favicon.ico"


def page_app(environ: dict, start_response):
    path = environ.get("PATH_INFO") or "/"
    if path not in PAGE_FILES:  # the page has no icon; say so without an error
        return Response(status=204)(environ, start_response)
    name, content_type = PAGE_FILES[path]
    body = resources.files("renderlib.jobs").joinpath("web", name).read_bytes()
    response = Response(body, content_type=content_type, headers=PAGE_HEADERS)
    return response(environ, start_response)


def is_file_path(path: str) -> bool:
    return path.startswith(FILES_PATH)


def files_app(storage_root: Path | None, links: LocalLinks):
    """The WSGI app serving ``/files/KEY`` from the storage folder ``storage_root``."""
    storage = LocalStorage(storage_root) if storage_root is not None else None

    def app(environ: dict, start_response):
        request = Request(environ)
        key = unquote(request.path[len(FILES_PATH) :])
        response = _file_response(storage, links, request, key)
        return response(environ, start_response)

    return app


def _file_response(
    storage: LocalStorage | None, links: LocalLinks, request: Request, key: str
) -> Response:
    if storage is None:
        return _plain(404, "this jobs API serves no storage (start it with --storage)")
    if not links.verify(key, request.args.get("expires"), request.args.get("signature")):
        return _plain(403, "the link is not valid or has expired: ask the jobs API for a new one")
    try:
        path = storage.path(key)
    except InvalidValueError:
        return _plain(404, "no such file")
    if not key_in(key, RENDERS_PREFIX) or not path.is_file():
        return _plain(404, "no such file")
    response = send_file(
        path,
        request.environ,
        mimetype=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")
