"""The dashboard's files: served with a strict CSP, nothing fetched from elsewhere, and no
way for data to become markup (no innerHTML anywhere in our scripts)."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ampyre.web import STATIC_DIR, install_dashboard


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_dashboard(app)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_page_is_served_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/ui/js/app.js">' in r.text


async def test_modules_and_styles_are_served_with_their_types(client: httpx.AsyncClient) -> None:
    js = await client.get("/ui/js/app.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "content-security-policy" in js.headers
    css = await client.get("/ui/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await client.get("/ui/js/nope.js")).status_code == 404
    assert (await client.get("/ui/../__init__.py")).status_code == 404


def _sources() -> list[tuple[str, str]]:
    files = [p for p in STATIC_DIR.rglob("*") if p.suffix in {".js", ".html", ".css"}]
    assert len(files) >= 10
    return [(str(p.relative_to(STATIC_DIR)), p.read_text()) for p in files]


def test_nothing_is_fetched_from_another_origin() -> None:
    for name, text in _sources():
        # XML namespaces are names, not fetches.
        urls = [u for u in re.findall(r"https?://[^\s\"'`)]+", text) if "www.w3.org" not in u]
        assert urls == [], f"{name} refers to {urls}"
        assert "@import url(" not in text, name


def test_no_script_turns_data_into_markup() -> None:
    forbidden = re.compile(
        r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write\(|\beval\("
    )
    for name, text in _sources():
        if name.endswith(".js"):
            assert not forbidden.search(text), f"{name} builds markup from strings"


def test_every_page_module_is_registered() -> None:
    pages = STATIC_DIR / "js" / "pages"
    index = (pages / "index.js").read_text()
    for module in pages.glob("*.js"):
        if module.name != "index.js":
            assert f'from "./{module.name}"' in index, f"{module.name} is not in pages/index.js"
