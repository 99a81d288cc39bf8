"""No admin form or action changes state, audit fields or sequences, a superuser's neither."""

import pytest
import time_machine
from django.contrib import admin
from django.urls import reverse

from refunds import services
from refunds.models import AuditEvent, Decision, RefundApplication, WebhookEvent
from tests.factories import CUP, screen, submit

pytestmark = pytest.mark.django_db

PROTECTED = [
    "state",
    "audit_seq",
    "audit_head",
    "webhook_seq",
    "claimed_by_id",
    "claim_expires_at",
    "review_due_at",
    "risk_level",
    "amount",
]


def decided(product, senior):
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    services.application_decide(
        application_id=application.public_id,
        reviewer=senior,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Catalogue photo.",
    )
    return RefundApplication.objects.get(pk=application.pk)


def snapshot(application):
    application = RefundApplication.objects.get(pk=application.pk)
    return (
        {name: getattr(application, name) for name in PROTECTED},
        list(AuditEvent.objects.filter(application=application).order_by("seq").values_list("seq", "hash", "payload")),
        list(Decision.objects.filter(application=application).values_list("outcome", "approved_amount", "note")),
        list(WebhookEvent.objects.filter(application=application).order_by("sequence").values_list("sequence", "type")),
    )


def test_a_superuser_posting_to_every_record_page_changes_nothing(admin_client, product, senior_reviewer):
    application = decided(product, senior_reviewer)
    before = snapshot(application)
    forged = {
        "state": "in_review",
        "audit_head": "0" * 64,
        "audit_seq": "1",
        "webhook_seq": "0",
        "seq": "9",
        "hash": "f" * 64,
        "outcome": "approved",
        "approved_amount": "39.90",
        "note": "changed",
        "sequence": "9",
        "type": "x",
        "payload": "{}",
        "_save": "Save",
    }
    records = [
        ("refundapplication", application.pk),
        ("auditevent", AuditEvent.objects.filter(application=application).first().pk),
        ("decision", Decision.objects.get(application=application).pk),
        ("webhookevent", WebhookEvent.objects.filter(application=application).first().pk),
    ]
    for model, pk in records:
        response = admin_client.post(reverse(f"admin:refunds_{model}_change", args=[pk]), forged)
        assert response.status_code == 403, model
        response = admin_client.post(reverse(f"admin:refunds_{model}_delete", args=[pk]), {"post": "yes"})
        assert response.status_code in (403, 404), model
        assert admin_client.get(reverse(f"admin:refunds_{model}_add")).status_code == 403, model
    assert snapshot(application) == before


@pytest.mark.parametrize("model", [RefundApplication, AuditEvent, Decision, WebhookEvent])
def test_the_record_pages_offer_no_action_that_changes_records(admin_client, model, rf, admin_user):
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = admin_user
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_add_permission(request)
    assert set(model_admin.get_actions(request)) == set()


def test_a_bulk_delete_posted_to_the_queue_is_refused(admin_client, product, senior_reviewer):
    application = decided(product, senior_reviewer)
    before = snapshot(application)
    admin_client.post(
        reverse("admin:refunds_refundapplication_changelist"),
        {"action": "delete_selected", "_selected_action": [application.pk], "post": "yes"},
    )
    assert snapshot(application) == before


def test_the_screening_records_cannot_be_changed_either(admin_client, product):
    from screening.models import Finding, ScreeningResult

    application = screen(submit(product, evidence=[CUP]))
    result = ScreeningResult.objects.get(evidence__application=application)
    finding = Finding.objects.filter(result=result).first()
    for name, pk in (("screeningresult", result.pk), ("finding", finding.pk)):
        assert (
            admin_client.post(reverse(f"admin:screening_{name}_change", args=[pk]), {"score": "0"}).status_code == 403
        )
    assert Finding.objects.get(pk=finding.pk).score == finding.score
