"""The task names that route work: what the beat schedule and the outbox send, a worker knows."""

from refunds.services import SCREEN_TASK
from reviewhub.celery import app


def registered() -> set[str]:
    app.loader.import_default_modules()
    return set(app.tasks)


def test_every_job_of_the_beat_schedule_names_a_registered_task():
    app.finalize()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled and scheduled <= registered()


def test_the_screening_task_keeps_the_name_the_outbox_and_queued_messages_use():
    # Messages already in the broker, and outbox rows not yet relayed, carry this name.
    assert SCREEN_TASK == "screening.screen_application"
    assert SCREEN_TASK in registered()
    assert "screening.requeue_stale_screenings" in registered()
