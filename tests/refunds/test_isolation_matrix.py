"""Invariant 6 across every surface: each persona reaches platform A's objects only where the
table below says it may.

The rows are read from the URL configuration itself (the API's and the portal's patterns, the
admin's registered pages and its site views), so a new route without a row here fails the test
instead of going unchecked. Every cell not listed as allowed must be denied: the API with 401,
403 or 404 and its JSON error shape, the portal with 404 or the login page, the admin with the
login page, 403 or 404. Allowed cells must succeed, so the matrix cannot pass by refusing all.

The state-changing routes of the API and the portal are tried with platform A's objects by
every persona that may not change them, and the world is compared before and after. A route
that changes the caller's own data (a platform creating its own merchant, a shop owner setting
their own notifications) is listed as allowed and not called: its tests live with its surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from refunds import services
from refunds.models import (
    ApiKey,
    Appeal,
    AuditEvent,
    ClaimGroupMember,
    Decision,
    EvidenceUpload,
    Merchant,
    MerchantMember,
    Policy,
    Product,
    QAReview,
    RebuttalAttachment,
    RefundApplication,
    SettingsChange,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from refunds.services import Actor
from refunds.services.platform import api_key_issue
from refunds.states import ActorKind
from tests.factories import FORGED_CUP, endpoint_create, jpeg, make_platform, make_product, make_staff, screen, submit
from tests.refunds.portal.media import small_mp4

SCOPES = ["read", "write", "policy", "webhooks"]

# --- the personas ---------------------------------------------------------------------------

KEY_PERSONAS = ["key_a_read", "key_a_write", "key_a_policy", "key_a_webhooks", "key_b"]
MERCHANTS = ["owner_a", "staff_a", "owner_other_shop", "owner_on_b"]
STAFF = ["reviewer", "senior", "auditor"]
PERSONAS = [*KEY_PERSONAS, *MERCHANTS, *STAFF, "anonymous"]
SHOP_A = {"owner_a", "staff_a"}


# --- the world: platform A's objects, and the people around them --------------------------


@dataclass
class World:
    ids: dict[str, str]  # the public ids (and the buyer reference) of platform A's objects
    keys: dict[str, str]
    users: dict[str, User]
    admin_objects: dict[str, object] = field(default_factory=dict)  # model label -> pk

    def secrets(self) -> set[str]:
        """The strings that must never appear in an answer to someone denied: A's ids."""
        return {value for name, value in self.ids.items() if name != "buyer"}


