"""Tasks that must not be lost: written in the transaction of the change, sent after it.

Sending a Celery message from ``transaction.on_commit`` alone loses the task when the broker
is down at that moment (the change has committed, the message never leaves). Here the intent
is a row written with the change; after the commit the row's task is sent and the row
deleted. If the broker refuses, the row stays and ``relay`` (a beat job) sends it later. A
task may so be sent twice (sent, then the delete failed): every task scheduled through here
is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from refunds.models import OutboxTask
from reviewhub import logs

log = logging.getLogger(__name__)

# The relay leaves younger rows alone: their own on-commit send is probably under way.
RELAY_MIN_AGE = timedelta(seconds=5)
RELAY_BATCH = 500


def schedule(task: str, args: list[Any]) -> OutboxTask:
    """Record the task in the current transaction and send it once that transaction commits."""
    row = OutboxTask.objects.create(task=task, args=args, request_id=logs.current_request_id())
    # robust: a failure after the commit is logged, never raised into the request that committed.
    transaction.on_commit(lambda: _send(row.pk, task, args, row.request_id), robust=True)
    return row


def _headers(request_id: str) -> dict[str, str] | None:
    """The message headers that carry the causing request's id to the task's log lines."""
    return {logs.TASK_HEADER: request_id} if request_id else None


def _send(pk: int, task: str, args: list[Any], request_id: str = "") -> bool:
    try:
        current_app.send_task(task, args=args, headers=_headers(request_id))
    except Exception as exc:  # noqa: BLE001 - any broker failure: the row stays for the relay
        log.warning("broker unavailable, %s%s left for the relay: %r", task, args, exc)
        try:
            OutboxTask.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=repr(exc)[:500])
        except DatabaseError:
            pass
        return False
    try:
        _clear(pk)
    except DatabaseError:
        # The message left; the relay will send it once more, which the task tolerates.
        log.warning("sent %s%s but could not clear its outbox row", task, args)
    return True


def _clear(pk: int) -> None:
    """Delete a sent task's row, on PostgreSQL without waiting for the deletion to reach the disk.

    A commit waits for its WAL to be flushed (synchronous_commit): 3.6 to 4 ms on the
    benchmark's machine, where the statement itself takes 0.04 ms, and the second such wait
    of every submission after its own commit. This deletion need not be durable: undone by a
    crash of the database server, it leaves the row for the relay, which sends the task once
    more, as after a delete that failed. So it commits asynchronously, for its own transaction
    only: the SET LOCAL and the DELETE go in one round trip, which PostgreSQL runs as one
    implicit transaction (the session's setting is untouched), where a transaction of their
    own (BEGIN, SET LOCAL, DELETE, COMMIT) took four."""
    if (
        connection.vendor != "postgresql"
        or not connection.get_autocommit()
        or connection.settings_dict["OPTIONS"].get("server_side_binding")
    ):
        # In a caller's transaction, SET LOCAL would make that transaction's commit asynchronous
        # too; and server-side binding refuses two statements in one query. An instance's
        # delete, not a queryset's: with nothing to cascade to, it is one statement, where a
        # queryset's wraps it in a transaction of its own.
        OutboxTask(pk=pk).delete()
        return
    table = connection.ops.quote_name(OutboxTask._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL synchronous_commit = off; DELETE FROM {table} WHERE id = %s", [pk])


def on_commit_once(key: Hashable, send: Callable[[], None]) -> None:
    """Run ``send`` once the current transaction commits, unless a ``send`` with the same key is
    already waiting for that commit at this savepoint or an enclosing one (a rollback that drops
    that one drops this change too).

    For the kicks that only wake a task to look at rows (webhook deliveries, notifications): a
    transaction that records two events of one application (screened, then the window opened)
    sends one message, not two for the worker to open a connection and find nothing."""
    savepoints = set(connection.savepoint_ids)
    for registered_in, registered, _robust in connection.run_on_commit:
        if getattr(registered, "once_key", None) == key and registered_in <= savepoints:
            return
    send.once_key = key  # type: ignore[attr-defined]
    transaction.on_commit(send, robust=True)


def relay(*, min_age: timedelta = RELAY_MIN_AGE, limit: int = RELAY_BATCH) -> int:
    """Send the tasks whose on-commit send failed or never ran; return how many were sent.

    Rows are locked with SKIP LOCKED so that two relays (two beats by mistake) split the work."""
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxTask.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=timezone.now() - min_age)
            .order_by("created_at")[:limit]
        )
        for row in rows:
            try:
                current_app.send_task(row.task, args=row.args, headers=_headers(row.request_id))
            except Exception as exc:  # noqa: BLE001 - the broker is still down: try again next time
                log.warning("relay: broker unavailable, %d tasks wait: %r", len(rows) - sent, exc)
                OutboxTask.objects.filter(pk__in=[r.pk for r in rows[sent:]]).update(last_error=repr(exc)[:500])
                break
            row.delete()
            sent += 1
    return sent


def pending(task: str | None = None) -> int:
    """Count the tasks waiting for the broker."""
    rows = OutboxTask.objects.all()
    return (rows.filter(task=task) if task else rows).count()
