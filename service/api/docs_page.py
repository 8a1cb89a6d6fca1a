"""The API documentation page at /schema, served whole by the service: it works offline.

Litestar's documentation pages load their scripts, styles, fonts and icon from CDNs, so
without a network they are blank. This page loads RapiDoc (a single script) from the service
itself, reads the document from ``/schema/openapi.json`` and names the contract's URLs in plain
HTML, readable even without JavaScript.

``static/`` holds ``dist/rapidoc-min.js`` of the npm package ``rapidoc`` 9.3.8 (MIT; sha256
affbd173a65e870e18f392cca963113bcdafb6e50e88cd2f6a834a65b22db94d) and its licence files. To
update it, replace the file and RAPIDOC_VERSION together.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources
from typing import Any

from litestar import Request, Response, get
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.router import Router

RAPIDOC_VERSION = "9.3.8"
RAPIDOC_FILE = "rapidoc-min.js"
# Versioned, so a browser may keep it for good: a new release has a new URL.
ASSET_PATH = f"/assets/rapidoc-{RAPIDOC_VERSION}.min.js"
JSON_PATH = "/openapi.json"
YAML_PATH = "/openapi.yaml"

_STYLE = """
html, body { margin: 0; height: 100%; font-family: system-ui, sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 0.6rem 1rem; background: #f4f5f7; border-bottom: 1px solid #dde; }
header h1 { display: inline; margin: 0 1rem 0 0; font-size: 1.1rem; }
rapi-doc { flex: 1; min-height: 0; }
"""


@cache
def rapidoc_script() -> bytes:
    return resources.files("service.api").joinpath("static", RAPIDOC_FILE).read_bytes()


class OfflineDocsPlugin(OpenAPIRenderPlugin):
    """RapiDoc at the root of /schema, with its script served from the package."""

    def __init__(self) -> None:
        # No favicon: the default one is fetched from a CDN.
        super().__init__(path="/", favicon="<link rel='icon' href='data:,'>", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = self.get_openapi_json_route(request).removesuffix(JSON_PATH)
        info = openapi_schema["info"]
        title = escape(f"{info['title']} {info['version']}")
        json_url, yaml_url = base + JSON_PATH, base + YAML_PATH
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
{self.favicon}
<style>{_STYLE}</style>
<script defer src="{base}{ASSET_PATH}"></script>
</head>
<body>
<header>
<h1>{title}</h1>
The contract (OpenAPI 3.1): <a href="{yaml_url}">{yaml_url}</a> ·
<a href="{json_url}">{json_url}</a>
</header>
<noscript>This page needs JavaScript to show the operations; the contract above is
readable without it.</noscript>
<rapi-doc spec-url="{json_url}" render-style="read" show-header="false" theme="light"
  load-fonts="false" regular-font="system-ui, sans-serif" mono-font="ui-monospace, monospace"
  allow-authentication="true" schema-description-expanded="true"></rapi-doc>
<script>
// "Try" sends requests to the service that served this page, wherever it runs.
for (const name of ["server-url", "default-api-server"]) {{
  document.querySelector("rapi-doc").setAttribute(name, location.origin);
}}
</script>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        router.register(serve_rapidoc)


@get(ASSET_PATH, sync_to_thread=False, include_in_schema=False)
def serve_rapidoc() -> Response[bytes]:
    return Response(
        rapidoc_script(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
