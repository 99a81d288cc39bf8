"""What one submission costs the database: each statement is a round trip, and a commit waits
for the disk. On PostgreSQL and Redis, waiting on them, not Python, was most of what a
submission took beyond the bare upload of bench/api.py (README.md). The counts are today's:
a change that adds one fails here and has to say why it is worth it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import AuditEvent, OutboxTask, RefundApplication, WebhookEvent
from tests.factories import GENUINE_CUP, jpeg, make_product, upload
from tests.refunds.api.test_applications import client_with, form, post

# The product with its shop; BEGIN; the application, each of the two evidence images, the
# audit record, the webhook endpoints and event, the application's chain head and webhook
# sequence in one update, the outbox row; COMMIT; the outbox row's delete once its task is
# sent. The answer is written from the rows the request wrote, not read back. (The key comes
# from the shared cache once it was read, and Django's health check of a reused connection
# comes on top, outside a test.)
STATEMENTS_OF_A_SUBMISSION = 12


def submitted(client, product, *files) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = post(client, form(product, *files, buyer_ref="buyer-12"))
    assert response.status_code == 201, response.json()
    return response, [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)  # the commit, and what runs after it, are counted
def test_a_submission_of_two_images_takes_a_fixed_number_of_statements(product, key_a):
    client = client_with(key_a)
    submitted(client, product, upload(jpeg(seed=2)))  # the key's row is read, then cached

    response, statements = submitted(client, product, upload(GENUINE_CUP), upload(jpeg(seed=1)))

    assert len(statements) == STATEMENTS_OF_A_SUBMISSION, "\n".join(statements)
    application = RefundApplication.objects.get(public_id=response.json()["id"])
    assert len(response.json()["evidence"]) == 2
    # One write of the new row carried both counters: they are what the two logs hold.
    assert application.audit_seq == 1 == AuditEvent.objects.filter(application=application).count()
    assert application.audit_head == AuditEvent.objects.get(application=application).hash
    assert application.webhook_seq == 1 == WebhookEvent.objects.filter(application=application).count()
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db
def test_a_product_of_another_shop_of_the_platform_is_refused_as_an_unknown_product(product, other_merchant, key_a):
    # The product is found with its shop in one statement: that the shop is the one named counts.
    elsewhere = make_product(other_merchant)

    data = {**form(product), "product": str(elsewhere.public_id)}

    response = post(client_with(key_a), data)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "product_not_found"
    assert not RefundApplication.objects.exists()
