"""PostgreSQL refusing connections while people act, on every surface that changes state: a
reviewer deciding in the admin, a merchant contesting in the portal, a platform contesting
through the API, a webhook being delivered. Each answers a clear 503 with Retry-After (or, for
the delivery, leaves it pending for beat), keeps nothing half-saved, and succeeds once the
database is back."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from refunds import audit, services
from refunds.integration import webhooks
from refunds.models import Decision, Rebuttal, RefundApplication, WebhookDelivery
from refunds.services import Actor
from refunds.states import ActorKind, ApplicationState
from tests.factories import CUP, endpoint_create, screen, submit
from tests.refunds import test_faults
from tests.refunds.api.test_applications import client_with
from tests.refunds.test_faults import assert_invariants_hold, database_through
from tests.refunds.test_webhooks import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

pg_proxy = test_faults.pg_proxy  # the proxy the fault tests cut: this module's database connection runs through it

REJECTION = {"outcome": "rejected", "reason_codes": ["evidence_derived"], "note": "The catalogue photo with a crack."}


def in_review(product) -> RefundApplication:
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    return RefundApplication.objects.get(pk=application.pk)


def refused_for_the_outage(response) -> None:
    assert response.status_code == 503, response.status_code
    assert int(response["Retry-After"]) > 0


def test_a_reviewer_deciding_during_an_outage_is_told_to_retry_and_decides_once_it_ends(
    client, reviewer, product, pg_proxy
):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    url = reverse("admin:refunds_refundapplication_decide", args=[application.pk])
    with database_through(pg_proxy):
        pg_proxy.cut()
        for _ in range(3):  # the reviewer insists while the database stays away
            refused_for_the_outage(client.post(url, {**REJECTION, "confirm": "1"}, HTTP_ACCEPT_LANGUAGE="en"))
        pg_proxy.restore()
        assert not Decision.objects.filter(application=application).exists()
        assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW
        response = client.post(url, {**REJECTION, "confirm": "1"}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == ApplicationState.DECIDED
    assert Decision.objects.filter(application=application).count() == 1
    assert audit.verify_chain(application).ok
    assert_invariants_hold(grace=None)


def test_a_merchant_contesting_in_the_portal_during_an_outage_keeps_nothing_and_contests_after(
    client, merchant_owner, product, pg_proxy
):
    application = screen(submit(product))
    client.force_login(merchant_owner)
    url = f"/portal/applications/{application.public_id}/contest/"
    contest = {"reason_codes": ["shipped_intact"], "statement": "Packed intact.", "confirm": "on"}
    with database_through(pg_proxy):
        pg_proxy.cut()
        refused_for_the_outage(client.post(url, contest, HTTP_ACCEPT_LANGUAGE="en"))
        pg_proxy.restore()
        assert not Rebuttal.objects.exists()
        assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.AWAITING_MERCHANT
        assert client.post(url, contest, HTTP_ACCEPT_LANGUAGE="en").status_code == 302
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW
    assert Rebuttal.objects.count() == 1
    assert_invariants_hold(grace=None)


def test_a_platform_contesting_through_the_api_during_an_outage_retries_with_its_key(product, key_a, pg_proxy):
    application = screen(submit(product))
    url = f"/api/v1/applications/{application.public_id}/contest"
    with database_through(pg_proxy):
        client = client_with(key_a)
        pg_proxy.cut()
        cut = client.post(url, {"statement": "Packed intact."}, format="json", HTTP_IDEMPOTENCY_KEY="contest-1")
        refused_for_the_outage(cut)
        assert cut.json()["error"]["code"] == "service_unavailable"
        pg_proxy.restore()
        retry = client.post(url, {"statement": "Packed intact."}, format="json", HTTP_IDEMPOTENCY_KEY="contest-1")
        assert retry.status_code == 200, retry.content
        again = client.post(url, {"statement": "Packed intact."}, format="json", HTTP_IDEMPOTENCY_KEY="contest-1")
        assert again["Idempotent-Replayed"] == "true"
    assert retry.json()["state"] == ApplicationState.IN_REVIEW
    assert Rebuttal.objects.count() == 1
    assert_invariants_hold(grace=None)


def test_a_webhook_delivery_during_an_outage_stays_due_and_is_delivered_once_in_order_after(
    product, platform_a, merchant_owner, pg_proxy
):
    receiver = Receiver(failures=0)
    try:
        endpoint = endpoint_create(platform=platform_a, url=receiver.url)
        application = screen(submit(product))
        services.application_accept(
            application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
        )
        pending = WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING)
        queued = pending.count()
        assert queued == 4
        with database_through(pg_proxy):
            pg_proxy.cut()
            with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the cut connection raises
                webhooks.deliver_pending(endpoint_pk=endpoint.pk, application_pk=application.pk)
            pg_proxy.restore()
            assert receiver.requests == []
            # Due, so beat's retry_due_webhooks sends it again; here its task runs at once.
            assert pending.filter(next_attempt_at__lte=timezone.now()).count() == queued
            assert webhooks.deliver_pending(endpoint_pk=endpoint.pk, application_pk=application.pk) == queued
        assert [payload["sequence"] for payload, _, _ in receiver.requests] == [1, 2, 3, 4]
        assert not pending.exists()
    finally:
        receiver.close()
