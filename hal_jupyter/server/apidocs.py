"""Interactive API docs: Swagger UI at ``GET /hal/api/docs``, on this server's own OpenAPI document.

Everything is served by the server itself, behind Jupyter's login like the API:
machines running the HAL are often offline, and a CDN would see who reads
what. Swagger UI's files come from the npm package swagger-ui-dist, copied into
``apidocs/`` by the JavaScript build (a wheel has them; a source checkout has
them once built, else the page answers 503 saying so). Our start-up script,
``apidocs_init.js``, is in git: it points Swagger UI at ``openapi.json`` under
the server's base_url (given in the page, HTML-escaped) and sends Jupyter's
XSRF cookie back as the ``X-XSRFToken`` header, as JupyterLab does, so that
"Try it out" can POST with the login cookie. No token is ever put in the page.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from ..engine import errors
from .base import AUTH_RESOURCE, PREFIX, DomainErrors

#: Swagger UI's files (built from swagger-ui-dist, not in git).
SWAGGER_UI = Path(__file__).with_name("apidocs")
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
#: Starts Swagger UI on the page (in git).
START_SCRIPT = Path(__file__).with_name("apidocs_init.js")
CONTENT_TYPES = {".js": "text/javascript; charset=UTF-8", ".css": "text/css; charset=UTF-8", ".png": "image/png"}
NOT_BUILT = (
    "the API docs' assets are not built: install hal-jupyter from a wheel, "
    "or build it with Node.js (pip install .)"
)
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hal-jupyter API</title>
<link rel="icon" type="image/png" href="{static}favicon-32x32.png">
<link rel="stylesheet" href="{static}swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{static}swagger-ui-bundle.js"></script>
<script src="{static}{start}" data-openapi-url="{openapi}"></script>
</body>
</html>
"""


def asset_path(name: str) -> Path | None:
    """The file served as ``docs/static/<name>``; None for any other name (so no path leads elsewhere)."""
    if name == START_SCRIPT.name:
        return START_SCRIPT
    return SWAGGER_UI / name if name in SWAGGER_FILES else None


@functools.lru_cache(maxsize=8)
def _read(path: Path, mtime_ns: int) -> bytes:
    """A file's bytes, read once per version (the bundle is 1.5 MB; a rebuild changes its mtime)."""
    return path.read_bytes()


def assets_built() -> bool:
    return all((SWAGGER_UI / name).is_file() for name in SWAGGER_FILES)


class DocsPageHandler(DomainErrors, ExtensionHandlerMixin, JupyterHandler):
    """``GET /hal/api/docs``: the Swagger UI page (a browser without a login goes to the login page)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self) -> None:
        if not assets_built():
            raise errors.DocsNotBuilt(NOT_BUILT)
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie that apidocs_init.js sends back on POST
        static = url_path_join(self.base_url, "hal/api/docs/static/")
        openapi = url_path_join(self.base_url, "hal/api/openapi.json")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(PAGE.format(static=html.escape(static), start=START_SCRIPT.name, openapi=html.escape(openapi)))


class DocsAssetHandler(ExtensionHandlerMixin, JupyterHandler):
    """``GET /hal/api/docs/static/<name>``: one of the page's files, to logged-in users only."""

    auth_resource = AUTH_RESOURCE

    def get_login_url(self) -> str:
        raise web.HTTPError(403)  # a script or a stylesheet is refused, not sent to the login form

    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        path = asset_path(name)
        if path is None or not path.is_file():
            raise web.HTTPError(404)
        self.set_header("Content-Type", CONTENT_TYPES[path.suffix])
        self.set_header("Cache-Control", "no-cache")  # revalidated by ETag: a rebuild is seen at once
        self.finish(_read(path, path.stat().st_mtime_ns))


default_handlers = [
    (rf"{PREFIX}/docs/?", DocsPageHandler),
    (rf"{PREFIX}/docs/static/(?P<name>[^/]+)", DocsAssetHandler),
]
