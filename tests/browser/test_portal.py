"""The merchant portal in Chromium: sign in, the dashboard by deadline, the heat-map beside the
catalogue photo, a contest with a photo and a packing video while the progress bar moves, a refusal
after the deadline, the language switch, and a phone-sized screen without sideways scrolling."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from refunds.models import MerchantMember, RefundApplication
from tests.browser.conftest import assert_no_horizontal_scroll
from tests.factories import FORGED_CUP, screen, submit
from tests.refunds.portal.media import small_mp4

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def claims(product, merchant) -> dict[str, RefundApplication]:
    """Acme's owner (password "pw-owner-browser") with a forged claim due soon and a clean one due later."""
    user = User.objects.create_user("acme-owner", password="pw-owner-browser")
    MerchantMember.objects.create(user=user, merchant=merchant)
    later = screen(submit(product, order_ref="order-later"))
    forged = screen(submit(product, order_ref="order-forged", evidence=[FORGED_CUP]))
    RefundApplication.objects.filter(pk=forged.pk).update(merchant_deadline=timezone.now() + timedelta(hours=3))
    return {"forged": forged, "later": later}


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/portal/")
    assert "/accounts/login/" in page.url
    page.get_by_label("用户名").fill("acme-owner")
    page.get_by_label("密码").fill("pw-owner-browser")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/portal/")


def watch_progress_bar(page) -> list[int]:
    """Return a list that collects every value the upload progress bar shows, until the page is left."""
    values: list[int] = []
    page.expose_function("reportProgress", lambda value: values.append(int(value)))
    page.evaluate("""() => {
        const bar = document.getElementById("upload-progress");
        new MutationObserver(() => window.reportProgress(bar.value)).observe(bar, {attributes: true});
    }""")
    return values


def packing_photo(path) -> str:
    """A noisy 1200×900 JPEG of about a megabyte: large enough for the upload to take a while."""
    pixels = np.random.default_rng(3).integers(0, 256, size=(900, 1200, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=92)
    return str(path)


def test_the_owner_contests_a_forged_claim_with_a_photo_and_a_packing_video(
    live_server, new_page, artifacts_dir, claims, tmp_path
):
    page = new_page(locale="zh-CN")
    sign_in(page, live_server.url)

    cards = page.locator("#needing-response .card-title").all_inner_texts()
    assert cards == ["订单 order-forged", "订单 order-later"]
    expect(page.locator("#needing-response .countdown").first).to_have_text(re.compile(r"^剩余 2:\d\d:\d\d$"))
    page.screenshot(path=str(artifacts_dir / "portal-dashboard-zh.png"), full_page=True)

    page.get_by_role("link", name="订单 order-forged").click()
    page.wait_for_load_state("load")
    expect(page.get_by_text("这张照片似乎由您的第 1 张商品图加工而来。")).to_be_visible()
    heat_map = page.locator(".heat-map img").first
    catalogue = page.locator(".matched-reference img").first
    for image in (heat_map, catalogue):
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    heat_box, catalogue_box = heat_map.bounding_box(), catalogue.bounding_box()
    assert abs(heat_box["y"] - catalogue_box["y"]) < 5 and catalogue_box["x"] > heat_box["x"] + heat_box["width"]
    page.screenshot(path=str(artifacts_dir / "portal-application-forged.png"), full_page=True)

    page.get_by_role("link", name="对退款提出异议").click()
    page.get_by_label("发货时商品完好（有打包照片或视频）").check()
    page.get_by_label("买家的照片经过修改或复制自我的商品图").check()
    page.get_by_label("您的说明").fill("发货前拍了打包视频，杯子完好无损。")
    video = tmp_path / "packing.mp4"
    video.write_bytes(small_mp4())
    page.locator("input[type=file]").set_input_files([packing_photo(tmp_path / "packing.jpg"), str(video)])
    expect(page.locator(".chosen li")).to_have_count(2)
    page.get_by_label("我已核对说明和文件；提交后无法更改。").check()
    # Slow the upload down so that the bar has something to show.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1_000_000},
    )
    progress = watch_progress_bar(page)
    page.get_by_role("button", name="提交申诉").click()
    page.wait_for_url(f"{live_server.url}/portal/applications/{claims['forged'].public_id}/")
    assert progress and progress[-1] == 100 and len(set(progress)) >= 3, progress
    expect(page.locator("#state")).to_have_text("人工审核中")
    expect(page.get_by_text("您的申诉已提交，将由审核员裁定。")).to_be_visible()
    expect(page.locator(".rebuttal .files li")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "portal-contested.png"), full_page=True)
    assert RefundApplication.objects.get(pk=claims["forged"].pk).state == "in_review"


def test_a_contest_sent_after_the_deadline_is_refused_on_the_page(live_server, new_page, artifacts_dir, claims):
    page = new_page(locale="zh-CN")
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/portal/applications/{claims['later'].public_id}/contest/")
    page.get_by_label("买家签收时未提出异议").check()
    page.get_by_label("您的说明").fill("签收时没有异议。")
    page.get_by_label("我已核对说明和文件；提交后无法更改。").check()
    RefundApplication.objects.filter(pk=claims["later"].pk).update(
        merchant_deadline=timezone.now() - timedelta(minutes=1)
    )
    page.get_by_role("button", name="提交申诉").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("商家回应时限已于")
    expect(summary).to_be_focused()
    page.screenshot(path=str(artifacts_dir / "portal-deadline-refused.png"), full_page=True)
    assert RefundApplication.objects.get(pk=claims["later"].pk).state == "awaiting_merchant"


def test_the_owner_switches_to_english_and_back(live_server, new_page, claims):
    page = new_page(locale="zh-CN")
    sign_in(page, live_server.url)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Waiting for your response")).to_be_visible()
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="等待您回应")).to_be_visible()


def test_the_portal_fits_a_375_pixel_phone(live_server, new_page, artifacts_dir, claims):
    page = new_page(width=375, height=812, locale="zh-CN")
    sign_in(page, live_server.url)
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / "portal-dashboard-375.png"), full_page=True)
    for name, path in [
        ("application", f"/portal/applications/{claims['forged'].public_id}/"),
        ("contest", f"/portal/applications/{claims['forged'].public_id}/contest/"),
        ("products", "/portal/products/"),
        ("product", f"/portal/products/{claims['forged'].product.public_id}/"),
        ("notifications", "/portal/notifications/"),
        ("landing", "/"),
    ]:
        page.goto(live_server.url + path)
        assert_no_horizontal_scroll(page)
        page.screenshot(path=str(artifacts_dir / f"portal-{name}-375.png"), full_page=True)


def test_files_dropped_on_the_zone_are_chosen_and_an_oversized_one_is_flagged(live_server, new_page, claims, settings):
    page = new_page(locale="zh-CN")
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/portal/applications/{claims['later'].public_id}/contest/")
    limit_mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
    transfer = page.evaluate_handle(f"""() => {{
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(1024)], "packing.jpg", {{type: "image/jpeg"}}));
        transfer.items.add(new File([new Uint8Array({limit_mb} * 1048576 + 1)], "huge.jpg", {{type: "image/jpeg"}}));
        return transfer;
    }}""")
    zone = page.locator("[data-drop-zone]")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    assert "over" in zone.get_attribute("class")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    assert page.locator("input[type=file]").evaluate("input => input.files.length") == 2
    chosen = page.locator(".chosen li")
    expect(chosen).to_have_count(2)
    expect(chosen.nth(0)).not_to_have_class("too-large")
    expect(chosen.nth(1)).to_have_class("too-large")
