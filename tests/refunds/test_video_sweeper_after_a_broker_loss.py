"""The packing-video sweeper after the broker lost its data: a video whose message went with it
is sent again at the next sweep, not after VIDEO_STALE_AFTER, as the screening sweeper does.

No worker runs in this module, so what is sent stays in the broker's queue. The broker losing
its data is a FLUSHDB of its own database, as a Redis restarted without persistence comes back.
"""

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from refunds import tasks
from refunds.models import RebuttalAttachment
from refunds.services import media
from refunds.services.media import PREPARE_VIDEO_TASK
from refunds.states import VideoState
from refunds.tasks import VIDEO_BROKER_MARKER, requeue_stale_screenings, requeue_stale_videos
from reviewhub.celery import app
from tests.refunds.services.test_media import contest_with_video

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not app.conf.broker_url.startswith("redis"), reason="needs the Redis broker"),
]

QUEUE = app.conf.task_default_queue


def broker_loses_its_data():
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()


def videos_sent():
    """The preparing messages waiting in the broker, by video."""
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        messages = [json.loads(raw) for raw in client.lrange(QUEUE, 0, -1)]
    return sorted(
        json.loads(base64.b64decode(m["body"]))[0][0] for m in messages if m["headers"]["task"] == PREPARE_VIDEO_TASK
    )


def marker_present():
    with app.connection_for_write() as connection:
        return connection.default_channel.client.exists(VIDEO_BROKER_MARKER) == 1


def test_a_video_whose_message_the_broker_lost_is_sent_again_at_the_next_sweep(product, merchant_owner, empty_queue):
    video = contest_with_video(product, merchant_owner)
    assert videos_sent() == [video.pk]
    broker_loses_its_data()
    assert videos_sent() == []
    assert requeue_stale_videos() == 1
    assert videos_sent() == [video.pk]
    assert marker_present()
    # The broker kept its data since: the next sweep keeps to the staleness rule.
    assert requeue_stale_videos() == 0
    assert videos_sent() == [video.pk]


def test_with_the_broker_intact_a_recent_video_is_left_to_the_staleness_rule(product, merchant_owner, empty_queue):
    contest_with_video(product, merchant_owner)
    app.control.purge()  # its message gone, the broker's other keys not (a worker died with it)
    assert requeue_stale_videos() == 0
    with time_machine.travel(timezone.now() + settings.VIDEO_STALE_AFTER + timedelta(seconds=1)):
        assert requeue_stale_videos() == 1


def test_the_screening_sweeper_seeing_the_loss_first_does_not_hide_it_from_the_video_sweeper(
    product, merchant_owner, empty_queue
):
    video = contest_with_video(product, merchant_owner)
    broker_loses_its_data()
    requeue_stale_screenings()
    assert requeue_stale_videos() == 1
    assert videos_sent() == [video.pk]


def test_after_a_loss_every_video_being_prepared_is_sent_however_many(
    product, merchant_owner, empty_queue, monkeypatch
):
    monkeypatch.setattr(media, "REQUEUE_BATCH", 2)
    videos = [contest_with_video(product, merchant_owner) for _ in range(5)]
    broker_loses_its_data()
    assert requeue_stale_videos() == 5
    assert videos_sent() == sorted(v.pk for v in videos)
    assert set(RebuttalAttachment.objects.values_list("video_state", flat=True)) == {VideoState.PREPARING}


def test_a_sweep_that_fails_after_the_loss_leaves_the_loss_to_the_next_sweep(
    product, merchant_owner, empty_queue, monkeypatch
):
    video = contest_with_video(product, merchant_owner)
    broker_loses_its_data()

    def database_gone(**kwargs):
        raise OperationalError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(tasks.services, "rebuttal_videos_requeue_stale", database_gone)
        with pytest.raises(OperationalError):
            requeue_stale_videos()
    assert not marker_present()
    assert requeue_stale_videos() == 1
    assert videos_sent() == [video.pk]
