"""The API's documentation pages ask nothing of another site: fonts, scripts and images all come from this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

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
    page.wait_for_load_state("networkidle")
    assert page.locator("text=reviewhub").first.is_visible()
    assert outside == []
