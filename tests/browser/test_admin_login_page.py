"""The admin's login page renders in Chromium, in Chinese by default, within 1440 px."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_horizontal_scroll

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_admin_login_page_speaks_chinese_and_fits_the_screen(live_server, new_page, artifacts_dir):
    page = new_page(locale="zh-CN")
    page.goto(f"{live_server.url}/admin/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("input[name=username]").is_visible()
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / "admin-login-zh.png"))
