"""The task names that route work: what the beat schedule and the outbox send, a worker knows;
and the queues they are routed to, every worker consumes (a task routed to a queue nobody
consumes is a lost task)."""

import re
import shlex
from pathlib import Path

import pytest
from celery.bin.base import CLIContext
from celery.bin.worker import worker as worker_cli
from django.conf import settings

from refunds.integration.webhooks import DELIVER_TASK
from refunds.management.commands.rundemo import worker_command
from refunds.services import SCREEN_TASK
from refunds.services.notifications import SEND_TASK
from reviewhub.celery import app

ROOT = Path(__file__).resolve().parents[2]


def registered() -> set[str]:
    app.loader.import_default_modules()
    return set(app.tasks)


def queue_of(task: str) -> str:
    return app.amqp.router.route({}, task)["queue"].name


def routed_queues() -> set[str]:
    """The queues of every task a worker knows (the beat schedule's and the outbox's among them)."""
    return {queue_of(name) for name in registered()}


def consumed_by(arguments: list[str]) -> set[str]:
    """The queues a worker started with these arguments consumes, read by Celery's own command
    line: those of -Q, else every queue of CELERY_TASK_QUEUES; less those of -X."""
    context = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    options = worker_cli.make_context("worker", list(arguments), obj=context).params
    queues = set(options["queues"] or [queue.name for queue in settings.CELERY_TASK_QUEUES])
    return queues - set(options["exclude_queues"] or [])


def documented_worker_commands() -> list[tuple[str, list[str]]]:
    """Every ``celery -A reviewhub worker`` command of the README and DEPLOY.md, with its
    arguments (a systemd unit's continuation lines joined)."""
    found = []
    for name in ("README.md", "DEPLOY.md"):
        text = (ROOT / name).read_text().replace("\\\n", " ")
        for match in re.finditer(r"celery -A reviewhub worker([^`\n]*)", text):
            found.append((name, shlex.split(match.group(1))))
    return found


def test_every_job_of_the_beat_schedule_names_a_registered_task():
    app.finalize()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled and scheduled <= registered()


def test_the_screening_task_keeps_the_name_the_outbox_and_queued_messages_use():
    # Messages already in the broker, and outbox rows not yet relayed, carry this name.
    assert SCREEN_TASK == "screening.screen_application"
    assert SCREEN_TASK in registered()
    assert "screening.requeue_stale_screenings" in registered()


def test_webhook_deliveries_and_notifications_wait_in_their_own_queue_not_before_screenings():
    assert queue_of(SCREEN_TASK) == app.conf.task_default_queue
    assert queue_of(DELIVER_TASK) == queue_of(SEND_TASK) == settings.DELIVERIES_QUEUE
    assert queue_of("refunds.retry_due_webhooks") == queue_of("portal.remind_deadlines") == settings.DELIVERIES_QUEUE
    assert routed_queues() == {app.conf.task_default_queue, settings.DELIVERIES_QUEUE}


def test_beats_catch_up_jobs_do_not_wait_behind_a_backlog_of_screenings():
    catch_up = {entry["task"] for entry in app.conf.beat_schedule.values()} - {"reviewhub.heartbeat"}
    assert {queue_of(task) for task in catch_up} == {settings.DELIVERIES_QUEUE}
    # The heartbeat proves that the screening queue is consumed.
    assert queue_of("reviewhub.heartbeat") == app.conf.task_default_queue


def test_every_worker_command_the_readme_and_deploy_give_consumes_every_routed_queue():
    commands = documented_worker_commands()
    # The README's deployment line, DEPLOY.md's table, its systemd unit and its Procfile.
    assert len(commands) >= 4
    for document, arguments in commands:
        assert routed_queues() <= consumed_by(arguments), (document, arguments)


def test_the_embedded_worker_of_rundemo_consumes_every_routed_queue():
    command = worker_command()
    assert routed_queues() <= consumed_by(command[command.index("worker") + 1 :])


def test_a_worker_told_to_skip_the_deliveries_queue_would_not_consume_it():
    # The check above can fail: -Q and -X are read as a worker reads them.
    assert settings.DELIVERIES_QUEUE not in consumed_by(["-Q", app.conf.task_default_queue])
    assert settings.DELIVERIES_QUEUE not in consumed_by(["--exclude-queues", settings.DELIVERIES_QUEUE])


@pytest.mark.django_db
def test_the_test_worker_consumes_every_routed_queue(celery_worker):
    consumed = {queue.name for queue in celery_worker.consumer.task_consumer.queues}
    assert routed_queues() <= consumed


def test_each_pool_process_screens_with_one_opencv_thread_and_keeps_its_freed_planes(monkeypatch):
    # As the command line's screening workers do: the pool already spreads screenings over the
    # cores, and a plane handed back to the kernel is zeroed again by page faults.
    import cv2
    from celery.signals import worker_process_init

    from screening.core import memory

    kept = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: kept.append(True) or True)
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        worker_process_init.send(sender=None)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(threads)
    assert kept == [True]
