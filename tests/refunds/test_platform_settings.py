"""A platform's settings (onboarding, policy, API keys, webhook endpoints) change only through
services that validate once and record who changed what; the API, the admin and the command
all go through them."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from refunds.errors import Conflict, InvalidInput
from refunds.integration.apikeys import api_key_check
from refunds.models import ApiKey, Platform, Policy, SettingsChange, WebhookEndpoint
from refunds.services import platform as platform_services
from refunds.services.platform import api_key_issue
from tests.factories import GENUINE_CUP, make_product
from tests.refunds.api.test_applications import client_with, form, post

pytestmark = pytest.mark.django_db

OPS = platform_services.settings_actor_for_command("test")


@pytest.fixture
def ops_key_a(platform_a):
    return api_key_issue(platform=platform_a, name="ops", scopes=["read", "write", "policy", "webhooks"])[1]


def changes(platform, action):
    return list(SettingsChange.objects.filter(platform=platform, action=action))


# --- 1. onboarding ----------------------------------------------------------------------------


def test_onboarding_creates_the_platform_with_its_policy_on_record():
    platform = platform_services.platform_create(name="Acme Mall", slug="acme-mall", actor=OPS)
    assert Policy.objects.get(platform=platform).merchant_window == timedelta(hours=48)
    assert [c.action for c in SettingsChange.objects.filter(platform=platform).order_by("id")] == [
        "platform_created",
        "policy_created",
    ]


def test_onboarding_refuses_a_policy_the_api_would_refuse_and_leaves_nothing():
    with pytest.raises(InvalidInput) as refused:
        platform_services.platform_create(name="Acme", slug="acme", actor=OPS, policy={"merchant_window": timedelta(0)})
    assert refused.value.details["param"] == "merchant_window"
    assert not Platform.objects.exists()


def test_a_taken_slug_is_a_conflict(platform_a):
    with pytest.raises(Conflict):
        platform_services.platform_create(name="Again", slug=platform_a.slug, actor=OPS)


def test_a_platform_added_in_the_admin_has_a_policy_and_screens_its_applications(admin_client):
    response = admin_client.post(
        reverse("admin:refunds_platform_add"), {"name": "Hand Made", "slug": "hand-made"}, follow=True
    )
    assert response.status_code == 200
    platform = Platform.objects.get(slug="hand-made")
    assert Policy.objects.filter(platform=platform).exists()
    assert SettingsChange.objects.get(platform=platform, action="platform_created").actor_label == "admin"

    from refunds.models import Merchant
    from tests.factories import screen, submit

    product = make_product(Merchant.objects.create(platform=platform, external_ref="s", name="Shop"))
    assert screen(submit(product, evidence=[GENUINE_CUP])).state == "awaiting_merchant"
    key = api_key_issue(platform=platform, name="ops", scopes=["policy"])[1]
    assert client_with(key).get("/api/v1/policy").status_code == 200


def test_a_platform_left_without_a_policy_gets_the_defaults_instead_of_a_500(ops_key_a, platform_a):
    Policy.objects.filter(platform=platform_a).delete()
    response = client_with(ops_key_a).get("/api/v1/policy")
    assert response.status_code == 200 and response.json()["fast_track_enabled"] is False
    assert changes(platform_a, "policy_created")[0].actor_kind == "system"


def test_the_command_creates_a_platform_with_its_policy_and_a_key():
    out = StringIO()
    call_command(
        "create_platform",
        "cli-mall",
        "--name",
        "CLI Mall",
        "--merchant-window-hours",
        "24",
        "--key",
        "--scopes",
        "read",
        "write",
        stdout=out,
        stderr=StringIO(),
    )
    platform = Platform.objects.get(slug="cli-mall")
    assert platform.policy.merchant_window == timedelta(hours=24)
    key = api_key_check(out.getvalue().strip())
    assert key.platform == platform and key.scopes == ["read", "write"]


def test_the_command_refuses_a_policy_the_api_would_refuse():
    with pytest.raises(CommandError, match="merchant_window"):
        call_command("create_platform", "short", "--merchant-window-hours", "0.1", stdout=StringIO(), stderr=StringIO())
    assert not Platform.objects.exists()


def refusal_of_create_platform(*args):
    with pytest.raises(CommandError) as refused:
        call_command(
            "create_platform", "short", "--merchant-window-hours", "0.1", *args, stdout=StringIO(), stderr=StringIO()
        )
    assert refused.value.returncode == 2 and not Platform.objects.exists()
    return str(refused.value)


def test_the_command_refuses_in_english_whatever_the_sites_language(settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        message = refusal_of_create_platform()
    assert message == (
        "The policy is invalid. merchant_window: The merchant window must be between 1 hour and 30 days."
    )


def test_the_command_refuses_in_the_language_asked():
    message = refusal_of_create_platform("--language", "zh-hans")
    assert message == "策略无效。 merchant_window: 商家回应时限必须在 1 小时 到 30 天 之间。"


def test_the_command_says_what_it_created_in_the_language_asked():
    err = StringIO()
    call_command("create_platform", "cli-mall", "--language", "zh-hans", stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith("已创建平台 cli-mall")
    err = StringIO()
    call_command("create_platform", "cli-mall-2", stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith("Created platform cli-mall-2")


# --- policy -----------------------------------------------------------------------------------


def test_a_policy_patch_writes_a_record_of_who_changed_what(platform_a, ops_key_a):
    response = client_with(ops_key_a).patch(
        "/api/v1/policy", {"fast_track_enabled": True, "fast_track_ceiling": "20.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    (record,) = changes(platform_a, "policy_updated")
    assert record.actor_kind == "platform" and record.actor_label.startswith("api key ")
    assert record.before == {"fast_track_enabled": False, "fast_track_ceiling": "0.00"}
    assert record.after == {"fast_track_enabled": True, "fast_track_ceiling": "20.00"}


def test_a_patch_that_changes_nothing_writes_no_record(platform_a, ops_key_a):
    client_with(ops_key_a).patch("/api/v1/policy", {"fast_track_enabled": False}, format="json")
    assert not changes(platform_a, "policy_updated")


@pytest.mark.parametrize(
    "change",
    [
        {"fast_track_enabled": 1},
        {"default_threshold": "0.5"},
        {"default_threshold": True},
        {"finding_thresholds": {"local_edit": "high"}},
        {"claim_timeout": "00:00:10"},
        {"merchant_window": "0"},
        {"unknown": 1},
    ],
)
def test_a_malformed_policy_patch_is_refused_and_changes_nothing(platform_a, ops_key_a, change):
    response = client_with(ops_key_a).patch("/api/v1/policy", change, format="json")
    assert response.status_code == 400, response.json()
    assert not changes(platform_a, "policy_updated")


def policy_form(policy, **overrides):
    data = {
        "merchant_window": "2 00:00:00",
        "fast_track_enabled": "",
        "fast_track_ceiling": "0.00",
        "expiry_auto_approves": "on",
        "claim_timeout": "00:30:00",
        "review_time_limit": "1 00:00:00",
        "senior_amount_ceiling": "500.00",
        "finding_thresholds": "{}",
        "default_threshold": "0.5",
        "buyer_alert_amount": "3000.00",
        "buyer_alert_currency": "CNY",
        "buyer_risk_holds_for_review": "on",
        "appeal_window_days": "30",
        "second_photo_window": "3 00:00:00",
        "qa_sample_rate": "0.05",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_the_admin_cannot_set_a_policy_the_api_would_refuse(admin_client, platform_a, ops_key_a):
    policy = platform_a.policy
    url = reverse("admin:refunds_policy_change", args=[policy.pk])
    response = admin_client.post(url, policy_form(policy, merchant_window="00:00:00"))
    assert response.status_code == 200 and "merchant_window" in response.context["adminform"].form.errors
    api = client_with(ops_key_a).patch("/api/v1/policy", {"merchant_window": "00:00:00"}, format="json")
    assert api.status_code == 400
    assert Policy.objects.get(pk=policy.pk).merchant_window == timedelta(hours=48)
    assert not changes(platform_a, "policy_updated")


def test_a_policy_change_in_the_admin_goes_through_the_service_and_is_on_record(admin_client, platform_a):
    policy = platform_a.policy
    response = admin_client.post(
        reverse("admin:refunds_policy_change", args=[policy.pk]),
        policy_form(policy, merchant_window="1 00:00:00"),
        follow=True,
    )
    assert response.status_code == 200
    assert Policy.objects.get(pk=policy.pk).merchant_window == timedelta(hours=24)
    (record,) = changes(platform_a, "policy_updated")
    assert record.actor_kind == "staff" and record.actor_user.username == "admin"
    assert record.before == {"merchant_window": 172800.0} and record.after == {"merchant_window": 86400.0}
    page = admin_client.get(
        reverse("admin:refunds_platform_change", args=[platform_a.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    # In words, not the stored code and field names.
    assert "Policy changed" in page and "policy_updated" not in page
    assert "merchant response window: 2 days" in page and "merchant response window: 1 day<" in page
    assert "merchant_window" not in page


def test_the_appeal_window_is_set_in_the_admin_and_the_api_by_the_one_validator(admin_client, platform_a, ops_key_a):
    policy = platform_a.policy
    url = reverse("admin:refunds_policy_change", args=[policy.pk])
    response = admin_client.post(url, policy_form(policy, appeal_window_days="0"))
    assert response.status_code == 200 and "appeal_window_days" in response.context["adminform"].form.errors
    api = client_with(ops_key_a).patch("/api/v1/policy", {"appeal_window_days": 400}, format="json")
    assert api.status_code == 400 and "appeal_window_days" in api.json()["error"]["details"]["errors"]
    admin_client.post(url, policy_form(policy, appeal_window_days="14"))
    assert Policy.objects.get(pk=policy.pk).appeal_window_days == 14
    api = client_with(ops_key_a).patch("/api/v1/policy", {"appeal_window_days": 60}, format="json")
    assert api.status_code == 200 and api.json()["appeal_window_days"] == 60
    records = changes(platform_a, "policy_updated")
    assert {r.after["appeal_window_days"] for r in records} == {14, 60}


def test_the_second_review_share_is_set_in_the_admin_and_the_api_by_the_one_validator(
    admin_client, platform_a, ops_key_a
):
    policy = platform_a.policy
    assert policy.qa_sample_rate == Decimal("0.05")
    url = reverse("admin:refunds_policy_change", args=[policy.pk])
    response = admin_client.post(url, policy_form(policy, qa_sample_rate="1.5"))
    assert response.status_code == 200 and "qa_sample_rate" in response.context["adminform"].form.errors
    for refused in ("1.01", 0.1, "0.12345", "-0.1", True):
        api = client_with(ops_key_a).patch("/api/v1/policy", {"qa_sample_rate": refused}, format="json")
        assert api.status_code == 400, refused
    admin_client.post(url, policy_form(policy, qa_sample_rate="0.1"))
    assert Policy.objects.get(pk=policy.pk).qa_sample_rate == Decimal("0.1")
    api = client_with(ops_key_a).patch("/api/v1/policy", {"qa_sample_rate": "0.25"}, format="json")
    assert api.status_code == 200 and api.json()["qa_sample_rate"] == "0.2500"
    records = changes(platform_a, "policy_updated")
    assert {r.after["qa_sample_rate"] for r in records} == {"0.1000", "0.2500"}


# --- API keys ---------------------------------------------------------------------------------


def test_issuing_rotating_and_revoking_a_key_are_each_on_record(platform_a):
    key, _ = api_key_issue(platform=platform_a, name="orders", scopes=["read"], actor=OPS)
    new, _ = platform_services.api_key_rotate(key=key, actor=OPS, overlap=timedelta(hours=1))
    platform_services.api_key_revoke(key=new, actor=OPS)
    assert [c.action for c in SettingsChange.objects.filter(platform=platform_a, target="api_key").order_by("id")] == [
        "api_key_issued",
        "api_key_issued",
        "api_key_rotated",
        "api_key_revoked",
    ]
    rotated = changes(platform_a, "api_key_rotated")[0]
    assert rotated.after["replaced_by"] == new.prefix and rotated.after["expires_at"]
    assert all("secret" not in str(c.after) for c in SettingsChange.objects.all())


def test_a_revoked_key_cannot_be_rotated(platform_a):
    key, _ = api_key_issue(platform=platform_a, name="orders", scopes=["read"])
    platform_services.api_key_revoke(key=key, actor=OPS)
    with pytest.raises(Conflict):
        platform_services.api_key_rotate(key=key, actor=OPS)
    assert ApiKey.objects.count() == 1


def test_rotation_in_the_admin_keeps_the_old_key_for_the_overlap(admin_client, platform_a, settings):
    settings.API_KEY_ROTATION_OVERLAP = timedelta(hours=3)
    old, old_text = api_key_issue(platform=platform_a, name="orders", scopes=["read"])
    admin_client.post(reverse("admin:refunds_apikey_changelist"), {"action": "rotate", "_selected_action": [old.pk]})
    assert api_key_check(old_text) is not None
    old.refresh_from_db()
    assert old.expires_at is not None and old.replaced_by is not None
    assert changes(platform_a, "api_key_rotated")[0].actor_kind == "staff"


# --- webhook endpoints ------------------------------------------------------------------------


def test_endpoint_changes_through_the_api_are_each_on_record(platform_a, ops_key_a):
    client = client_with(ops_key_a)
    made = client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example/a"}, format="json").json()
    assert (
        client.patch(f"/api/v1/webhook-endpoints/{made['id']}", {"active": False}, format="json").json()["active"]
        is False
    )
    client.post(f"/api/v1/webhook-endpoints/{made['id']}/rotate-secret")
    client.delete(f"/api/v1/webhook-endpoints/{made['id']}")
    records = SettingsChange.objects.filter(platform=platform_a, target="webhook_endpoint").order_by("id")
    assert [r.action for r in records] == [
        "webhook_endpoint_created",
        "webhook_endpoint_updated",
        "webhook_endpoint_secret_rotated",
        "webhook_endpoint_deleted",
    ]
    assert records[1].before == {"url": "https://hooks.example/a", "active": True}
    assert records[1].after == {"url": "https://hooks.example/a", "active": False}
    assert all("whsec_" not in str(r.before) + str(r.after) for r in records)


def test_an_endpoint_registered_inactive_stays_inactive_and_gets_no_events(platform_a, ops_key_a, product):
    from tests.factories import submit

    made = client_with(ops_key_a).post(
        "/api/v1/webhook-endpoints", {"url": "https://hooks.example/a", "active": False}, format="json"
    )
    assert made.status_code == 201 and made.json()["active"] is False
    submit(product)
    assert not WebhookEndpoint.objects.get().deliveries.exists()


def test_a_duplicate_endpoint_is_a_conflict(ops_key_a):
    client = client_with(ops_key_a)
    assert (
        client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example/a"}, format="json").status_code == 201
    )
    again = client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example/a"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "webhook_endpoint_exists"


def test_endpoints_are_capped_per_platform(ops_key_a, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    client = client_with(ops_key_a)
    for n in range(2):
        assert (
            client.post("/api/v1/webhook-endpoints", {"url": f"https://hooks.example/{n}"}, format="json").status_code
            == 201
        )
    third = client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example/2"}, format="json")
    assert third.status_code == 409 and third.json()["error"]["code"] == "webhook_endpoint_limit"
    assert WebhookEndpoint.objects.count() == 2


@pytest.mark.parametrize("body", [{"url": "https://hooks.example/a", "active": 0}, {"url": ""}, {"url": 5}])
def test_a_malformed_endpoint_is_refused(ops_key_a, body):
    response = client_with(ops_key_a).post("/api/v1/webhook-endpoints", body, format="json")
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_the_admin_creates_and_edits_endpoints_through_the_services(admin_client, platform_a):
    response = admin_client.post(
        reverse("admin:refunds_webhookendpoint_add"),
        {"platform": platform_a.pk, "url": "https://hooks.example/x", "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    admin_client.post(
        reverse("admin:refunds_webhookendpoint_change", args=[endpoint.pk]),
        {"url": "https://hooks.example/y"},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example/y" and endpoint.active is False
    assert [c.actor_kind for c in SettingsChange.objects.filter(target="webhook_endpoint")] == ["staff", "staff"]


def test_the_admin_refuses_a_duplicate_endpoint_with_a_form_error(admin_client, platform_a):
    platform_services.webhook_endpoint_create(platform=platform_a, url="https://hooks.example/x", actor=OPS)
    response = admin_client.post(
        reverse("admin:refunds_webhookendpoint_add"),
        {"platform": platform_a.pk, "url": "https://hooks.example/x", "active": "on"},
    )
    assert response.status_code == 200 and "url" in response.context["adminform"].form.errors
    assert WebhookEndpoint.objects.count() == 1


def test_settings_changes_are_read_only_in_the_admin(admin_client, platform_a):
    record = (
        SettingsChange.objects.filter(platform=platform_a).first()
        or platform_services.policy_update(platform=platform_a, changes={"fast_track_enabled": True}, actor=OPS)
        and SettingsChange.objects.first()
    )
    assert admin_client.get(reverse("admin:refunds_settingschange_changelist")).status_code == 200
    assert (
        admin_client.post(reverse("admin:refunds_settingschange_delete", args=[record.pk]), {"post": "yes"}).status_code
        == 403
    )
    with pytest.raises(ValueError):
        record.save()
    assert User.objects.filter(username="admin").exists()


def test_another_platforms_product_form_still_submits(product, key_a):
    # The JSON parser added to applications leaves multipart submissions as they were.
    assert post(client_with(key_a), form(product)).status_code == 201


def test_the_review_time_limit_and_senior_ceiling_are_policy_settings_and_codes_must_be_known(platform_a, ops_key_a):
    client = client_with(ops_key_a)
    unknown = client.patch("/api/v1/policy", {"finding_thresholds": {"looks_odd": 0.5}}, format="json")
    assert unknown.status_code == 400 and "finding_thresholds" in str(unknown.json()["error"]["details"])
    changed = client.patch(
        "/api/v1/policy",
        {
            "review_time_limit": "2 00:00:00",
            "senior_amount_ceiling": "800.00",
            "finding_thresholds": {"editing_software": 0.7},
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    policy = Policy.objects.get(platform=platform_a)
    assert policy.review_time_limit == timedelta(days=2) and policy.senior_amount_ceiling == Decimal("800.00")
    (record,) = changes(platform_a, "policy_updated")
    assert record.after["review_time_limit"] == 172800.0 and record.after["senior_amount_ceiling"] == "800.00"
