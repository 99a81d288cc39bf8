"""A packing video's playable copy: made once in the worker after the contest commits, the
original kept byte for byte, and a video that cannot be converted left in a clear failed state."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import av
import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone

from refunds import services
from refunds.errors import ErrorCode
from refunds.integration import outbox
from refunds.models import RebuttalAttachment
from refunds.services import Actor
from refunds.services.media import PREPARE_VIDEO_TASK
from refunds.states import ActorKind, VideoState
from tests.conftest import wait_for
from tests.factories import screen, submit, upload
from tests.refunds.portal.media import small_mp4, sound_only_mp4


def contest_with_video(product, merchant_owner, data: bytes = b"") -> RebuttalAttachment:
    application = screen(submit(product))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner),
        statement="Packed intact, see the video.",
        attachments=[upload(data or small_mp4(), "packing.mp4")],
    )
    return RebuttalAttachment.objects.get(rebuttal__application=application)


def codec_of(name: str) -> str:
    with default_storage.open(name, "rb") as handle, av.open(handle) as container:
        return container.streams.video[0].codec_context.name


@pytest.mark.django_db
def test_a_contested_video_waits_to_be_prepared_with_its_task_in_the_outbox(product, merchant_owner):
    video = contest_with_video(product, merchant_owner)
    assert video.video_state == VideoState.PREPARING
    assert not video.playable_file and not video.poster_file


@pytest.mark.django_db
def test_preparing_makes_an_h264_copy_and_a_poster_and_leaves_the_original_as_sent(product, merchant_owner):
    video = contest_with_video(product, merchant_owner)
    assert services.rebuttal_video_prepare(attachment_id=video.pk) == "prepared"
    video.refresh_from_db()
    assert video.video_state == VideoState.READY and video.video_attempts == 1
    assert codec_of(video.playable_file.name) == "h264"
    assert video.poster_file.name.endswith(".jpg")
    with default_storage.open(video.file.name, "rb") as handle:
        original = handle.read()
    assert original == small_mp4() and hashlib.sha256(original).hexdigest() == video.sha256
    assert codec_of(video.file.name) == "mpeg4"


@pytest.mark.django_db
def test_a_second_delivery_changes_nothing(product, merchant_owner):
    video = contest_with_video(product, merchant_owner)
    services.rebuttal_video_prepare(attachment_id=video.pk)
    video.refresh_from_db()
    assert services.rebuttal_video_prepare(attachment_id=video.pk) == "nothing to prepare"
    again = RebuttalAttachment.objects.get(pk=video.pk)
    assert (again.playable_file.name, again.video_attempts) == (video.playable_file.name, 1)


@pytest.mark.django_db
def test_a_stored_video_without_a_picture_ends_failed_with_its_reason(product, merchant_owner):
    # A video of its own: files are stored by content, and this one is about to be spoilt.
    video = contest_with_video(product, merchant_owner, small_mp4(frames=7))
    # The stored file goes bad before the worker reads it (storage corruption).
    with default_storage.open(video.file.name, "wb") as handle:
        handle.write(sound_only_mp4())
    assert services.rebuttal_video_prepare(attachment_id=video.pk) == "failed"
    video.refresh_from_db()
    assert (video.video_state, video.video_failure) == (VideoState.FAILED, ErrorCode.UNPLAYABLE_VIDEO)
    assert video.video_failure_message == str(ErrorCode.UNPLAYABLE_VIDEO.message)
    assert services.rebuttal_video_prepare(attachment_id=video.pk) == "nothing to prepare"


@pytest.mark.django_db
def test_a_video_whose_deliveries_keep_dying_is_marked_failed_instead_of_tried_forever(
    product, merchant_owner, settings
):
    settings.VIDEO_MAX_ATTEMPTS = 2
    video = contest_with_video(product, merchant_owner)
    # Two deliveries that killed their worker: counted, never finished.
    RebuttalAttachment.objects.filter(pk=video.pk).update(video_attempts=2)
    assert services.rebuttal_video_prepare(attachment_id=video.pk) == "nothing to prepare"
    video.refresh_from_db()
    assert (video.video_state, video.video_failure) == (VideoState.FAILED, ErrorCode.VIDEO_NOT_PREPARED)
    assert not video.playable_file


@pytest.mark.django_db(transaction=True)
def test_the_worker_prepares_the_video_once_the_contest_commits(celery_worker, product, merchant_owner):
    video = contest_with_video(product, merchant_owner)
    wait_for(lambda: RebuttalAttachment.objects.get(pk=video.pk).video_state == VideoState.READY, timeout=60)
    assert outbox.pending(PREPARE_VIDEO_TASK) == 0
    with default_storage.open(RebuttalAttachment.objects.get(pk=video.pk).playable_file.name, "rb") as handle:
        data = handle.read()
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


@pytest.mark.django_db
def test_a_video_whose_message_was_lost_is_sent_again_and_one_being_converted_is_not(product, merchant_owner, settings):
    lost = contest_with_video(product, merchant_owner)
    busy = contest_with_video(product, merchant_owner, small_mp4(frames=9))
    sent_before = outbox.pending(PREPARE_VIDEO_TASK)
    later = timezone.now() + settings.VIDEO_STALE_AFTER + timedelta(seconds=1)
    with time_machine.travel(later):
        # A worker took the busy one a moment ago; nothing has been heard of the other.
        services.media.rebuttal_video_register_attempt(attachment_id=busy.pk)
        assert services.rebuttal_videos_requeue_stale(older_than=settings.VIDEO_STALE_AFTER) == 1
        assert services.rebuttal_videos_requeue_stale(older_than=settings.VIDEO_STALE_AFTER) == 0
    assert outbox.pending(PREPARE_VIDEO_TASK) == sent_before + 1
    assert services.rebuttal_video_prepare(attachment_id=lost.pk) == "prepared"
