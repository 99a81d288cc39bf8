"""Invariant 6 in the portal: every URL that names one of Acme's objects, tried by the owner of
another shop (same platform or another) and by an anonymous visitor, answers 404 or the login page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from refunds.models import MerchantMember, RefundApplication
from refunds.portal import urls as portal_urls
from refunds.services import Actor, application_claim, application_contest, application_decide
from refunds.states import ActorKind
from tests.factories import jpeg
from tests.refunds.appeal_builders import buyer_appeal

pytestmark = pytest.mark.django_db

# The unsubscribe link is authorised by its signed token, not by a session (test_notifications.py).
TOKEN_ROUTES = {"unsubscribe"}
POST_ROUTES = {"accept", "contest", "appeal", "appeal-withdraw", "product", "reference-remove"}
GET_ROUTES = {
    "dashboard",
    "applications",
    "application",
    "accept",
    "contest",
    "appeal",
    "dossier",
    "products",
    "product",
    "notifications",
    "reference-remove",
}


@pytest.fixture
def acme(forged, merchant_owner, reviewer) -> dict[str, object]:
    """Every kind of object Acme has: an application with evidence, a heat-map and a rebuttal,
    decided and appealed with a file, a product and its photo."""
    contested = application_contest(
        application_id=forged.public_id,
        actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner),
        statement="Intact when shipped.",
        attachments=[SimpleUploadedFile("p.jpg", jpeg(seed=9))],
    )
    evidence = contested.evidence.get()
    application_claim(application_id=forged.public_id, reviewer=reviewer)
    application_decide(
        application_id=forged.public_id,
        reviewer=reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Catalogue photo.",
    )
    appeal = buyer_appeal(contested, attachments=[SimpleUploadedFile("r.jpg", jpeg(seed=10))])
    return {
        "application_id": forged.public_id,
        "product_id": forged.product.public_id,
        "reference_id": forged.product.reference_images.get().public_id,
        "appeal_id": appeal.public_id,
        "files": [
            reverse("stored-file", args=["appeal", appeal.attachments.get().public_id]),
            reverse("stored-file", args=["evidence", evidence.public_id]),
            reverse("stored-file", args=["heatmap", evidence.screening.findings.exclude(artifact="").get().public_id]),
            reverse("stored-file", args=["reference", forged.product.reference_images.get().public_id]),
            reverse("stored-file", args=["rebuttal", contested.rebuttal.attachments.get().public_id]),
        ],
    }


def acme_urls(acme: dict[str, object]) -> list[tuple[str, str]]:
    """Return (method, url) for every route of the portal that names an object, with Acme's ids."""
    walked = []
    for pattern in portal_urls.urlpatterns:
        names = list(pattern.pattern.converters)
        if not names or pattern.name in TOKEN_ROUTES:
            continue
        url = reverse(f"portal:{pattern.name}", kwargs={name: acme[name] for name in names})
        methods = (["GET"] if pattern.name in GET_ROUTES else []) + (["POST"] if pattern.name in POST_ROUTES else [])
        assert methods, f"the walk does not know how to call portal:{pattern.name}"
        walked += [(method, url) for method in methods]
    return walked + [("GET", url) for url in acme["files"]]


@pytest.fixture
def intruders(other_owner, merchant_b) -> list[User]:
    """Owners of another shop of platform A and of a shop on platform B."""
    on_b = User.objects.create_user("owner-on-b", password="pw")
    MerchantMember.objects.create(user=on_b, merchant=merchant_b)
    return [other_owner, on_b]


def test_the_owner_of_another_shop_gets_404_for_every_url_of_acme(client, acme, intruders):
    urls = acme_urls(acme)
    assert len(urls) >= 12
    for intruder in intruders:
        client.force_login(intruder)
        for method, url in urls:
            response = (
                client.post(url, {"confirm": "on", "statement": "x", "reason_codes": ["other"]})
                if method == "POST"
                else client.get(url)
            )
            assert response.status_code == 404, (intruder.username, method, url, response.status_code)
    application = RefundApplication.objects.get(public_id=acme["application_id"])
    assert application.state == "decided" and application.product.reference_images.count() == 1
    assert [a.state for a in application.appeals.all()] == ["filed"]


def test_an_anonymous_visitor_gets_the_login_page_for_every_url_of_acme(client, acme):
    for method, url in acme_urls(acme):
        response = client.post(url, {"confirm": "on"}) if method == "POST" else client.get(url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response["Location"].startswith("/accounts/login/?next="), (method, url)


def test_the_other_shops_own_pages_never_mention_acmes_objects(client, acme, other_owner):
    client.force_login(other_owner)
    for path in (
        "/portal/",
        "/portal/applications/",
        "/portal/products/",
        "/portal/applications/?state=in_review",
        "/portal/notifications/",
    ):
        page = client.get(path).content.decode()
        assert str(acme["application_id"]) not in page and str(acme["product_id"]) not in page, path


def test_malformed_and_unknown_ids_are_404_too(client, other_owner):
    client.force_login(other_owner)
    for url in (
        "/portal/applications/00000000-0000-0000-0000-000000000000/",
        "/portal/applications/1/",
        "/portal/products/00000000-0000-0000-0000-000000000000/",
    ):
        assert client.get(url).status_code == 404, url
