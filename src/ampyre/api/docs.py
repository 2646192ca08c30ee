"""The interactive API docs (Swagger UI) served from an installed package, never a CDN:
the page works offline and on air-gapped sites. The assets are the Swagger UI 5 bundle
that ships with the `fastapi-offline` package (its static files only)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline").joinpath("static")))


def install_docs(app: FastAPI, prefix: str) -> None:
    """`{prefix}/docs` (the page), `{prefix}/docs/assets/*` (JS, CSS, icon) and the OAuth2
    redirect page Swagger UI expects beside it."""
    docs = f"{prefix}/docs"
    assets = f"{docs}/assets"
    openapi_url = app.openapi_url or f"{prefix}/openapi.json"
    redirect = f"{docs}/oauth2-redirect"
    app.mount(assets, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get(docs, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            oauth2_redirect_url=redirect,
            # The default asks validator.swagger.io about the document: no outside calls.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
