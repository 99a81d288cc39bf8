"""The reviewers' queue and application page: claim, decide with confirmation, conflicts, History."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image

from refunds import services
from refunds.admin.history import ReadableLogEntry
from refunds.models import AuditEvent, Decision, RefundApplication
from refunds.states import ApplicationState
from tests.factories import CUP, GENUINE_CUP, screen, submit

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:refunds_refundapplication_changelist")
CLAIM_NEXT = reverse("admin:refunds_refundapplication_claim_next")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def in_review(product, evidence=CUP, **fields):
    application = screen(submit(product, evidence=[evidence], **fields))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    return RefundApplication.objects.get(pk=application.pk)


def page(application):
    return reverse("admin:refunds_refundapplication_change", args=[application.pk])


def decide_url(application):
    return reverse("admin:refunds_refundapplication_decide", args=[application.pk])


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


REJECTION = {"outcome": "rejected", "reason_codes": ["evidence_derived"], "note": "The catalogue photo with a crack."}


def test_the_queue_shows_only_applications_in_review_by_default_with_counts(client, reviewer, product):
    review = in_review(product, buyer_ref="b-review")
    waiting = screen(submit(product, buyer_ref="b-wait"))
    client.force_login(reviewer)
    response = client.get(QUEUE)
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == {review.pk} and waiting.pk not in shown
    tabs = {tab["key"]: tab["count"] for tab in response.context["queue_tabs"]}
    assert tabs["review"] == 1 and tabs["unclaimed"] == 1 and tabs["mine"] == 0 and tabs["open"] == 2
    assert "rh-risk-forged" in response.content.decode()


def test_the_queue_views_filter_by_who_holds_the_claim(client, reviewer, second_reviewer, product):
    mine, theirs, free = (in_review(product, buyer_ref=f"b{i}") for i in range(3))
    services.application_claim(application_id=mine.public_id, reviewer=reviewer)
    services.application_claim(application_id=theirs.public_id, reviewer=second_reviewer)
    client.force_login(reviewer)

    def rows(view):
        return {row.pk for row in client.get(QUEUE, {"view": view}).context["cl"].result_list}

    assert rows("mine") == {mine.pk}
    assert rows("others") == {theirs.pk}
    assert rows("unclaimed") == {free.pk}


def test_search_finds_an_application_by_order_reference_and_ignores_a_malformed_id(client, reviewer, product):
    application = in_review(product, order_ref="order-777")
    client.force_login(reviewer)
    assert [r.pk for r in client.get(QUEUE, {"q": "order-777"}).context["cl"].result_list] == [application.pk]
    assert client.get(QUEUE, {"q": "not-a-uuid"}).status_code == 200


def test_search_finds_an_application_by_the_start_of_its_id_or_references(client, reviewer, product):
    application = in_review(product, order_ref="6002-778", buyer_ref="buyer-42")
    other = in_review(product, order_ref="5001-001", buyer_ref="buyer-7")
    client.force_login(reviewer)

    def found(text):
        return [r.pk for r in client.get(QUEUE, {"q": text, "view": "all"}).context["cl"].result_list]

    assert found("6002") == [application.pk]
    assert found("buyer-4") == [application.pk]
    assert found(str(other.public_id)[:6]) == [other.pk]
    assert found(str(other.public_id)[:13]) == [other.pk]


@pytest.mark.parametrize(
    "params",
    [{"risk_level__exact": "forged"}, {"finding": "derived_from_reference"}, {"amount_band": "lt100"}, {"age": "1d"}],
)
def test_each_filter_keeps_the_matching_application(client, reviewer, product, params):
    application = in_review(product)
    client.force_login(reviewer)
    response = client.get(QUEUE, params)
    assert [r.pk for r in response.context["cl"].result_list] == [application.pk]


def test_claim_next_takes_the_application_and_opens_its_page(client, reviewer, product):
    application = in_review(product)
    client.force_login(reviewer)
    response = client.post(CLAIM_NEXT)
    assert response.status_code == 302 and response["Location"] == page(application)
    assert RefundApplication.objects.get(pk=application.pk).claimed_by == reviewer
    assert LogEntry.objects.filter(object_id=str(application.pk), user=reviewer).exists()


def test_claiming_twice_says_the_claim_was_renewed_not_updated(client, reviewer, product):
    application = in_review(product)
    client.force_login(reviewer)
    url = reverse("admin:refunds_refundapplication_claim", args=[application.pk])
    client.post(url)
    again = messages_of(client.post(url, follow=True))
    assert any("already hold" in m for m in again)
    assert AuditEvent.objects.filter(application=application, action="claim").count() == 1


def test_claiming_what_another_reviewer_holds_is_refused_with_the_holder_named(
    client, reviewer, second_reviewer, product
):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=second_reviewer)
    client.force_login(reviewer)
    response = client.post(reverse("admin:refunds_refundapplication_claim", args=[application.pk]), follow=True)
    assert any("reviewer2" in m for m in messages_of(response))
    assert RefundApplication.objects.get(pk=application.pk).claimed_by == second_reviewer


def test_the_application_page_shows_evidence_beside_its_reference_with_findings_and_timeline(client, reviewer, product):
    application = in_review(product)
    client.force_login(reviewer)
    response = client.get(page(application))
    html = response.content.decode()
    evidence = application.evidence.get()
    reference = product.reference_images.get()
    assert reverse("stored-file", args=["evidence", evidence.public_id]) in html
    assert reverse("stored-file", args=["reference", reference.public_id]) in html
    assert reverse("admin:refunds_refundapplication_aligned", args=[application.pk, evidence.public_id]) in html
    assert "rh-chain-ok" in html
    assert "[derived_from_reference]" not in html  # explanations, not raw codes
    assert len(response.context["timeline"]) == application.audit_seq


def test_the_aligned_overlay_is_served_as_a_png(client, reviewer, product):
    application = in_review(product)
    client.force_login(reviewer)
    evidence = application.evidence.get()
    response = client.get(reverse("admin:refunds_refundapplication_aligned", args=[application.pk, evidence.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_a_decision_needs_confirmation_then_is_recorded_with_the_reviewer_and_in_history(
    client, senior_reviewer, product
):
    application = in_review(product, amount="100.00")
    client.force_login(senior_reviewer)
    client.post(reverse("admin:refunds_refundapplication_claim", args=[application.pk]))
    form = {
        "outcome": "partially_approved",
        "approved_amount": "30.00",
        "reason_codes": ["partial_damage"],
        "note": "Only the handle is chipped.",
    }
    confirm = client.post(decide_url(application), form)
    assert confirm.status_code == 200 and "30.00" in confirm.content.decode()
    assert not Decision.objects.exists()
    client.post(decide_url(application), {**form, "confirm": "1"})
    decision = Decision.objects.get()
    assert (decision.outcome, decision.approved_amount, decision.actor) == (
        "partially_approved",
        Decimal("30.00"),
        senior_reviewer,
    )
    event = AuditEvent.objects.get(application=application, action="decide")
    assert event.actor_label == "senior" and event.payload["note"] == "Only the handle is chipped."
    entry = LogEntry.objects.filter(object_id=str(application.pk)).latest("action_time")
    assert "30.00" in ReadableLogEntry(entry).get_change_message()
    assert "rh-decided" in client.get(page(application)).content.decode()


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (
            {
                "outcome": "partially_approved",
                "approved_amount": "39.90",
                "reason_codes": ["partial_damage"],
                "note": "x",
            },
            "approved_amount",
        ),
        ({"outcome": "rejected", "reason_codes": ["evidence_consistent"], "note": "x"}, "reason_codes"),
        ({"outcome": "rejected", "reason_codes": ["evidence_derived"], "note": ""}, "note"),
        ({"outcome": "refund_twice", "reason_codes": ["other"], "note": "x"}, "outcome"),
    ],
)
def test_an_incomplete_decision_is_shown_back_with_the_error_and_nothing_saved(client, reviewer, product, form, field):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    response = client.post(decide_url(application), {**form, "confirm": "1"})
    assert response.status_code == 200 and response.context["form"].errors[field]
    assert not Decision.objects.exists()


def test_a_decision_without_a_claim_is_refused(client, reviewer, product):
    application = in_review(product)
    client.force_login(reviewer)
    response = client.post(decide_url(application), {**REJECTION, "confirm": "1"}, follow=True)
    assert any("Claim" in m for m in messages_of(response))
    assert not Decision.objects.exists()


def test_the_second_reviewers_decision_gets_the_conflict_message(client, reviewer, senior_reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=senior_reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Derived.",
    )
    client.force_login(reviewer)
    response = client.post(decide_url(application), {**REJECTION, "confirm": "1"}, follow=True)
    assert any("first" in m for m in messages_of(response))
    assert Decision.objects.get().actor == senior_reviewer


def test_an_expired_claim_is_named_when_deciding(client, reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = client.post(decide_url(application), {**REJECTION, "confirm": "1"}, follow=True)
    assert any("expired" in m for m in messages_of(response))


def test_a_plain_reviewer_cannot_approve_a_forged_application_from_the_panel(client, reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    html = client.get(page(application)).content.decode()
    assert "rh-warning" in html
    response = client.post(
        decide_url(application),
        {"outcome": "approved", "reason_codes": ["evidence_consistent"], "note": "Looks real.", "confirm": "1"},
        follow=True,
    )
    assert any("senior" in m for m in messages_of(response))
    assert not Decision.objects.exists()


def test_a_refused_approval_is_refused_before_the_confirmation_and_keeps_what_was_typed(client, reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    response = client.post(
        decide_url(application),
        {"outcome": "approved", "reason_codes": ["evidence_consistent"], "note": "Looks real to me."},
    )
    assert response.status_code == 200
    assert "confirm_decision.html" not in [t.name for t in response.templates]
    assert any("senior" in m for m in messages_of(response))
    form = response.context["form"]
    assert form.data["note"] == "Looks real to me." and form.data.getlist("reason_codes") == ["evidence_consistent"]
    assert "Looks real to me." in response.content.decode()
    assert not Decision.objects.exists()


def test_an_auditor_opens_everything_and_decides_nothing(client, auditor, product):
    application = in_review(product)
    client.force_login(auditor)
    assert client.get(QUEUE).status_code == 200
    html = client.get(page(application)).content.decode()
    assert 'id="read-only"' in html and 'id="decision-form"' not in html and 'id="claim"' not in html
    assert client.post(CLAIM_NEXT).status_code in (302, 403)
    assert client.post(decide_url(application), {**REJECTION, "confirm": "1"}).status_code == 403
    assert RefundApplication.objects.get(pk=application.pk).claimed_by is None
    assert not Decision.objects.exists()
    assert client.get(reverse("admin:refunds_refundapplication_statistics")).status_code == 200


def test_the_statistics_page_counts_the_reviewers_decisions(client, senior_reviewer, product):
    application = in_review(product)
    services.application_decide(
        application_id=application.public_id,
        reviewer=senior_reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Derived.",
    )
    client.force_login(senior_reviewer)
    response = client.get(reverse("admin:refunds_refundapplication_statistics"))
    assert [row["count"] for row in response.context["per_day"]] == [1]
    assert response.context["median_minutes"] is not None


def test_a_released_claim_returns_the_application_to_the_queue(client, reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    client.post(reverse("admin:refunds_refundapplication_release", args=[application.pk]))
    assert RefundApplication.objects.get(pk=application.pk).claimed_by is None
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW


def packing_video(tmp_path):
    import cv2
    import numpy as np

    path = str(tmp_path / "packing.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    with open(path, "rb") as handle:
        return handle.read()


def test_the_merchants_rebuttal_shows_its_photo_and_a_playable_packing_video(
    client, reviewer, product, merchant_owner, tmp_path
):
    from refunds.services import Actor
    from refunds.states import ActorKind
    from tests.factories import GENUINE_CUP, upload

    application = screen(submit(product, evidence=[CUP]))
    video = upload(packing_video(tmp_path), "packing.mp4")
    services.application_contest(
        application_id=application.public_id,
        actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner),
        statement="Packed intact, see the video.",
        attachments=[upload(GENUINE_CUP), video],
        reason_codes=["shipped_intact", "evidence_edited"],
    )
    client.force_login(reviewer)
    with translation.override("en"):
        html = client.get(page(application), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The item was intact when shipped (packing photos or video)" in html
    assert "The buyer&#x27;s photo is edited or copied from my catalogue" in html
    attachments = {a.content_type: a for a in application.rebuttal.attachments.all()}
    original_url = reverse("stored-file", args=["rebuttal", attachments["video/mp4"].public_id])
    assert "This video is being prepared for playing in the browser." in html
    assert f'<a href="{original_url}" download="packing.mp4">Download the original video (packing.mp4,' in html
    assert "<video" not in html
    assert reverse("stored-file", args=["rebuttal", attachments["image/jpeg"].public_id]) in html
    assert "Packed intact, see the video." in html

    assert services.rebuttal_video_prepare(attachment_id=attachments["video/mp4"].pk) == "prepared"
    with translation.override("en"):
        html = client.get(page(application), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    video = attachments["video/mp4"].public_id
    playable_url = reverse("stored-file", args=["rebuttal-video", video])
    poster_url = reverse("stored-file", args=["rebuttal-poster", video])
    assert f'<video controls preload="metadata" src="{playable_url}" poster="{poster_url}"' in html
    assert f'<a href="{original_url}" download="packing.mp4">' in html
    assert client.get(playable_url)["Content-Type"] == "video/mp4"
    assert client.get(poster_url)["Content-Type"] == "image/jpeg"
    assert client.get(original_url)["Content-Type"] == "video/mp4"


def test_a_reused_photo_is_shown_beside_the_earlier_claim_with_the_buyers_history(client, senior_reviewer, product):
    earlier = in_review(product, buyer_ref="buyer-9", order_ref="order-1")
    services.application_decide(
        application_id=earlier.public_id,
        reviewer=senior_reviewer,
        outcome="approved",
        reason_codes=["evidence_consistent"],
        note="Refunded before.",
    )
    reused = in_review(product, buyer_ref="buyer-9", order_ref="order-2")
    client.force_login(senior_reviewer)
    response = client.get(page(reused))
    twins = [twin for panel in response.context["panels"] for twin in panel.earlier]
    assert [twin["application"].pk for twin in twins] == [earlier.pk]
    html = response.content.decode()
    assert page(earlier) in html
    assert reverse("stored-file", args=["evidence", earlier.evidence.get().public_id]) in html
    totals = response.context["history_totals"]
    assert (totals["count"], totals["forged"]) == (1, 1)
    assert response.context["buyer_risk"].refunded == {"CNY": Decimal("39.90")}
    assert [(row.pk, how) for row, how in response.context["related"]] == [(earlier.pk, "same_file")]
    assert response.context["buyer_refunded"] == "39.90 CNY"


def test_nothing_refunded_reads_as_an_amount_with_its_currency(client, senior_reviewer, product):
    earlier = in_review(product, buyer_ref="buyer-8", order_ref="order-1")
    reused = in_review(product, buyer_ref="buyer-8", order_ref="order-2")
    client.force_login(senior_reviewer)
    response = client.get(page(reused))
    assert earlier.pk in [row.pk for row, _ in response.context["related"]]
    assert response.context["buyer_refunded"] == "0.00 CNY"
    assert response.context["linked_refunded"] == "0.00 CNY"
    assert response.context["linked_claimed"] == "79.80 CNY"


def cropped_and_turned(data):
    image = Image.open(io.BytesIO(data)).convert("RGB")
    dx, dy = image.width // 10, image.height // 10
    out = io.BytesIO()
    image.crop((dx, dy, image.width - dx, image.height - dy)).rotate(2, resample=Image.BICUBIC).save(out, "JPEG")
    return out.getvalue()


def test_a_cropped_and_turned_reuse_is_shown_with_the_points_that_agree(client, senior_reviewer, product):
    earlier = in_review(product, evidence=GENUINE_CUP, buyer_ref="buyer-1")
    reused = in_review(product, evidence=cropped_and_turned(GENUINE_CUP), buyer_ref="buyer-2")
    client.force_login(senior_reviewer)
    with translation.override("en"):
        response = client.get(page(reused))
    (twin,) = [twin for panel in response.context["panels"] for twin in panel.earlier]
    assert twin["application"] == earlier and twin["points"] >= 12
    assert f"{twin['points']} points agree on one geometric transform" in response.content.decode()


def test_the_timeline_tells_who_did_what_in_the_readers_language(client, reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    english = [item["text"] for item in client.get(page(application)).context["timeline"]]
    assert english[-2] == "The merchant's window closed; sent to human review. (Awaiting merchant → In human review)"
    assert english[-1].startswith("reviewer claimed the application until ")
    chinese = [
        item["text"] for item in client.get(page(application), HTTP_ACCEPT_LANGUAGE="zh-hans").context["timeline"]
    ]
    assert chinese[-2] == "商家回应期已结束；转人工审核。（等待商家回应 → 人工审核中）"


def test_confirm_and_next_decides_and_opens_the_next_application_claimed(client, reviewer, product):
    first = in_review(product, order_ref="order-1")
    second = in_review(product, order_ref="order-2")
    services.application_claim(application_id=first.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    confirmation = client.post(decide_url(first), REJECTION).content.decode()
    assert 'id="confirm-decision-next"' in confirmation
    response = client.post(decide_url(first), {**REJECTION, "confirm": "next"})
    assert response.status_code == 302 and response["Location"] == page(second)
    assert Decision.objects.get().application == first
    assert RefundApplication.objects.get(pk=second.pk).claimed_by == reviewer


def test_the_timeline_names_a_seniors_override_of_anothers_claim(client, reviewer, senior_reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=senior_reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Derived.",
    )
    client.force_login(senior_reviewer)
    texts = [item["text"] for item in client.get(page(application), HTTP_ACCEPT_LANGUAGE="en").context["timeline"]]
    # The decision may be followed by the second-review sampling's draw, so not always last.
    assert any("override of the claim held by reviewer" in text for text in texts)


def test_going_back_from_the_confirmation_keeps_what_the_reviewer_wrote(client, reviewer, product):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    client.force_login(reviewer)
    response = client.post(decide_url(application), {**REJECTION, "back": "1"})
    assert response.status_code == 200 and "The catalogue photo with a crack." in response.content.decode()
    assert response.context["form"].cleaned_data["reason_codes"] == ["evidence_derived"]
    assert not Decision.objects.exists()
