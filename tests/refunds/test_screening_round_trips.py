"""What one screening costs the database: every query is a round trip to a PostgreSQL that the
web processes and every worker share, and under load those round trips, not the image engine,
were what the pipeline waited on (RELIABILITY.md). The bounds are today's counts: a change that
adds a query to the screening path fails here and has to say why it is worth it."""

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.integration.webhooks import DELIVER_TASK
from refunds.models import RefundApplication, WebhookDelivery
from refunds.notifications.models import Notification
from refunds.services.notifications import SEND_TASK
from refunds.states import ApplicationState
from refunds.tasks import screen_application
from tests.factories import GENUINE_CUP, endpoint_create, jpeg, submit

pytestmark = pytest.mark.django_db(transaction=True)

# The task on a new application with one image, a webhook endpoint and a shop user: the
# delivery count (one UPDATE of the row, a new application's state being its own), reading the
# images with their application, and the references (2), the fingerprint and its group (6, a
# new group's keypoints and first sighting in one statement), the reuse lookup (3), the result and its findings (4), then recording the screening and opening
# the merchant window: two transitions, whose audit events, webhook events and deliveries are
# each written in one statement, one write of the row for both, and the shop's notification
# (14), and the look for second photos to compare (1). It was 58 to 60 in five transactions
# before, and 20 to 22 more per further image; then 42, with a write of the row per transition
# and a look for the notification before writing it; then 40, with the count in a transaction
# of its own (BEGIN, a locked read, the update, COMMIT), the application read apart from its
# images, and each transition's events written on their own (18 for the transitions), and 14 per
# further image, with a statement for the first sighting of its group and one for its keypoints.
QUERIES_FOR_ONE_IMAGE = 31
# Each further image: its fingerprint, lookup and result; nothing more per transition.
QUERIES_PER_FURTHER_IMAGE = 13
# The fingerprint, the result, the transitions: each commits on its own (a worker killed after
# one leaves it behind, and the next delivery carries on from there); the delivery count is one
# statement, committed as it runs.
TRANSACTIONS_FOR_ONE_IMAGE = 3


@pytest.fixture
def sent(monkeypatch):
    """The messages sent after each commit, kept here instead of going to a broker no worker reads."""
    messages = []
    monkeypatch.setattr(current_app, "send_task", lambda name, *args, **kwargs: messages.append(name))
    return messages


@pytest.fixture
def watched_product(product, merchant_owner):
    endpoint_create(platform=product.merchant.platform, url="https://hooks.example.com/refunds")
    return product


def query_budget(images):
    # Without PostgreSQL's lookup function (SQLite), the hash lookup is two queries, not one.
    beyond_postgresql = 0 if connection.vendor == "postgresql" else images
    return QUERIES_FOR_ONE_IMAGE + (images - 1) * QUERIES_PER_FURTHER_IMAGE + beyond_postgresql


def screened_with_queries(application):
    with CaptureQueriesContext(connection) as queries:
        assert screen_application.run(str(application.public_id)) == "screened"
    return [query["sql"] for query in queries.captured_queries]


def test_screening_one_image_stays_within_its_queries_and_transactions(watched_product, sent):
    application = submit(watched_product, evidence=[GENUINE_CUP])
    sent.clear()

    queries = screened_with_queries(application)

    assert len(queries) <= query_budget(1), "\n".join(queries)
    assert queries.count("COMMIT") <= TRANSACTIONS_FOR_ONE_IMAGE
    # The work the queries are for was all done: routed, one delivery per event, the shop told.
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.AWAITING_MERCHANT
    assert WebhookDelivery.objects.filter(event__application=application).count() == 3
    assert Notification.objects.filter(application=application).count() == 1
    # One kick per queue for the two events of the transaction, not one per event.
    assert sorted(sent) == sorted([DELIVER_TASK, SEND_TASK])


def test_each_further_image_costs_its_own_queries_and_no_more_transactions(watched_product, sent):
    application = submit(watched_product, evidence=[GENUINE_CUP, jpeg(seed=41), jpeg(seed=42)])

    queries = screened_with_queries(application)

    assert len(queries) <= query_budget(3), "\n".join(queries)
    assert queries.count("COMMIT") <= TRANSACTIONS_FOR_ONE_IMAGE + 2 * 2
