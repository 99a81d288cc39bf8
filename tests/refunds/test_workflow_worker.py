"""The workflow on a real broker with a real worker thread: screening happens off the request."""

import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from refunds.models import AuditEvent, RefundApplication
from refunds.states import ApplicationState, RiskLevel
from refunds.tasks import screen_application
from screening.models import ScreeningResult
from tests.conftest import race, wait_for
from tests.factories import CUP, GENUINE_CUP, jpeg, submit

pytestmark = pytest.mark.django_db(transaction=True)


def state_of(application):
    return RefundApplication.objects.get(pk=application.pk).state


def test_the_worker_screens_a_submitted_application_and_opens_the_merchant_window(celery_worker, product):
    application = submit(product, evidence=[GENUINE_CUP, jpeg(seed=1)])
    wait_for(lambda: state_of(application) == ApplicationState.AWAITING_MERCHANT)
    application.refresh_from_db()
    assert application.risk_level == RiskLevel.CLEAN
    assert ScreeningResult.objects.filter(evidence__application=application).count() == 2


def test_the_worker_flags_a_reused_catalogue_photo(celery_worker, product):
    application = submit(product, evidence=[CUP])
    wait_for(lambda: state_of(application) == ApplicationState.AWAITING_MERCHANT)
    assert RefundApplication.objects.get(pk=application.pk).risk_level == RiskLevel.FORGED


def test_a_poison_image_ends_in_review_flagged_unscreened(celery_worker, product):
    with transaction.atomic():
        application = submit(product, evidence=[jpeg(seed=2)])
        # The stored file goes bad before the worker reads it (storage corruption).
        name = application.evidence.get().file.name
        with default_storage.open(name, "wb") as handle:
            handle.write(b"\xff\xd8\xff\xe0 not really a jpeg")
    wait_for(lambda: state_of(application) == ApplicationState.IN_REVIEW)
    application.refresh_from_db()
    assert application.unscreened
    assert application.screening_deliveries == 1
    assert not application.evidence.get().screening.completed


def test_a_task_delivered_three_times_at_once_stores_one_result(celery_worker, product):
    with transaction.atomic():
        application = submit(product, evidence=[GENUINE_CUP, jpeg(seed=3)])
    public_id = str(application.public_id)
    race(lambda: screen_application.run(public_id), lambda: screen_application.run(public_id))
    wait_for(lambda: state_of(application) == ApplicationState.AWAITING_MERCHANT)
    assert ScreeningResult.objects.filter(evidence__application=application).count() == 2
    assert AuditEvent.objects.filter(application=application, action="screen").count() == 1