def build_world() -> World:
    platform_a, platform_b = make_platform("platform-a"), make_platform("platform-b")
    acme = Merchant.objects.create(platform=platform_a, external_ref="acme", name="Acme")
    other_shop = Merchant.objects.create(platform=platform_a, external_ref="other", name="Other")
    shop_on_b = Merchant.objects.create(platform=platform_b, external_ref="acme", name="Acme on B")
    make_product(shop_on_b)

    users = {}
    for name, shop, role in [
        ("owner_a", acme, MerchantMember.Role.OWNER),
        ("staff_a", acme, MerchantMember.Role.STAFF),
        ("owner_other_shop", other_shop, MerchantMember.Role.OWNER),
        ("owner_on_b", shop_on_b, MerchantMember.Role.OWNER),
    ]:
        users[name] = User.objects.create_user(name, password="pw-" + name)
        MerchantMember.objects.create(user=users[name], merchant=shop, role=role)
    users["reviewer"] = make_staff("reviewer", "Reviewers")
    users["senior"] = make_staff("senior", "Senior reviewers")
    users["auditor"] = make_staff("auditor", "Auditors")

    keys = {f"key_a_{scope}": api_key_issue(platform=platform_a, name=scope, scopes=[scope])[1] for scope in SCOPES}
    keys["key_b"] = api_key_issue(platform=platform_b, name="b", scopes=SCOPES)[1]

    # The endpoint first, so that the application's events are delivered to it.
    endpoint = endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    product = make_product(acme)
    # A forged claim, contested with a photo and decided: evidence, a heat-map, a rebuttal and a
    # decision, so that the dossier exists. A second claim with the same photo links them.
    application = screen(submit(product, evidence=[FORGED_CUP], buyer_ref="buyer-a", order_ref="order-1"))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor.of_user(ActorKind.MERCHANT, users["owner_a"]),
        statement="Intact when shipped.",
        attachments=[
            SimpleUploadedFile("p.jpg", jpeg(seed=9), content_type="image/jpeg"),
            SimpleUploadedFile("packing.mp4", small_mp4(), content_type="video/mp4"),
        ],
    )
    # Its playable copy and poster, as the worker makes them.
    video = RebuttalAttachment.objects.get(rebuttal__application=application, content_type="video/mp4")
    assert services.rebuttal_video_prepare(attachment_id=video.pk) == "prepared"
    # Every decision drawn for a second review, so that the world has one to open.
    Policy.objects.filter(platform=platform_a).update(qa_sample_rate=1)
    services.application_claim(application_id=application.public_id, reviewer=users["senior"])
    # The reviewer asks for another photo, which the platform sends, before deciding.
    photo_request = services.evidence_request_create(
        application_id=application.public_id, actor=Actor.of_user(ActorKind.REVIEWER, users["senior"])
    )
    services.evidence_request_answer(
        request_id=photo_request.public_id,
        actor=Actor(ActorKind.PLATFORM, None, "api key a"),
        evidence=[SimpleUploadedFile("second.jpg", jpeg(seed=12), content_type="image/jpeg")],
    )
    services.application_decide(
        application_id=application.public_id,
        reviewer=users["senior"],
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Derived from the catalogue photo.",
    )
    # The platform appeals the rejection for the buyer, with a file.
    appeal = services.appeal_file(
        application_id=application.public_id,
        side="buyer",
        actor=Actor(ActorKind.PLATFORM, None, "api key a"),
        statement="The crack is on the courier's photo.",
        attachments=[SimpleUploadedFile("courier.jpg", jpeg(seed=11), content_type="image/jpeg")],
    )
    screen(submit(product, evidence=[FORGED_CUP], buyer_ref="buyer-a2", order_ref="order-2"))
    application = RefundApplication.objects.get(pk=application.pk)
    evidence = application.evidence.order_by("position").first()
    finding = evidence.screening.findings.exclude(artifact="").first()
    reference = product.reference_images.get()
    attachment = application.rebuttal.attachments.get(content_type="image/jpeg")
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    event = WebhookEvent.objects.filter(platform=platform_a).first()
    group = ClaimGroupMember.objects.get(application=application).group
    assert finding is not None and delivery is not None and event is not None

    ids = {
        "application": str(application.public_id),
        "evidence": str(evidence.public_id),
        "finding": str(finding.public_id),
        "attachment": str(attachment.public_id),
        "video": str(video.public_id),
        "merchant": str(acme.public_id),
        "product": str(product.public_id),
        "reference": str(reference.public_id),
        "endpoint": str(endpoint.public_id),
        "delivery": str(delivery.public_id),
        "event": str(event.public_id),
        "claim_group": str(group.public_id),
        "appeal": str(appeal.public_id),
        "appeal_attachment": str(appeal.attachments.get().public_id),
        "evidence_request": str(photo_request.public_id),
        "buyer": "buyer-a",
    }
    admin_objects = {
        "refunds.refundapplication": application.pk,
        "refunds.platform": platform_a.pk,
        "refunds.policy": Policy.objects.get(platform=platform_a).pk,
        "refunds.merchant": acme.pk,
        "refunds.merchantmember": MerchantMember.objects.get(user=users["owner_a"]).pk,
        "refunds.product": product.pk,
        "refunds.apikey": ApiKey.objects.filter(platform=platform_a).first().pk,
        "refunds.webhookendpoint": endpoint.pk,
        "refunds.settingschange": SettingsChange.objects.filter(platform=platform_a).first().pk,
        "refunds.auditevent": AuditEvent.objects.filter(application=application).first().pk,
        "refunds.decision": Decision.objects.get(application=application).pk,
        "refunds.appeal": appeal.pk,
        "refunds.qareview": QAReview.objects.get(application=application).pk,
        "refunds.webhookevent": event.pk,
        "refunds.webhookdelivery": delivery.pk,
        "auth.group": Group.objects.get(name="Reviewers").pk,
        "auth.user": users["owner_a"].pk,
        "screening.screeningresult": evidence.screening.pk,
        "screening.finding": finding.pk,
    }
    # A failed login by owner_a, so that the lockout records have a row to open too.
    seen = {"username": "owner_a", "ip_address": "127.0.0.1", "user_agent": "test", "path_info": "/"}
    for row in (
        AccessAttempt.objects.create(**seen, failures_since_start=1),
        AccessLog.objects.create(**seen),
        AccessFailureLog.objects.create(**seen),
    ):
        admin_objects[row._meta.label_lower] = row.pk
    return World(ids=ids, keys=keys, users=users, admin_objects=admin_objects)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once for the module inside a transaction that is rolled back at its end; each test
    runs in a savepoint of it (pytest-django's ``db``), so nothing one test does reaches another."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def snapshot() -> dict[str, object]:
    """Everything a denied request could have changed (audit events aside: an allowed dossier
    download records itself)."""
    return {
        "applications": sorted(RefundApplication.objects.values_list("public_id", "state", "merchant_deadline")),
        "evidence": sorted(RefundApplication.objects.values_list("public_id", "evidence__public_id")),
        "rebuttals": sorted(RefundApplication.objects.values_list("public_id", "rebuttal__attachments__public_id")),
        "decisions": sorted(Decision.objects.values_list("application_id", "outcome")),
        "merchants": sorted(Merchant.objects.values_list("public_id", "name")),
        "products": sorted(Product.objects.values_list("public_id", "title", "reference_images__public_id")),
        "endpoints": sorted(WebhookEndpoint.objects.values_list("public_id", "url", "active", "secret")),
        "deliveries": sorted(WebhookDelivery.objects.values_list("public_id", "status", "attempts")),
        "policies": sorted(Policy.objects.values_list("platform_id", "updated_at")),
        "uploads": EvidenceUpload.objects.count(),
        "members": sorted(MerchantMember.objects.values_list("user_id", "merchant_id", "role")),
        "appeals": sorted(Appeal.objects.values_list("public_id", "state")),
    }


# --- how each persona calls -----------------------------------------------------------------


def client_of(world: World, persona: str, *, api: bool) -> Client:
    """A key travels in the Authorization header on every surface: the session surfaces must
    ignore it. A person logs in with a session, which the API must ignore."""
    client = APIClient() if api else Client()
    if persona in world.keys:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {world.keys[persona]}"
    elif persona != "anonymous":
        client.force_login(world.users[persona])
    return client


@dataclass
class Tally:
    checks: int = 0
    denied: int = 0
    allowed: int = 0
    not_called: int = 0  # allowed writes of the caller's own data
    failures: list[str] = field(default_factory=list)

    def record(self, allowed: bool, problem: str | None, where: tuple) -> None:
        self.checks += 1
        if allowed:
            self.allowed += 1
        else:
            self.denied += 1
        if problem:
            self.failures.append(f"{where}: {problem}")

    def report(self, surface: str) -> None:
        TOTAL.checks, TOTAL.denied, TOTAL.allowed = (
            TOTAL.checks + self.checks,
            TOTAL.denied + self.denied,
            TOTAL.allowed + self.allowed,
        )
        TOTAL.not_called += self.not_called
        print(f"\nisolation matrix, {surface}: {self.checks} checks, {self.denied} denied, {self.allowed} allowed")
        assert not self.failures, "\n".join(self.failures[:40]) + f"\n({len(self.failures)} cells wrong)"


TOTAL = Tally()


@pytest.fixture(scope="module", autouse=True)
def total() -> Iterator[None]:
    yield
    n, denied, allowed = TOTAL.checks, TOTAL.denied, TOTAL.allowed
    print(f"\nisolation matrix: {n} checks, {denied} denied, {allowed} allowed")
    print(f"({TOTAL.not_called} allowed cells that write the caller's own data are listed, not called)")


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    """Yield (namespaced name, route, pattern) for every named pattern under the resolver."""
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry, route, inner)
        elif entry.name:
            yield f"{namespace}{entry.name}", route, entry


