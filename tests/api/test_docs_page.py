"""The API documentation page at /schema works offline: everything it loads comes from the
service itself, and it names the contract's URLs."""

from __future__ import annotations

import fnmatch
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import httpx
import yaml

from tests.conftest import LiveServer

ROOT = Path(__file__).parents[2]
STATIC = ROOT / "service" / "api" / "static"


class _Links(HTMLParser):
    """Every URL the page would load or link to (src and href attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_docs_page_loads_everything_from_the_service(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.base_url}/schema")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = _Links()
    links.feed(page.text)
    assert "/schema/openapi.yaml" in links.urls
    assert "/schema/openapi.json" in links.urls
    for url in links.urls:
        if url.startswith("data:"):
            continue
        assert url.startswith("/"), f"{url} does not come from the service"
        assert not url.startswith("//"), f"{url} does not come from the service"
        assert httpx.get(f"{live_server.base_url}{url}").status_code == 200, url
    assert "https://" not in page.text and "http://" not in page.text
    # RapiDoc fetches its fonts from the web unless told not to.
    assert 'load-fonts="false"' in page.text


def test_the_page_script_is_the_bundled_one_and_cached(live_server: LiveServer) -> None:
    links = _Links()
    links.feed(httpx.get(f"{live_server.base_url}/schema").text)
    [script] = [url for url in links.urls if url.endswith(".js")]

    answer = httpx.get(f"{live_server.base_url}{script}")

    assert answer.headers["content-type"].startswith("text/javascript")
    assert "immutable" in answer.headers["cache-control"]
    assert answer.content == (STATIC / "rapidoc-min.js").read_bytes()


def test_the_contract_is_served_in_both_formats(live_server: LiveServer) -> None:
    as_yaml = yaml.safe_load(httpx.get(f"{live_server.base_url}/schema/openapi.yaml").text)
    as_json = httpx.get(f"{live_server.base_url}/schema/openapi.json").json()

    assert as_yaml == as_json
    assert as_json["openapi"].startswith("3.1")


def test_the_bundled_assets_are_package_data() -> None:
    """A non-editable install (the image) must carry them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["service"]

    for asset in STATIC.iterdir():
        relative = asset.relative_to(ROOT / "service").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_an_unknown_path_under_schema_answers_a_problem(live_server: LiveServer) -> None:
    # Litestar's own answer is an HTML page, which a client reading errors as JSON cannot use.
    for path in ("/schema/nope", "/schema/nope.json", "/schema/swagger", "/schema/"):
        response = httpx.get(f"{live_server.base_url}{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", path
        assert response.json()["instance"] == path
    assert httpx.get(f"{live_server.base_url}/schema/openapi.yml").status_code == 200
