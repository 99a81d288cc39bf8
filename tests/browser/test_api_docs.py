"""The API's documentation pages ask nothing of another site: fonts, scripts and images all come from this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("path", ["/api/v1/redoc/", "/api/v1/docs/"])
def test_the_api_docs_request_nothing_from_another_host(live_server, new_page, path):
    page = new_page(locale="en-US")
    local = urlsplit(live_server.url).hostname
    outside = []

    def guard(route):
        # Anything bound elsewhere is recorded and never let out.
        if urlsplit(route.request.url).hostname != local:
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", guard)
    page.goto(f"{live_server.url}{path}")
    # ReDoc draws the page from the schema in the browser after the load: wait for the title
    # (a loaded machine took longer than the network's idle moment), then for what it fetched.
    expect(page.locator("text=reviewhub").first).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert outside == []