def routes_under(prefix: str) -> list[tuple[str, str, URLPattern]]:
    return [row for row in walk(get_resolver()) if row[0].startswith(prefix)]


def leaked(body: bytes, world: World, *, besides: str = "") -> list[str]:
    text = body.decode("utf-8", "replace")
    return sorted(secret for secret in world.secrets() if secret in text and secret not in besides)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content


# --- the API --------------------------------------------------------------------------------

# Each route of /api/v1/: the object of platform A it names (None for a list or a creation) and
# the scope each method needs ("public" for the schema and its viewers, which carry no data).
API_ROUTES: dict[str, tuple[str | None, dict[str, str]]] = {
    "applications": (None, {"GET": "read", "POST": "write"}),
    "application": ("application", {"GET": "read"}),
    "application-evidence": ("application", {"POST": "write"}),
    "application-withdraw": ("application", {"POST": "write"}),
    "application-accept": ("application", {"POST": "write"}),
    "application-contest": ("application", {"POST": "write"}),
    "application-audit": ("application", {"GET": "read"}),
    "application-dossier": ("application", {"GET": "read"}),
    "application-appeals": ("application", {"GET": "read", "POST": "write"}),
    "application-appeal": ("application", {"GET": "read"}),
    "application-appeal-withdraw": ("application", {"POST": "write"}),
    "application-evidence-requests": ("application", {"GET": "read"}),
    "application-evidence-request": ("application", {"GET": "read"}),
    "application-evidence-request-answer": ("application", {"POST": "write"}),
    "buyer": ("buyer", {"GET": "read"}),
    "claim-group": ("claim_group", {"GET": "read"}),
    "events": (None, {"GET": "read"}),
    "evidence-uploads": (None, {"POST": "write"}),
    "finding-heatmap": ("finding", {"GET": "read"}),
    "merchants": (None, {"GET": "read", "POST": "write"}),
    "merchant": ("merchant", {"GET": "read"}),
    "products": (None, {"GET": "read", "POST": "write"}),
    "product": ("product", {"GET": "read"}),
    "reference-images": ("product", {"GET": "read", "POST": "write"}),
    "policy": (None, {"GET": "policy", "PATCH": "policy"}),
    "statistics-reviewers": (None, {"GET": "read"}),
    "webhook-endpoints": (None, {"GET": "webhooks", "POST": "webhooks"}),
    "webhook-endpoint": ("endpoint", {"GET": "webhooks", "PATCH": "webhooks", "DELETE": "webhooks"}),
    "webhook-endpoint-rotate": ("endpoint", {"POST": "webhooks"}),
    "webhook-deliveries": (None, {"GET": "webhooks"}),
    "webhook-delivery-redeliver": ("delivery", {"POST": "webhooks"}),
    "schema": (None, {"GET": "public"}),
    "docs": (None, {"GET": "public"}),
    "redoc": (None, {"GET": "public"}),
}

