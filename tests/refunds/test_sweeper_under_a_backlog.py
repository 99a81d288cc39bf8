"""The screening sweeper under a backlog: a message that waits in a long queue is not lost.

No worker runs in this module, so what is sent stays in the broker's queue, as it does behind
a backlog. The sweeper must leave such applications alone and enqueue them again only once
their messages are gone (a broker that lost its queue). A broker that lost all its data since
the last sweep (its marker gone) has lost every message: the applications still waiting are
then enqueued at once, without waiting for them to go stale."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from refunds import tasks
from refunds.integration import outbox
from refunds.models import RefundApplication
from refunds.services import application_requeue_stale_screenings
from refunds.tasks import BROKER_MARKER, _messages_waiting, requeue_stale_screenings
from reviewhub.celery import app
from tests.factories import jpeg, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not app.conf.broker_url.startswith("redis"), reason="needs the Redis broker"),
]

QUEUE = app.conf.task_default_queue


def stale_submissions(product, count):
    applications = recent_submissions(product, count)
    RefundApplication.objects.filter(pk__in=[a.pk for a in applications]).update(
        screening_enqueued_at=timezone.now() - timedelta(hours=1)
    )
    return applications


def recent_submissions(product, count, *, first=0):
    return [
        submit(product, evidence=[jpeg(seed=70 + n)], order_ref=f"backlog-{n}") for n in range(first, first + count)
    ]


def broker_loses_its_data():
    """FLUSHDB of the broker's own database, as a Redis restarted without persistence comes back."""
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()


def marker_present():
    with app.connection_for_write() as connection:
        return connection.default_channel.client.exists(BROKER_MARKER) == 1


def test_the_queue_depth_counts_the_messages_waiting(product, empty_queue):
    assert _messages_waiting(QUEUE) == 0
    stale_submissions(product, 2)
    assert _messages_waiting(QUEUE) == 2


def test_applications_whose_messages_still_wait_are_not_enqueued_again(product, empty_queue):
    stale_submissions(product, 3)
    assert requeue_stale_screenings() == 0
    assert requeue_stale_screenings() == 0
    assert _messages_waiting(QUEUE) == 3


def test_applications_whose_messages_were_lost_are_enqueued_again(product, empty_queue):
    stale_submissions(product, 3)
    app.control.purge()  # the messages are gone, the broker's other keys not (its marker is there)
    assert requeue_stale_screenings() == 3
    assert _messages_waiting(QUEUE) == 3
    # Their new messages now wait for them: the next round enqueues nothing more.
    RefundApplication.objects.update(screening_enqueued_at=timezone.now() - timedelta(hours=1))
    assert requeue_stale_screenings() == 0


def test_a_queue_that_lost_some_messages_has_every_stale_application_enqueued(product, empty_queue):
    stale_submissions(product, 3)
    with app.connection_for_write() as connection:
        connection.default_channel.client.lpop(QUEUE)  # one message lost
    assert _messages_waiting(QUEUE) == 2
    assert requeue_stale_screenings() == 3


def test_two_sweeps_at_once_enqueue_each_application_once(product, empty_queue, monkeypatch):
    stale_submissions(product, 2)
    app.control.purge()
    real_schedule = outbox.schedule

    def schedule_while_another_sweep_restamps(task, args):
        # What a sweep running beside this one does between this one's listing and its turn:
        # it enqueues the other application (and restamps it).
        RefundApplication.objects.exclude(public_id=args[0]).update(screening_enqueued_at=timezone.now())
        return real_schedule(task, args)

    monkeypatch.setattr(outbox, "schedule", schedule_while_another_sweep_restamps)
    assert application_requeue_stale_screenings(older_than=timedelta(minutes=1)) == 1
    assert _messages_waiting(QUEUE) == 1


def test_with_the_broker_intact_only_stale_applications_are_enqueued_again(product, empty_queue):
    stale = stale_submissions(product, 1)
    recent_submissions(product, 2, first=1)
    app.control.purge()  # every message gone, as with a worker that died with them
    assert requeue_stale_screenings() == 1
    assert _messages_waiting(QUEUE) == 1
    assert RefundApplication.objects.get(pk=stale[0].pk).screening_enqueued_at > timezone.now() - timedelta(minutes=1)


def test_after_the_broker_lost_its_data_every_waiting_application_is_enqueued_at_once(product, empty_queue):
    recent_submissions(product, 2)
    broker_loses_its_data()
    assert _messages_waiting(QUEUE) == 0
    assert requeue_stale_screenings() == 2
    assert _messages_waiting(QUEUE) == 2
    assert marker_present()
    # The broker kept its data since: the next round keeps to the staleness rule.
    assert requeue_stale_screenings() == 0
    assert _messages_waiting(QUEUE) == 2


def test_a_sweep_that_fails_after_the_loss_leaves_the_loss_to_the_next_sweep(product, empty_queue, monkeypatch):
    recent_submissions(product, 1)
    broker_loses_its_data()

    def database_gone(**kwargs):
        raise OperationalError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(tasks, "application_requeue_stale_screenings", database_gone)
        with pytest.raises(OperationalError):
            requeue_stale_screenings()
    assert not marker_present()
    assert requeue_stale_screenings() == 1
