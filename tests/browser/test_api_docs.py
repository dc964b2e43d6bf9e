"""/docs renders in the browser from the app's own files (this machine's network is closed, so a
CDN-loaded Swagger UI would stay blank)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect

from .test_portal import new_context, shot


def test_the_api_docs_render_without_a_cdn(server: Any, browser: Browser) -> None:
    context = new_context(browser, locale="en")
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("huzhu API")
    expect(page.get_by_text("/api/v1/auth/register").first).to_be_visible()
    shot(page, "40-api-docs-en")
    assert requested and all(url.startswith(server.url) for url in requested), requested
    context.close()
