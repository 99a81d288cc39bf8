"""Who gets the evidence dossier where: the platform through the API, reviewers with the
permission in the admin, the merchant in the portal for its own shop's applications only."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import User

from refunds.models import MerchantMember
from refunds.services.platform import api_key_issue
from refunds.vocab import AuditAction
from tests.factories import make_staff, screen, submit
from tests.refunds.api.test_applications import client_with
from tests.refunds.services.test_dossier import decided_application

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(product, reviewer):
    return decided_application(product, reviewer)


def names_in(response) -> list[str]:
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [name.split("/", 1)[1] for name in archive.namelist()]


def assert_is_the_dossier(response, application) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f'filename="dossier-{application.public_id}.zip"' in response["Content-Disposition"]
    assert {"verify.py", "SHA256SUMS", "summary.pdf", "audit/chain.json"} <= set(names_in(response))


# --- the API -----------------------------------------------------------------------------


def test_the_platform_downloads_the_dossier_of_its_decided_application(decided, key_a):
    response = client_with(key_a).get(
        f"/api/v1/applications/{decided.public_id}/dossier", HTTP_ACCEPT="application/zip"
    )
    assert_is_the_dossier(response, decided)
    event = decided.audit_events.get(action=AuditAction.DOSSIER_GENERATED)
    assert event.actor_kind == "platform" and event.actor_label.startswith("api key ")


def test_an_undecided_application_is_a_clear_conflict_in_json(product, key_a):
    application = screen(submit(product))
    response = client_with(key_a).get(
        f"/api/v1/applications/{application.public_id}/dossier", HTTP_ACCEPT="application/zip"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_decided"
    assert response.json()["error"]["details"] == {"state": application.state}


def test_another_platforms_key_finds_no_dossier(decided, key_b):
    response = client_with(key_b).get(f"/api/v1/applications/{decided.public_id}/dossier")
    assert response.status_code == 404
    assert not decided.audit_events.filter(action=AuditAction.DOSSIER_GENERATED).exists()


def test_a_key_without_the_read_scope_is_refused(decided, platform_a):
    _, key = api_key_issue(platform=platform_a, name="writer", scopes=["write"])
    assert client_with(key).get(f"/api/v1/applications/{decided.public_id}/dossier").status_code == 403


def test_the_schema_describes_the_dossier_as_a_zip(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/applications/{public_id}/dossier"]["get"]
    assert "application/zip" in operation["responses"]["200"]["content"]
    assert "409" in operation["responses"]


# --- the admin ---------------------------------------------------------------------------


def test_a_reviewer_downloads_the_dossier_from_the_application_page(client, decided, reviewer):
    client.force_login(reviewer)
    page = client.get(f"/admin/refunds/refundapplication/{decided.pk}/change/").content.decode()
    url = f"/admin/refunds/refundapplication/{decided.pk}/dossier/"
    assert url in page
    assert_is_the_dossier(client.get(url), decided)
    assert decided.audit_events.get(action=AuditAction.DOSSIER_GENERATED).actor_label == "reviewer"
    page = client.get(f"/admin/refunds/refundapplication/{decided.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert "reviewer downloaded the evidence dossier." in page.content.decode()


def test_staff_without_the_permission_see_no_button_and_are_refused(client, decided):
    viewer = make_staff("viewer", "Reviewers")
    viewer.groups.clear()
    viewer.user_permissions.add(
        *User.objects.get(username="reviewer").groups.get().permissions.exclude(codename="download_dossier")
    )
    viewer = User.objects.get(pk=viewer.pk)
    client.force_login(viewer)
    page = client.get(f"/admin/refunds/refundapplication/{decided.pk}/change/").content.decode()
    assert "/dossier/" not in page
    assert client.get(f"/admin/refunds/refundapplication/{decided.pk}/dossier/").status_code == 403
    assert not decided.audit_events.filter(action=AuditAction.DOSSIER_GENERATED).exists()


def test_the_admin_says_why_an_undecided_application_has_no_dossier(client, product, reviewer):
    application = screen(submit(product))
    client.force_login(reviewer)
    response = client.get(
        f"/admin/refunds/refundapplication/{application.pk}/dossier/", follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "The evidence dossier exists only once the application is decided." in response.content.decode()


# --- the portal --------------------------------------------------------------------------


def test_the_merchant_downloads_the_dossier_of_its_own_application(client, decided, merchant_owner):
    client.force_login(merchant_owner)
    page = client.get(f"/portal/applications/{decided.public_id}/").content.decode()
    assert f"/portal/applications/{decided.public_id}/dossier/" in page
    assert_is_the_dossier(client.get(f"/portal/applications/{decided.public_id}/dossier/"), decided)
    assert decided.audit_events.get(action=AuditAction.DOSSIER_GENERATED).actor_kind == "merchant"


def test_another_shops_owner_finds_no_dossier(client, decided, other_merchant):
    stranger = User.objects.create_user("stranger", password="pw")
    MerchantMember.objects.create(user=stranger, merchant=other_merchant)
    client.force_login(stranger)
    assert client.get(f"/portal/applications/{decided.public_id}/dossier/").status_code == 404
    assert not decided.audit_events.filter(action=AuditAction.DOSSIER_GENERATED).exists()


def test_the_portal_explains_that_an_open_claim_has_no_dossier_yet(client, product, merchant_owner):
    application = screen(submit(product))
    client.force_login(merchant_owner)
    response = client.get(
        f"/portal/applications/{application.public_id}/dossier/", follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.redirect_chain[-1][0] == f"/portal/applications/{application.public_id}/"
    assert "The evidence dossier exists only once the application is decided." in response.content.decode()
