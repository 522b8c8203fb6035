"""The API reference at /api/docs: Swagger UI from the hub itself.

fastapi-offline ships Swagger UI's files, so the page works on an offline install and under the
portal's Content-Security-Policy (scripts and styles from 'self' only, nothing inline): the page
loads the bundle and a small start-up script, both served here.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS = "/api/docs"
ASSETS = f"{DOCS}/assets"
_SWAGGER_FILES = Path(fastapi_offline.__file__).parent / "static"
_CACHE = {"Cache-Control": "public, max-age=3600"}

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>CSGHub API reference</title>
  <link rel="icon" href="{ASSETS}/favicon.png">
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="{DOCS}/start.js"></script>
</body>
</html>
"""


def _start_script(openapi_url: str) -> str:
    return (
        "window.ui = SwaggerUIBundle({"
        f"url: {openapi_url!r}, dom_id: '#swagger-ui', deepLinking: true, "
        # No validator badge: it is an image from validator.swagger.io.
        "presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout', validatorUrl: null});\n"
    )


def mount_reference(app: FastAPI) -> None:
    """Serve /api/docs; FastAPI's own docs page must be off (docs_url=None): it loads a CDN."""
    script = _start_script(app.openapi_url or "/api/openapi.json")

    @app.get(DOCS, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(_PAGE)

    @app.get(f"{DOCS}/start.js", include_in_schema=False)
    def api_docs_script() -> Response:
        return Response(script, media_type="text/javascript", headers=_CACHE)

    app.mount(ASSETS, StaticFiles(directory=_SWAGGER_FILES), name="api-docs-assets")
