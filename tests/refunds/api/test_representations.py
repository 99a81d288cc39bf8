"""The application's answer is built without DRF serializers (refunds.api.representations), yet
is what ApplicationSerializer, which the schema describes, gives for it, byte for byte; and the
reads and the submission keep to a fixed number of queries."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from rest_framework.renderers import JSONRenderer

from refunds import selectors, services
from refunds.api.serializers import ApplicationSerializer
from refunds.models import EvidenceRequest, RefundApplication
from tests.factories import FORGED_CUP, GENUINE_CUP, jpeg, screen, submit, upload
from tests.refunds.api.test_applications import client_with, form, post
from tests.refunds.appeal_builders import buyer_appeal, rejected_by
from tests.refunds.evidence_request_builders import answer, ask, claimed_by

pytestmark = pytest.mark.django_db


def serialized(application: RefundApplication, **context: object) -> bytes:
    with timezone.override(UTC):
        # The serializer over the list's query, which loads every related row it may read.
        found = selectors.application_list_for_platform(platform=application.platform).get(pk=application.pk)
        return JSONRenderer().render(ApplicationSerializer(found, context=context).data)


def read(key: str, application: RefundApplication) -> bytes:
    response = client_with(key).get(f"/api/v1/applications/{application.public_id}")
    assert response.status_code == 200
    return response.content


def overturned(product, reviewer, senior_reviewer) -> RefundApplication:
    application = rejected_by(reviewer, product)
    services.appeal_decide(
        appeal_id=buyer_appeal(application).public_id,
        reviewer=senior_reviewer,
        verdict="overturned",
        outcome="partially_approved",
        reason_codes=["partial_damage"],
        approved_amount=Decimal("20.00"),
        note="Only the handle is cracked.",
    )
    return application


def with_an_answered_request(product, reviewer) -> RefundApplication:
    application = claimed_by(reviewer, product)
    request = answer(ask(application, reviewer), jpeg(seed=4))
    # What the worker stores once it compared the two photos.
    EvidenceRequest.objects.filter(pk=request.pk).update(
        view_pair={"verdict": "consistent_3d", "matches": 120, "damage_in_both": True, "explanation": "Two views."}
    )
    return application


def test_a_submitted_application_reads_as_the_serializer_writes_it(product, key_a):
    application = submit(product, evidence=[GENUINE_CUP, jpeg(seed=1)])
    assert read(key_a, application) == serialized(application)


def test_a_screened_application_with_findings_and_heatmaps_reads_as_the_serializer_writes_it(product, key_a):
    application = screen(submit(product, evidence=[FORGED_CUP], delivered_at=None))
    assert application.evidence.get().screening.findings.exclude(artifact="").exists()
    assert read(key_a, application) == serialized(application)
    chinese = client_with(key_a).get(f"/api/v1/applications/{application.public_id}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    with translation.override("zh-hans"):
        assert chinese.content == serialized(application)


def test_linked_claims_read_as_the_serializer_writes_them(product, key_a):
    screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="second"))
    assert second.claim_group_member.group_id
    assert read(key_a, second) == serialized(second)


def test_a_decision_overturned_on_appeal_reads_as_the_serializer_writes_it(product, reviewer, senior_reviewer, key_a):
    application = overturned(product, reviewer, senior_reviewer)
    assert read(key_a, application) == serialized(application)


def test_requests_for_another_photo_read_as_the_serializer_writes_them(product, reviewer, key_a):
    application = with_an_answered_request(product, reviewer)
    assert read(key_a, application) == serialized(application)


def test_the_list_reads_as_the_serializer_writes_each_application(product, reviewer, senior_reviewer, key_a):
    applications = [
        overturned(product, reviewer, senior_reviewer),
        with_an_answered_request(product, reviewer),
        screen(submit(product, evidence=[FORGED_CUP])),
    ]
    listed = client_with(key_a).get("/api/v1/applications").json()["results"]
    assert [JSONRenderer().render(item) for item in listed] == [serialized(a) for a in reversed(applications)]


def test_the_answer_to_a_submission_is_what_the_serializer_writes_for_it(product, key_a):
    response = post(client_with(key_a), form(product, upload(GENUINE_CUP), upload(jpeg(seed=1))))
    assert response.status_code == 201
    application = RefundApplication.objects.get(public_id=response.json()["id"])
    assert response.content == serialized(application, just_submitted=True)


def test_an_action_answers_the_application_as_the_serializer_writes_it(product, key_a):
    application = submit(product)
    response = client_with(key_a).post(f"/api/v1/applications/{application.public_id}/withdraw", {}, format="json")
    assert response.status_code == 200
    assert response.content == serialized(application)


# Queries per request, as an upper bound: one more is a regression to look at. The key (and,
# once a minute, its last use); the application with its shop, product, decision and linked
# claims; its evidence with their screening; the findings; the requests for another photo; the
# decision that replaced an overturned one, with its appeal.
DETAIL_QUERIES = 7
# The key and its last use, the product with its shop; in the transaction (a savepoint in a
# test): the application, each of the two evidence images, the audit record, the webhook
# endpoints and event, the chain head and webhook sequence in one update, the outbox row. (The
# outbox row's delete after the commit does not run inside a test's transaction;
# tests/refunds/api/test_create_round_trips.py counts a whole submission.)
SUBMISSION_QUERIES = 13


def test_reading_an_application_with_everything_takes_a_fixed_number_of_queries(
    product, reviewer, senior_reviewer, key_a, django_assert_max_num_queries
):
    application = overturned(product, reviewer, senior_reviewer)
    evidence = application.evidence.first()
    EvidenceRequest.objects.create(
        application=application,
        first_evidence=evidence,
        state="cancelled",
        instructions="Another angle, please.",
        language="en",
        actor_kind="reviewer",
        deadline=timezone.now(),
        review_time_left=timedelta(hours=1),
    )
    assert evidence.screening.findings.exists()
    with django_assert_max_num_queries(DETAIL_QUERIES):
        read(key_a, application)


def test_submitting_takes_a_fixed_number_of_queries(product, key_a, django_assert_max_num_queries):
    client = client_with(key_a)
    with django_assert_max_num_queries(SUBMISSION_QUERIES):
        response = post(client, form(product, upload(GENUINE_CUP), upload(jpeg(seed=1))))
    assert response.status_code == 201