# Path parameters naming another object than the route's own (an appeal under its application).
API_KWARGS = {"appeal_id": "appeal", "request_id": "evidence_request"}

# Writes that name no object of platform A: a key with the scope changes its own platform's data
# (allowed, not called here); every other persona is refused and tried.
OWN_PLATFORM_WRITES = {
    ("merchants", "POST"),
    ("evidence-uploads", "POST"),
    ("policy", "PATCH"),
    ("webhook-endpoints", "POST"),
}


def api_body(world: World, route: str) -> tuple[dict | None, str]:
    """A valid-looking body for each write, naming platform A's objects where it names any."""
    photo = SimpleUploadedFile("photo.jpg", FORGED_CUP, content_type="image/jpeg")
    ids = world.ids
    bodies = {
        "applications": (
            {
                "merchant": ids["merchant"],
                "product": ids["product"],
                "buyer_ref": "intruder",
                "order_ref": "intruder-1",
                "amount": "59.00",
                "currency": "CNY",
                "reason_code": "damaged",
                "evidence": [photo],
            },
            "multipart",
        ),
        "application-evidence": ({"evidence": [photo]}, "multipart"),
        "application-evidence-request-answer": ({"evidence": [photo]}, "multipart"),
        "application-contest": ({"statement": "Not so.", "reason_codes": ["other"]}, "json"),
        "application-appeals": ({"side": "merchant", "statement": "Not so.", "reason_codes": ["other"]}, "json"),
        "evidence-uploads": ({"file": photo}, "multipart"),
        "merchants": ({"external_ref": "intruder", "name": "Intruder"}, "json"),
        "products": ({"merchant": ids["merchant"], "external_ref": "intruder", "title": "Intruder"}, "json"),
        "reference-images": ({"image": photo}, "multipart"),
        "policy": ({"fast_track_enabled": True}, "json"),
        "webhook-endpoints": ({"url": "http://127.0.0.1:9/intruder"}, "json"),
        "webhook-endpoint": ({"active": False}, "json"),
    }
    return bodies.get(route, ({}, "json"))


