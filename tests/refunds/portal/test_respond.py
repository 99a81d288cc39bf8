"""Accept or contest through the portal; refused well after the deadline or in the wrong state."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from refunds.models import Rebuttal, RebuttalAttachment, RefundApplication
from tests.factories import jpeg, submit
from tests.refunds.portal.conftest import close_window
from tests.refunds.portal.media import small_mp4

pytestmark = pytest.mark.django_db


def contest_form(**overrides):
    form = {
        "reason_codes": ["shipped_intact", "evidence_edited"],
        "statement": "Packed intact; see the video.",
        "confirm": "on",
        "attachments": [
            SimpleUploadedFile("packing.jpg", jpeg(seed=4)),
            SimpleUploadedFile("packing.mp4", small_mp4()),
        ],
    }
    form.update(overrides)
    return form


def test_the_owner_accepts_after_confirming(owner_client, awaiting):
    url = f"/portal/applications/{awaiting.public_id}/accept/"
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == f"/portal/applications/{awaiting.public_id}/"
    awaiting.refresh_from_db()
    assert awaiting.state == "decided" and awaiting.decision.actor_kind == "merchant"


def test_accepting_without_confirming_is_a_form_error(owner_client, awaiting):
    response = owner_client.post(f"/portal/applications/{awaiting.public_id}/accept/", {}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Tick the box to confirm." in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.state == "awaiting_merchant"


def test_the_owner_contests_with_reasons_a_photo_and_a_packing_video(owner_client, awaiting, merchant_owner):
    response = owner_client.post(
        f"/portal/applications/{awaiting.public_id}/contest/", contest_form(), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert awaiting.state == "in_review"
    rebuttal = awaiting.rebuttal
    assert rebuttal.submitted_by == merchant_owner and rebuttal.reason_codes == ["shipped_intact", "evidence_edited"]
    assert sorted(rebuttal.attachments.values_list("content_type", flat=True)) == ["image/jpeg", "video/mp4"]
    page = owner_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your rebuttal was sent." in page and "The item was intact when shipped" in page
    video = rebuttal.attachments.get(content_type="video/mp4")
    assert owner_client.get(f"/files/rebuttal/{video.public_id}")["Content-Type"] == "video/mp4"


@pytest.mark.parametrize("missing", ["reason_codes", "statement", "confirm"])
def test_a_contest_missing_a_required_part_is_a_form_error(owner_client, awaiting, missing):
    form = contest_form()
    del form[missing]
    response = owner_client.post(f"/portal/applications/{awaiting.public_id}/contest/", form)
    page = response.content.decode()
    assert response.status_code == 400 and "error-summary" in page
    # The summary links to the field, so keyboard and screen-reader users land on it.
    assert f'href="#field-{missing}"' in page and f'id="field-{missing}"' in page
    assert not Rebuttal.objects.exists()


def test_a_refused_file_is_named_among_the_files_chosen(owner_client, awaiting):
    form = contest_form(
        attachments=[
            SimpleUploadedFile("packing.jpg", jpeg(seed=4)),
            SimpleUploadedFile("label-photo.jpg", b"not a photo at all"),
        ]
    )
    response = owner_client.post(f"/portal/applications/{awaiting.public_id}/contest/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert (
        "“label-photo.jpg”: The file is not an image of a supported type: JPEG, PNG, WebP or HEIC."
        in response.content.decode()
    )
    assert not Rebuttal.objects.exists() and not RebuttalAttachment.objects.exists()


def test_contesting_after_the_deadline_is_refused_with_the_deadline_and_nothing_stored(owner_client, awaiting):
    close_window(awaiting)
    response = owner_client.post(
        f"/portal/applications/{awaiting.public_id}/contest/", contest_form(), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409
    assert "The merchant response window closed at" in response.content.decode()
    assert not Rebuttal.objects.exists() and not RebuttalAttachment.objects.exists()
    assert RefundApplication.objects.get(pk=awaiting.pk).state == "awaiting_merchant"


def test_accepting_after_the_deadline_is_refused(owner_client, awaiting):
    close_window(awaiting)
    response = owner_client.post(
        f"/portal/applications/{awaiting.public_id}/accept/", {"confirm": "on"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409 and "The merchant response window closed at" in response.content.decode()


def test_answering_a_claim_still_being_screened_is_refused_with_its_state(owner_client, product):
    application = submit(product, order_ref="order-new")
    response = owner_client.post(
        f"/portal/applications/{application.public_id}/accept/", {"confirm": "on"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409
    assert "This is not possible while the application is Submitted." in response.content.decode()


def test_a_second_answer_is_refused(owner_client, awaiting):
    owner_client.post(f"/portal/applications/{awaiting.public_id}/accept/", {"confirm": "on"})
    response = owner_client.post(
        f"/portal/applications/{awaiting.public_id}/contest/", contest_form(), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409 and "Decided" in response.content.decode()
    assert not Rebuttal.objects.exists()


@pytest.mark.parametrize("page", ["accept", "contest"])
def test_the_forms_open_without_errors(owner_client, awaiting, page):
    response = owner_client.get(f"/portal/applications/{awaiting.public_id}/{page}/")
    assert response.status_code == 200 and "error-summary" not in response.content.decode()


def test_the_upload_script_is_told_where_to_go_and_the_message_waits_there(owner_client, awaiting):
    response = owner_client.post(
        f"/portal/applications/{awaiting.public_id}/contest/",
        contest_form(),
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 204 and response["X-Location"] == f"/portal/applications/{awaiting.public_id}/"
    assert "Your rebuttal was sent." in owner_client.get(response["X-Location"]).content.decode()


def test_a_field_in_error_points_screen_readers_at_its_message(owner_client, awaiting):
    response = owner_client.post(f"/portal/applications/{awaiting.public_id}/contest/", contest_form(statement=""))
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_statement_helptext id_statement_error"' in page
    assert 'id="id_statement_helptext"' in page and 'id="id_statement_error"' in page


def test_the_contest_form_states_how_long_a_packing_video_may_last(owner_client, awaiting, settings):
    settings.VIDEO_MAX_SECONDS = 90
    page = owner_client.get(f"/portal/applications/{awaiting.public_id}/contest/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "视频最长 90 秒。" in page.content.decode()
