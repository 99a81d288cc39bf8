"""A packing video the merchant recorded as MPEG-4 Part 2 plays on the reviewer's page and in
the merchant's own portal, turned the way the phone was held.

The video is written by OpenCV with fourcc ``mp4v``, as many phones' older encoders and
OpenCV itself write it. Chromium cannot decode that picture format (media error 4); the
worker's H.264 copy is what the page plays.
"""

from __future__ import annotations

import pytest

from refunds import services
from refunds.models import RebuttalAttachment
from refunds.services import Actor
from refunds.states import ActorKind, ApplicationState, VideoState
from tests.browser.conftest import portal_log_in, staff_log_in
from tests.conftest import wait_for
from tests.factories import make_staff, screen, submit, upload
from tests.refunds.portal.media import small_mp4, upright_phone_mp4

pytestmark = pytest.mark.django_db(transaction=True)

READY_STATE = "v => v.readyState >= 2 || (v.error && v.error.code)"


def contested_with_two_videos(product, owner, order_ref: str):
    """Return an application the shop contested with an MPEG-4 Part 2 video and one filmed
    with the phone upright, once the worker has made both playable copies."""
    application = screen(submit(product, order_ref=order_ref))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor.of_user(ActorKind.MERCHANT, owner),
        statement="Packed intact, see the videos.",
        attachments=[upload(small_mp4(frames=30), "packing.mp4"), upload(upright_phone_mp4(), "upright.mp4")],
    )
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    videos = RebuttalAttachment.objects.filter(rebuttal__application=application)
    wait_for(lambda: set(videos.values_list("video_state", flat=True)) == {VideoState.READY}, timeout=60)
    return application


def test_an_mpeg4_part_2_packing_video_plays_on_the_reviewers_page_once_prepared(
    live_server, new_page, artifacts_dir, celery_worker, product, merchant_owner
):
    make_staff("reviewer", "Reviewers")
    application = contested_with_two_videos(product, merchant_owner, "order-video")

    page = new_page(locale="en-GB")
    staff_log_in(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/admin/refunds/refundapplication/{application.pk}/change/")
    player = page.locator("#rebuttal video").first
    player.wait_for()
    player.scroll_into_view_if_needed()
    page.wait_for_function(READY_STATE, arg=player.element_handle())
    assert player.evaluate("v => [v.readyState >= 2, v.error, v.videoWidth, v.videoHeight]") == [True, None, 64, 48]
    assert player.get_attribute("poster")
    page.locator("#rebuttal").screenshot(path=str(artifacts_dir / "review-packing-video-en.png"))

    # The original, as the merchant sent it, is still offered, and is what Chromium cannot play.
    original = page.locator("#rebuttal a[download]").first.get_attribute("href")
    code = page.evaluate(
        """src => new Promise(done => {
            const v = document.createElement("video");
            v.muted = true; v.preload = "auto";
            v.onloadeddata = () => done("played");
            v.onerror = () => done(v.error.code);
            v.src = src;
        })""",
        original,
    )
    assert code == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED


def test_the_merchant_watches_its_own_packing_videos_in_the_portal_the_way_they_were_filmed(
    live_server, new_page, artifacts_dir, celery_worker, product, merchant_owner
):
    application = contested_with_two_videos(product, merchant_owner, "order-own-video")

    page = new_page(locale="en-GB")
    portal_log_in(page, live_server.url, "owner", "pw-owner")
    page.goto(f"{live_server.url}/portal/applications/{application.public_id}/")
    players = page.locator(".rebuttal video")
    assert players.count() == 2
    sizes = []
    for n in range(2):
        player = players.nth(n)
        player.scroll_into_view_if_needed()
        page.wait_for_function(READY_STATE, arg=player.element_handle())
        assert player.evaluate("v => [v.readyState >= 2, v.error]") == [True, None]
        assert player.get_attribute("poster")
        sizes.append(player.evaluate("v => [v.videoWidth, v.videoHeight]"))
    # The phone held upright recorded 64 x 32 with a quarter turn: it is shown 32 wide, 64 high.
    assert sizes == [[64, 48], [32, 64]]
    assert page.locator(".rebuttal a[download]").count() == 2
    page.locator(".rebuttal").screenshot(path=str(artifacts_dir / "portal-packing-videos-en.png"))