def api_expectation(persona: str, route: str, method: str) -> str:
    """ "ok": 2xx with platform A's data; "hidden": 2xx that shows none of A's objects (another
    platform's own list); "skip": allowed, changes the caller's own data, not called; else the
    status class of the refusal."""
    target, scopes = API_ROUTES[route]
    scope = scopes[method]
    if scope == "public":
        return "ok"
    if persona not in KEY_PERSONAS:
        return "401"  # sessions do not open the API: keys only
    if persona != "key_b" and persona != f"key_a_{scope}":
        return "403"  # a key of platform A without the scope
    if (route, method) in OWN_PLATFORM_WRITES:
        return "skip"
    if persona == "key_b":
        return "404" if target or method != "GET" else "hidden"
    return "ok" if method == "GET" else "skip"


def test_the_api_answers_each_key_only_with_its_own_platforms_objects(world, db):
    routes = routes_under("api:")
    assert {name.removeprefix("api:") for name, _, _ in routes} == set(API_ROUTES), "a route without a row"
    before, tally = snapshot(), Tally()
    for name, _, pattern in routes:
        route = name.removeprefix("api:")
        target, methods = API_ROUTES[route]
        kwargs = {key: world.ids[API_KWARGS.get(key, target)] for key in pattern.pattern.converters}
        url = reverse(name, kwargs=kwargs)
        for persona in PERSONAS:
            for method in methods:
                expected = api_expectation(persona, route, method)
                if expected == "skip":
                    tally.not_called += 1  # see OWN_PLATFORM_WRITES
                    continue
                data, form = api_body(world, route) if method != "GET" else (None, "json")
                client = client_of(world, persona, api=True)
                response = getattr(client, method.lower())(url, data, format=form)
                tally.record(expected == "ok", api_problem(response, expected, world, url), (persona, method, url))
    tally.report("api")
    assert snapshot() == before, "a refused write changed something"


def api_problem(response, expected: str, world: World, url: str) -> str | None:
    status = response.status_code
    if expected == "ok":
        return None if 200 <= status < 300 else f"allowed but answered {status}"
    body = body_of(response)
    if expected == "hidden":
        if not 200 <= status < 300:
            return f"expected its own (empty) list, got {status}"
        return f"shows {leaked(body, world)}" if leaked(body, world) else None
    if str(status) != expected:
        return f"expected {expected}, got {status}"
    if "error" not in response.json() or "code" not in response.json()["error"]:
        return f"no JSON error shape: {body[:200]!r}"
    return f"the refusal names {leaked(body, world, besides=url)}" if leaked(body, world, besides=url) else None


# --- the portal and the stored files --------------------------------------------------------

