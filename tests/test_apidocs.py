"""``GET /hal/api/docs``: Swagger UI, served by the server itself and behind its login.

The browser side ("Try it out" on a real page) is in test_browser.py; here, what
the page and its files are, who may fetch them, and that a browser's cookie login
can call the API from the page as ``apidocs_init.js`` does (the XSRF header).
"""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from hal_jupyter.server import apidocs
from hal_jupyter.server.openapi import openapi_document

from . import canaries

SERVER = Path(apidocs.__file__).parent
ASSETS = {
    "swagger-ui-bundle.js": ("text/javascript; charset=UTF-8", SERVER / "apidocs" / "swagger-ui-bundle.js"),
    "swagger-ui.css": ("text/css; charset=UTF-8", SERVER / "apidocs" / "swagger-ui.css"),
    "favicon-32x32.png": ("image/png", SERVER / "apidocs" / "favicon-32x32.png"),
    "apidocs_init.js": ("text/javascript; charset=UTF-8", SERVER / "apidocs_init.js"),
}


@pytest.fixture
def fetch(api, http_server_client, jp_auth_header, jp_base_url):
    """A request whose path goes out as written (``jp_fetch`` escapes ``%`` again and adds ``?``),
    with the test's token unless ``headers`` says otherwise, following no redirect."""

    async def send(path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
        response = await http_server_client.fetch(
            f"{jp_base_url}hal/api/{path}",
            method=method,
            body=b"" if method == "POST" else None,
            headers=jp_auth_header if headers is None else headers,
            follow_redirects=False,
            raise_error=False,
        )
        canaries.record(canaries.HTTP, response.body)
        return response

    return send


def cookies(response: Any) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


async def test_the_page_is_swagger_ui_on_our_own_files(fetch, jp_base_url, jp_serverapp):
    for path in ("docs", "docs/"):
        response = await fetch(path)
        assert response.code == 200
        assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
        page = response.body.decode()
        assert "<title>hal-jupyter API</title>" in page
        assert '<div id="swagger-ui"></div>' in page
        static = f"{jp_base_url}hal/api/docs/static/"
        assert f'<link rel="stylesheet" href="{static}swagger-ui.css">' in page
        assert f'<script src="{static}swagger-ui-bundle.js"></script>' in page
        assert f'<script src="{static}apidocs_init.js" data-openapi-url="{jp_base_url}hal/api/openapi.json">' in page
        assert "http://" not in page and "https://" not in page  # no CDN
        assert jp_serverapp.identity_provider.token not in page
        assert "_xsrf" in cookies(response)  # what apidocs_init.js sends back as X-XSRFToken


@pytest.mark.parametrize("name", list(ASSETS))
async def test_the_page_files_are_served_with_their_type(fetch, name):
    content_type, path = ASSETS[name]
    response = await fetch(f"docs/static/{name}")
    assert response.code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.body == path.read_bytes()


def test_the_start_script_uses_the_page_url_and_sends_the_xsrf_cookie_back():
    script = ASSETS["apidocs_init.js"][1].read_text()
    assert "document.currentScript.dataset.openapiUrl" in script
    assert 'dom_id: "#swagger-ui"' in script
    assert 'getCookie("_xsrf")' in script and 'request.headers["X-XSRFToken"] = xsrf' in script
    assert "http://" not in script and "https://" not in script


@pytest.mark.parametrize("bad", ["", "token not-the-token"])
async def test_without_a_login_the_page_goes_to_the_login_form(fetch, jp_base_url, bad):
    response = await fetch("docs", headers={"Authorization": bad})
    assert response.code == 302
    assert response.headers["Location"] == f"{jp_base_url}login?" + urlencode({"next": f"{jp_base_url}hal/api/docs"})


@pytest.mark.parametrize("bad", ["", "token not-the-token"])
@pytest.mark.parametrize("name", list(ASSETS))
async def test_without_a_login_the_files_are_refused(fetch, name, bad):
    response = await fetch(f"docs/static/{name}", headers={"Authorization": bad})
    assert response.code == 403
    assert b"swagger" not in response.body.lower()


@pytest.mark.parametrize(
    "path",
    [
        "..%2Fapidocs.py",
        "..%2F..%2Fserver%2Fhandlers.py",
        "%2E%2E%2Fapp.py",
        "%2Fetc%2Fpasswd",
        "LICENSE",  # in the folder, but not one of the page's files
        "package.json",
        "..",
        "apidocs_init.js%00.py",
        "static/../apidocs.py",
    ],
)
async def test_no_other_file_is_reachable(fetch, path):
    response = await fetch(f"docs/static/{path}")
    assert response.code in (400, 404), (path, response.code)
    assert b"import" not in response.body and b"root:" not in response.body


async def test_openapi_servers_is_the_base_url(fetch, jp_base_url):
    response = await fetch("openapi.json")
    assert response.code == 200
    assert json.loads(response.body)["servers"] == [{"url": jp_base_url.rstrip("/")}]
    assert openapi_document()["servers"] == [{"url": "/"}]  # the cached document is left as it was


class TestUnderJupyterHub:
    @pytest.fixture
    def jp_base_url(self) -> str:
        return "/user/alice/"

    async def test_page_and_servers_follow_the_base_url(self, fetch):
        response = await fetch("openapi.json")
        assert json.loads(response.body)["servers"] == [{"url": "/user/alice"}]
        page = (await fetch("docs")).body.decode()
        assert 'data-openapi-url="/user/alice/hal/api/openapi.json"' in page
        assert set(re.findall(r'(?:src|href)="([^"]+)"', page)) == {
            f"/user/alice/hal/api/docs/static/{name}" for name in ASSETS
        }
        assert (await fetch("docs/static/swagger-ui.css")).code == 200


class TestAtTheRoot:
    @pytest.fixture
    def jp_base_url(self) -> str:
        return "/"

    async def test_servers_is_the_root(self, fetch):
        response = await fetch("openapi.json")
        assert json.loads(response.body)["servers"] == [{"url": "/"}]


async def test_try_it_out_with_the_browser_login_needs_the_xsrf_header(fetch, jp_base_url):
    """As the page does: a cookie login (set when the page was opened with the token),
    GETs as they are, POSTs with the _xsrf cookie copied into X-XSRFToken."""
    jar = cookies(await fetch("docs"))
    assert "_xsrf" in jar and len(jar) >= 2, jar  # the login cookie and the XSRF cookie
    browser = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    response = await fetch("providers", headers=browser)
    assert response.code == 200 and json.loads(response.body)["providers"]
    response = await fetch("jobs/nope/cancel", headers=browser, method="POST")
    assert response.code == 403  # no XSRF header: jupyter_server refuses
    response = await fetch("jobs/nope/cancel", headers={**browser, "X-XSRFToken": jar["_xsrf"]}, method="POST")
    assert response.code == 404 and json.loads(response.body)["type"] == "JobNotFound"


async def test_without_built_assets_the_page_says_how_to_build_them(fetch, monkeypatch, tmp_path):
    monkeypatch.setattr(apidocs, "SWAGGER_UI", tmp_path / "apidocs")  # a source checkout without the JS build
    response = await fetch("docs")
    assert response.code == 503
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.body)
    assert body["type"] == "DocsNotBuilt"
    assert "not built" in body["message"] and "pip install ." in body["message"]
    assert (await fetch("docs/static/swagger-ui-bundle.js")).code == 404
