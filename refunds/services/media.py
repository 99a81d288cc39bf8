"""Derived media: the playable copy and poster frame of a packing video (the original stays as sent)."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from refunds.errors import ErrorCode
from refunds.integration import outbox
from refunds.integration.uploads import store_derived
from refunds.models import RebuttalAttachment
from refunds.states import VideoState

log = logging.getLogger(__name__)

PREPARE_VIDEO_TASK = "refunds.prepare_rebuttal_video"


def rebuttal_video_enqueue(attachment: RebuttalAttachment) -> None:
    """Mark the video as being prepared and schedule its preparation in the current
    transaction's outbox (sent once it commits, never for a rollback)."""
    now = timezone.now()
    RebuttalAttachment.objects.filter(pk=attachment.pk).update(video_state=VideoState.PREPARING, video_queued_at=now)
    attachment.video_state, attachment.video_queued_at = VideoState.PREPARING, now
    outbox.schedule(PREPARE_VIDEO_TASK, [attachment.pk])


# Videos sent again per transaction, so that a sweep never holds many rows locked at once.
REQUEUE_BATCH = 100


def rebuttal_videos_requeue_stale(*, older_than: timedelta, every_batch: bool = False) -> int:
    """Send again the videos still being prepared whose last queuing or attempt is older than
    ``older_than`` (a message lost with a killed worker on a broker that drops it); return how
    many. The attempts counter still bounds each video's tries.

    ``every_batch``: all of them, a batch per transaction, rather than one batch (after the
    broker lost every message, none of them would otherwise be sent before it went stale)."""
    cutoff = timezone.now() - older_than
    sent = 0
    while True:
        with transaction.atomic():
            # Restamped rows are newer than the cutoff: a later batch never takes them again.
            stale = list(
                RebuttalAttachment.objects.select_for_update(skip_locked=True)
                .filter(video_state=VideoState.PREPARING, video_queued_at__lt=cutoff)
                .values_list("pk", flat=True)[:REQUEUE_BATCH]
            )
            RebuttalAttachment.objects.filter(pk__in=stale).update(video_queued_at=timezone.now())
            for pk in stale:
                outbox.schedule(PREPARE_VIDEO_TASK, [pk])
        sent += len(stale)
        if not every_batch or len(stale) < REQUEUE_BATCH:
            return sent


def rebuttal_video_register_attempt(*, attachment_id: int) -> int | None:
    """Count one delivery of the preparing task and return its number, or None if there is
    nothing (left) to prepare. Past VIDEO_MAX_ATTEMPTS the video is marked failed and None
    returned: a video that kills its worker is not tried forever."""
    with transaction.atomic():
        row = RebuttalAttachment.objects.select_for_update().filter(pk=attachment_id).first()
        if row is None or row.video_state != VideoState.PREPARING:
            return None
        row.video_attempts += 1
        row.video_queued_at = timezone.now()
        if row.video_attempts > settings.VIDEO_MAX_ATTEMPTS:
            row.video_state, row.video_failure = VideoState.FAILED, ErrorCode.VIDEO_NOT_PREPARED.value
            row.save(update_fields=["video_attempts", "video_queued_at", "video_state", "video_failure"])
            return None
        row.save(update_fields=["video_attempts", "video_queued_at"])
        return row.video_attempts


def rebuttal_video_fail(*, attachment_id: int, code: ErrorCode = ErrorCode.VIDEO_NOT_PREPARED) -> bool:
    """Mark a video still being prepared as failed, for the reason ``code``; return whether it was."""
    return bool(
        RebuttalAttachment.objects.filter(pk=attachment_id, video_state=VideoState.PREPARING).update(
            video_state=VideoState.FAILED, video_failure=code.value
        )
    )


def rebuttal_video_prepare(*, attachment_id: int) -> str:
    """Make the playable copy (H.264 in MP4) and the poster of a rebuttal's video and record
    them; return what happened. A video that cannot be decoded is marked failed with its
    reason. Idempotent: derived files are stored under their content hash, and only a video
    still being prepared is updated, so a second delivery changes nothing."""
    # Imported here: PyAV loads FFmpeg's libraries, which only the worker's conversion needs.
    from refunds.integration.video import VideoNotPlayable, prepare

    if rebuttal_video_register_attempt(attachment_id=attachment_id) is None:
        return "nothing to prepare"
    row = RebuttalAttachment.objects.get(pk=attachment_id)
    try:
        with row.file.open("rb") as source:
            prepared = prepare(source)
    except VideoNotPlayable as exc:
        rebuttal_video_fail(attachment_id=attachment_id, code=exc.code)
        log.info("rebuttal video %s cannot be played: %s", attachment_id, exc.code.value)
        return "failed"
    with prepared.video:
        playable = store_derived(prepared.video, folder="rebuttals/playable", extension="mp4")
    poster = store_derived(io.BytesIO(prepared.poster), folder="rebuttals/posters", extension="jpg")
    updated = RebuttalAttachment.objects.filter(pk=attachment_id, video_state=VideoState.PREPARING).update(
        video_state=VideoState.READY, playable_file=playable, poster_file=poster, video_failure=""
    )
    return "prepared" if updated else "prepared already"