# Each route of the portal and its methods. The unsubscribe link is authorised by its signed
# token, not by a session, and names no object (tests/refunds/portal/test_notifications.py).
PORTAL_ROUTES: dict[str, set[str]] = {
    "dashboard": {"GET"},
    "applications": {"GET"},
    "application": {"GET"},
    "accept": {"GET", "POST"},
    "contest": {"GET", "POST"},
    "appeal": {"GET", "POST"},
    "appeal-withdraw": {"POST"},
    "dossier": {"GET"},
    "products": {"GET"},
    "product": {"GET", "POST"},
    "reference-remove": {"GET", "POST"},
    "shop-switch": {"POST"},
    "notifications": {"GET", "POST"},
    "unsubscribe": set(),
}
PORTAL_KWARGS = {
    "application_id": "application",
    "product_id": "product",
    "reference_id": "reference",
    "appeal_id": "appeal",
}
OWNERS_ONLY = {"reference-remove"}
OWN_PREFERENCES = {("notifications", "POST")}  # anyone's own notification settings


def portal_expectation(persona: str, route: str, method: str, names_object: bool) -> str:
    if persona in KEY_PERSONAS or persona == "anonymous":
        return "login"
    if persona in STAFF:
        return "admin"  # staff without a shop are sent to their own surface
    if (route, method) in OWN_PREFERENCES:
        return "skip"
    if persona in SHOP_A:
        if route in OWNERS_ONLY and persona != "owner_a":
            return "403"
        return "ok" if method == "GET" else "skip"
    # Another shop, on the same platform or another: A's ids are not found, its own lists are its own.
    return "404" if names_object or method == "POST" else "hidden"


def portal_problem(response, expected: str, world: World, url: str) -> str | None:
    """The ids in the URL were typed by the caller: a page repeating them (a language switch's
    "next") reveals nothing; any other id of platform A would."""
    status, location = response.status_code, response.get("Location", "")
    body = body_of(response)
    if expected == "ok":
        return None if 200 <= status < 300 else f"allowed but answered {status} {location}"
    if expected == "login":
        return None if status == 302 and location.startswith("/accounts/login/?next=") else f"{status} {location}"
    if expected == "admin":
        return None if status == 302 and location.startswith("/admin/") else f"{status} {location}"
    if expected == "hidden":
        if not 200 <= status < 300:
            return f"expected its own page, got {status}"
    elif str(status) != expected:
        return f"expected {expected}, got {status} {location}"
    named = leaked(body, world, besides=url)
    return f"the page names {named}" if named else None


def portal_post_data(world: World) -> dict[str, object]:
    """Every field any of the portal's forms reads, so that no refusal is only a form's."""
    return {
        "confirm": "on",
        "statement": "Intact when shipped.",
        "reason_codes": ["other"],
        "shop": world.ids["merchant"],
        "kind": "catalogue",
        "image": SimpleUploadedFile("photo.jpg", FORGED_CUP, content_type="image/jpeg"),
    }


def test_the_portal_shows_a_shops_objects_to_its_members_only(world, db):
    routes = routes_under("portal:")
    assert {name.removeprefix("portal:") for name, _, _ in routes} == set(PORTAL_ROUTES), "a route without a row"
    before, tally = snapshot(), Tally()
    for name, _, pattern in routes:
        route = name.removeprefix("portal:")
        converters = list(pattern.pattern.converters)
        if converters and not set(converters) <= set(PORTAL_KWARGS):
            assert not PORTAL_ROUTES[route], f"portal:{route} names something the walk cannot fill"
            continue
        url = reverse(name, kwargs={key: world.ids[PORTAL_KWARGS[key]] for key in converters})
        for persona in PERSONAS:
            for method in sorted(PORTAL_ROUTES[route]):
                expected = portal_expectation(persona, route, method, bool(converters))
                if expected == "skip":
                    tally.not_called += 1
                    continue
                client = client_of(world, persona, api=False)
                response = client.post(url, portal_post_data(world)) if method == "POST" else client.get(url)
                problem = portal_problem(response, expected, world, url)
                tally.record(expected == "ok", problem, (persona, method, url))
    tally.report("portal")
    assert snapshot() == before, "a refused post changed something"


FILE_OBJECTS = {
    "evidence": "evidence",
    "heatmap": "finding",
    "reference": "reference",
    "rebuttal": "attachment",
    "rebuttal-video": "video",
    "rebuttal-poster": "video",
    "appeal": "appeal_attachment",
}


