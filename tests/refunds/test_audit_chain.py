"""Invariant 3: the audit log is append-only and hash-chained; tampering is detected."""

import pytest
from django.db import connection

from refunds import services
from refunds.audit import verify_chain
from refunds.models import AuditEvent
from refunds.services import Actor
from refunds.states import ActorKind
from tests.factories import screen, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(product, merchant_owner):
    application = screen(submit(product))
    services.application_accept(
        application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
    )
    application.refresh_from_db()
    return application


def test_an_untouched_chain_verifies(decided):
    report = verify_chain(decided)
    assert report.ok and report.events == 4


def test_each_event_links_to_the_previous_ones_hash(decided):
    events = list(AuditEvent.objects.filter(application=decided).order_by("seq"))
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:]))


def test_an_edited_reason_is_detected(decided):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET reason = %s WHERE application_id = %s AND seq = 2",
            ["nothing to see", decided.pk],
        )
    report = verify_chain(decided)
    assert (report.ok, report.broken_at) == (False, 2)


def test_an_edited_payload_is_detected(decided):
    event = AuditEvent.objects.get(application=decided, seq=2)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET payload = %s WHERE id = %s",
            ['{"risk": "clean", "score": 0.9}', event.pk],
        )
    assert verify_chain(decided).broken_at == 2


def test_a_deleted_event_is_detected(decided):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE application_id = %s AND seq = 2", [decided.pk])
    assert not verify_chain(decided).ok


def test_a_deleted_last_event_is_detected(decided):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE application_id = %s AND seq = 4", [decided.pk])
    assert verify_chain(decided).problem == "events after this one are missing"


def test_the_model_refuses_updates_and_deletes(decided):
    event = AuditEvent.objects.filter(application=decided).first()
    event.reason = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_removing_the_last_event_and_its_count_is_still_detected(decided):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE application_id = %s AND seq = 4", [decided.pk])
    type(decided).objects.filter(pk=decided.pk).update(audit_seq=3)
    decided.refresh_from_db()
    assert not verify_chain(decided).ok
