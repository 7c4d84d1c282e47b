"""The pages share links land on: `/{locale}/{route}/` (download page) and `/` (landing page).

Static, no external assets, a strict Content-Security-Policy. The fragment (id and key) is never sent
to the server; the page's script only copies the page's own address into an `sgsend://` link.
"""

from __future__ import annotations

import re
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

LOCALE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")  # 3 letters too: upstream has /tlh/ pages
ROUTES = {"download", "view", "browse", "gallery", "v"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
ASSETS = {"download.js": "application/javascript", "page.css": "text/css"}


def static_text(name: str) -> bytes:
    return resources.files("sgsend_desktop.server").joinpath("static", name).read_bytes()


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/")
    async def landing() -> Response:
        return Response(
            static_text("index.html"), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
        )

    @router.get("/_static/{name}")
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(status_code=404, detail="Not found")
        return Response(static_text(name), media_type=ASSETS[name], headers=PAGE_HEADERS)

    @router.get("/{locale}/{route}/")
    async def download_page(locale: str, route: str) -> Response:
        if not LOCALE.fullmatch(locale) or route not in ROUTES:
            raise HTTPException(status_code=404, detail="Not found")
        return Response(
            static_text("download.html"), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
        )

    @router.get("/{locale}/{route}")
    async def download_page_no_slash(locale: str, route: str) -> Response:
        return await download_page(locale, route)

    return router