def test_stored_files_open_to_the_owning_shop_and_to_staff_only(world, db):
    from refunds.views import KINDS

    assert set(KINDS) == set(FILE_OBJECTS), "a kind of stored file without a row"
    tally = Tally()
    for kind, target in FILE_OBJECTS.items():
        url = reverse("stored-file", args=[kind, world.ids[target]])
        for persona in PERSONAS:
            if persona in KEY_PERSONAS or persona == "anonymous":
                expected = "login"
            elif persona in SHOP_A or persona in STAFF:  # the staff roles all hold the view permissions
                expected = "ok"
            else:
                expected = "404"
            response = client_of(world, persona, api=False).get(url)
            tally.record(expected == "ok", portal_problem(response, expected, world, url), (persona, url))
    tally.report("stored files")


# --- the admin ------------------------------------------------------------------------------

# The registered models each staff role may view (so list, open and see the history of), as
# refunds/roles.py grants them. Webhook endpoints are nobody's: their page shows the secret.
REVIEWER_VIEWS = {
    "refunds.refundapplication",
    "refunds.merchant",
    "refunds.product",
    "refunds.auditevent",
    "refunds.decision",
    "refunds.appeal",
    "refunds.qareview",
    "screening.screeningresult",
    "screening.finding",
}
ADMIN_MAY_VIEW = {
    "reviewer": REVIEWER_VIEWS,
    "senior": REVIEWER_VIEWS | {"refunds.policy", "refunds.settingschange"},
    "auditor": REVIEWER_VIEWS
    | {
        "refunds.platform",
        "refunds.policy",
        "refunds.apikey",
        "refunds.webhookevent",
        "refunds.webhookdelivery",
        "refunds.settingschange",
        "refunds.merchantmember",
        "auth.user",
    },
}
# What a staff member with the model's view permission gets from each page of a model.
MODEL_PAGES = {"changelist": "ok", "change": "ok", "history": "ok", "add": "403", "delete": "403"}
# The application's own pages (every staff role may view applications and download dossiers);
# "bounce": a GET of a page that acts on POST only sends back to the application or the queue.
APPLICATION_PAGES = {
    "claim_next": "bounce",
    "statistics": "ok",
    "claim": "bounce",
    "release": "bounce",
    "decide": "bounce",
    "request_photo": "bounce",
    "cancel_photo_request": "bounce",
    "dossier": "ok",
    "aligned": "ok",
}
# The world's decision is drawn for a blind second review that the reviewer persona may still
# make: the pages naming it are hidden from them (selectors.blind_application_ids), while the
# senior who decided and the auditor keep them. The application's page itself says so (200).
BLIND_TO_REVIEWER = {
    ("refunds.decision", "change"): "hidden",
    ("refunds.decision", "history"): "hidden",
    ("refunds.auditevent", "change"): "hidden",
    ("refunds.auditevent", "history"): "hidden",
    ("refunds.refundapplication", "dossier"): "bounce",
}
# The appeal's own pages act on POST only, through the appeal services.
APPEAL_PAGES = {"claim": "bounce", "decide": "bounce"}
# So do a second review's, through the quality services.
QA_PAGES = {"claim": "bounce", "record": "bounce", "resolve": "bounce"}
OTHER_MODEL_PAGES = {"auth_user_password_change": "403"}  # setting another user's password
# The admin site's own pages, for staff. The login page is everyone's door; logging out (POST)
# ends one's own session; "r/…" (view on site) is a 404 as no model has a public page.
SITE_PAGES = {
    "index": "ok",
    "login": "public",
    "logout": "public",
    "password_change": "ok",  # one's own password
    "password_change_done": "ok",
    "autocomplete": "ok",  # the queue's shop filter completes names for those who may view shops
    "jsi18n": "ok",
    "view_on_site": "404",
    "app_list": "apps",
}
APPS_VISIBLE = {
    "reviewer": {"refunds", "screening"},
    "senior": {"refunds", "screening"},
    "auditor": {"refunds", "screening", "auth"},
}


