"""What delivering webhooks costs the database: about four and a half deliveries per
application in the soak, each a round trip or more to the PostgreSQL every worker shares, and
each commit a wait for the disk (RELIABILITY.md). The bounds are today's counts; the order of
the events and the stop at the first failure are what they must not cost."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds import services
from refunds.integration import webhooks
from refunds.models import WebhookDelivery
from refunds.services import Actor
from refunds.states import ActorKind
from tests.factories import endpoint_create, screen, submit
from tests.refunds.test_webhooks import Receiver

pytestmark = pytest.mark.django_db(transaction=True)  # the commits are counted

# The application's events with their delivery's status (1); BEGIN, the queue's pending rows
# locked, an UPDATE per attempt, COMMIT (3 + 4). It was four per delivery (BEGIN, lock, UPDATE,
# COMMIT), plus the events and a last look that found the queue empty (4): 20 for these four.
QUERIES_FOR_A_QUEUE = 8


@pytest.fixture
def accepted(product, merchant_owner):
    """Make an application with four events (submitted, screened, window opened, accepted), none
    sent yet."""

    def make():
        application = screen(submit(product))
        services.application_accept(
            application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
        )
        return application

    return make


@pytest.fixture
def receiving():
    """Start local receivers for the test's deliveries (Receiver's arguments); close them after it."""
    started: list[Receiver] = []

    def start(**kwargs) -> Receiver:
        started.append(Receiver(**kwargs))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def delivered_with_queries(endpoint, application):
    with CaptureQueriesContext(connection) as queries:
        delivered = webhooks.deliver_pending(endpoint_pk=endpoint.pk, application_pk=application.pk)
    return delivered, [query["sql"] for query in queries.captured_queries]


def test_an_applications_queue_is_sent_in_order_in_one_transaction(platform_a, accepted, receiving):
    receiver = receiving()
    endpoint = endpoint_create(platform=platform_a, url=receiver.url)
    application = accepted()

    delivered, queries = delivered_with_queries(endpoint, application)

    assert delivered == 4
    assert [payload["sequence"] for payload in receiver.answered] == [1, 2, 3, 4]
    assert len(queries) <= QUERIES_FOR_A_QUEUE, "\n".join(queries)
    assert queries.count("COMMIT") == 1
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


def test_a_queue_with_nothing_pending_costs_one_query_and_no_transaction(platform_a, accepted, receiving):
    receiver = receiving()
    endpoint = endpoint_create(platform=platform_a, url=receiver.url)
    application = accepted()
    webhooks.deliver_pending(endpoint_pk=endpoint.pk, application_pk=application.pk)

    # The kick of an application whose events another task's drain already sent.
    delivered, queries = delivered_with_queries(endpoint, application)

    assert delivered == 0
    assert len(queries) == 1, "\n".join(queries)
    assert len(receiver.requests) == 4


def test_a_failure_in_the_queue_keeps_what_was_sent_and_holds_back_what_follows(platform_a, accepted, receiving):
    receiver = receiving(behaviours=("ok", "ok", "fail"))
    endpoint = endpoint_create(platform=platform_a, url=receiver.url)
    application = accepted()

    delivered, _ = delivered_with_queries(endpoint, application)

    assert delivered == 2
    # The first two are recorded sent in the transaction that also records the failure; the
    # fourth was not tried: it must not overtake the third.
    rows = WebhookDelivery.objects.order_by("event__sequence")
    assert [(row.status, row.attempts) for row in rows] == [
        ("delivered", 1),
        ("delivered", 1),
        ("pending", 1),
        ("pending", 0),
    ]
    assert [payload["sequence"] for payload, _, _ in receiver.requests] == [1, 2, 3]


def test_a_drain_reads_the_due_deliveries_once_when_they_fit_in_one_batch(product, platform_a, receiving):
    receiver = receiving()
    endpoint = endpoint_create(platform=platform_a, url=receiver.url)
    applications = [submit(product, order_ref=f"order-{n}") for n in range(3)]

    with CaptureQueriesContext(connection) as queries:
        delivered = webhooks.deliver_due(endpoint_pk=endpoint.pk, budget_seconds=60)

    assert delivered == 3
    # The due deliveries (1), then each application's queue (5 each for one event): no last
    # look that finds nothing more due.
    assert len(queries) == 1 + 5 * len(applications), "\n".join(q["sql"] for q in queries.captured_queries)
