"""Everyone signs in on one page and lands where they belong; `/` points the way."""

from __future__ import annotations

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


def test_the_landing_page_points_to_the_portal_the_review_queue_and_the_api_docs(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    # Reviewers land on their queue (through the sign-in), not on the admin's index of models.
    for url in ("/portal/", "/admin/refunds/refundapplication/", "/api/v1/docs/"):
        assert f'href="{url}"' in page.content.decode()


def test_an_anonymous_visitor_of_the_portal_is_sent_to_the_login_page(client):
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/portal/"
    assert client.get(response["Location"]).status_code == 200


def test_a_file_link_sends_an_anonymous_visitor_to_a_login_page_that_exists(client, forged):
    evidence = forged.evidence.first()
    response = client.get(f"/files/evidence/{evidence.public_id}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/files/evidence/")
    assert client.get(response["Location"]).status_code == 200


def test_the_owner_signs_in_and_lands_on_the_dashboard(client, merchant_owner):
    response = client.post("/accounts/login/", {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_a_wrong_password_is_a_form_error_not_a_login(client, merchant_owner):
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "error-summary" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_owner_follows_the_next_parameter_back_to_the_file(client, merchant_owner, forged):
    evidence = forged.evidence.first()
    response = client.post(
        f"/accounts/login/?next=/files/evidence/{evidence.public_id}",
        {"username": "owner", "password": "pw-owner", "next": f"/files/evidence/{evidence.public_id}"},
    )
    assert response["Location"] == f"/files/evidence/{evidence.public_id}"
    assert client.get(response["Location"]).status_code == 200


def test_a_reviewer_signing_in_here_goes_on_to_the_admin(client, reviewer):
    client.post("/accounts/login/", {"username": "reviewer", "password": "pw-reviewer"})
    response = client.get("/portal/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_a_user_of_no_shop_is_told_so(client, shopless):
    client.force_login(shopless)
    response = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "not linked to a shop" in response.content.decode()


def test_logging_out_ends_the_session(owner_client):
    response = owner_client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert owner_client.get("/portal/").status_code == 302


def test_the_owner_resets_a_forgotten_password_by_e_mail(client, merchant_owner):
    merchant_owner.email = "owner@acme.example"
    merchant_owner.save()
    response = client.post("/accounts/password_reset/", {"email": "owner@acme.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get("/" + path, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "Cup-and-saucer-42", "new_password2": "Cup-and-saucer-42"}
    )
    assert done.status_code == 302
    signed_in = client.post("/accounts/login/", {"username": "owner", "password": "Cup-and-saucer-42"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/portal/"


def test_the_owner_changes_the_password(owner_client):
    response = owner_client.post(
        "/accounts/password_change/",
        {"old_password": "pw-owner", "new_password1": "Teapot-lid-9731", "new_password2": "Teapot-lid-9731"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password_change/done/"
