"""Stored files answer byte ranges, as Safari needs to play a video, with the same safe headers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refunds import services
from refunds.models import RebuttalAttachment
from refunds.services import Actor
from refunds.states import ActorKind
from tests.factories import screen, submit, upload
from tests.refunds.portal.media import small_mp4

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(product, merchant_owner) -> RebuttalAttachment:
    application = screen(submit(product))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner),
        statement="Packed intact.",
        attachments=[upload(small_mp4(), "packing.mp4")],
    )
    return RebuttalAttachment.objects.get(rebuttal__application=application)


def get(client, video, **headers):
    return client.get(reverse("stored-file", args=["rebuttal", video.public_id]), headers=headers)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_range_gets_those_bytes_with_the_safe_headers(client, merchant_owner, video):
    client.force_login(merchant_owner)
    response = get(client, video, Range="bytes=0-99")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{len(small_mp4())}"
    assert body(response) == small_mp4()[:100]
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Type"] == "video/mp4"


def test_the_last_bytes_and_an_open_range_are_answered(client, merchant_owner, video):
    client.force_login(merchant_owner)
    assert body(get(client, video, Range="bytes=-10")) == small_mp4()[-10:]
    assert body(get(client, video, Range="bytes=1000-")) == small_mp4()[1000:]


def test_an_open_range_of_a_large_file_is_answered_in_part(client, merchant_owner, video, monkeypatch):
    monkeypatch.setattr("refunds.views.MAX_RANGE_BYTES", 64)
    client.force_login(merchant_owner)
    response = get(client, video, Range="bytes=0-")
    assert response["Content-Range"] == f"bytes 0-63/{len(small_mp4())}" and len(body(response)) == 64


def test_a_range_beyond_the_end_is_refused_and_no_range_gets_the_whole_file(client, merchant_owner, video):
    client.force_login(merchant_owner)
    size = len(small_mp4())
    refused = get(client, video, Range=f"bytes={size}-")
    assert refused.status_code == 416 and refused["Content-Range"] == f"bytes */{size}"
    whole = get(client, video)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes" and body(whole) == small_mp4()
    assert get(client, video, Range="bytes=0-1,5-9").status_code == 200


def test_a_range_is_no_way_around_the_shop_boundary(client, other_merchant, video):
    from django.contrib.auth.models import User

    from refunds.models import MerchantMember

    stranger = User.objects.create_user("stranger", password="pw")
    MerchantMember.objects.create(user=stranger, merchant=other_merchant)
    client.force_login(stranger)
    assert get(client, video, Range="bytes=0-99").status_code == 404
