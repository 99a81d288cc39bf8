"""A wrong address gets the project's own page, in the visitor's language, with a way on."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_wrong_address_shows_the_translated_404_page_with_links(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 404
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "找不到页面" in page and "Page not found" not in page
    assert 'href="/portal/"' in page and 'href="/"' in page
    assert "URLconf" not in page


def test_a_reviewer_is_offered_the_queue_from_the_404_page(client, reviewer):
    client.force_login(reviewer)
    page = client.get("/admin/no-such-page/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Page not found" in page and 'href="/admin/refunds/refundapplication/"' in page