def admin_rows(world: World) -> Iterator[tuple[str, str, str | dict[str, str]]]:
    """Yield (name, url, expectation for staff: one for all roles, or one per role) for every
    named admin page, with platform A's objects."""
    from django.contrib import admin
    from django.contrib.contenttypes.models import ContentType

    models = {f"{m._meta.app_label}_{m._meta.model_name}": m._meta.label_lower for m in admin.site._registry}
    apps = sorted({label.split(".")[0] for label in models.values()})
    for name, _, pattern in routes_under("admin:"):
        page = name.removeprefix("admin:")
        converters = set(pattern.pattern.converters)
        if page in SITE_PAGES:
            if SITE_PAGES[page] == "public":
                continue
            if page == "app_list":
                for app in apps:
                    expected = {role: "ok" if app in APPS_VISIBLE[role] else "404" for role in STAFF}
                    yield page, reverse(name, kwargs={"app_label": app}), expected
                continue
            application = RefundApplication.objects.get(public_id=world.ids["application"])
            kwargs = {
                "content_type_id": ContentType.objects.get_for_model(RefundApplication).pk,
                "object_id": application.pk,
            }
            url = reverse(name, kwargs={k: v for k, v in kwargs.items() if k in converters})
            if page == "autocomplete":  # Django answers 500 to a request without these
                url += "?app_label=refunds&model_name=refundapplication&field_name=merchant&term=A"
            yield page, url, SITE_PAGES[page]
            continue
        label = next((models[prefix] for prefix in models if page.startswith(prefix + "_")), None)
        assert label is not None, f"admin:{page} belongs to no registered model"
        action = page.removeprefix(label.replace(".", "_") + "_")
        kwargs = {"object_id": world.admin_objects[label], "evidence_id": world.ids["evidence"], "id": None}
        url = reverse(name, kwargs={k: v for k, v in kwargs.items() if k in converters})
        if page in OTHER_MODEL_PAGES:
            yield page, url, OTHER_MODEL_PAGES[page]
        elif label == "refunds.refundapplication" and action in APPLICATION_PAGES:
            view = APPLICATION_PAGES[action]
            blind = BLIND_TO_REVIEWER.get((label, action))
            yield page, url, {role: blind if blind and role == "reviewer" else view for role in STAFF}
        elif label == "refunds.appeal" and action in APPEAL_PAGES:
            yield page, url, APPEAL_PAGES[action]
        elif label == "refunds.qareview" and action in QA_PAGES:
            yield page, url, QA_PAGES[action]
        else:
            assert action in MODEL_PAGES, f"admin:{page} has no row"
            view = MODEL_PAGES[action]
            blind = BLIND_TO_REVIEWER.get((label, action))
            yield (
                page,
                url,
                {
                    role: (blind if blind and role == "reviewer" else view) if label in ADMIN_MAY_VIEW[role] else "403"
                    for role in STAFF
                },
            )


def admin_problem(response, expected: str, world: World, url: str) -> str | None:
    status, location = response.status_code, response.get("Location", "")
    if expected == "ok":
        return None if 200 <= status < 300 else f"allowed but answered {status} {location}"
    if expected == "login":
        return None if status == 302 and location.startswith("/admin/login/?next=") else f"{status} {location}"
    if expected == "bounce":
        return None if status == 302 and location.startswith("/admin/refunds/") else f"{status} {location}"
    if expected == "hidden":  # Django's answer for an object the viewer's queryset leaves out
        return None if status == 302 and location == "/admin/" else f"{status} {location}"
    if str(status) != expected:
        return f"expected {expected}, got {status} {location}"
    named = leaked(body_of(response), world, besides=url)
    return f"the refusal names {named}" if named else None


def test_the_admin_opens_each_page_to_the_staff_roles_that_hold_its_permission(world, db):
    tally = Tally()
    for page, url, staff_expectation in admin_rows(world):
        for persona in PERSONAS:
            if persona in STAFF:
                expected = staff_expectation if isinstance(staff_expectation, str) else staff_expectation[persona]
            else:
                expected = "login"  # keys, shop members and visitors are not staff
            response = client_of(world, persona, api=False).get(url)
            tally.record(expected == "ok", admin_problem(response, expected, world, url), (persona, page, url))
    tally.report("admin")
