"""The reviewers' admin: state is read-only, actions go through the services."""

import re

import pytest
import time_machine
from django.urls import reverse

from refunds import services
from refunds.models import RefundApplication
from refunds.services.platform import api_key_issue
from refunds.states import ApplicationState
from tests.factories import CUP, screen, submit

pytestmark = pytest.mark.django_db

FULL_KEY = re.compile(r"rh_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")
CHANGELIST = reverse("admin:refunds_refundapplication_changelist")


def in_review(product):
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    return RefundApplication.objects.get(pk=application.pk)


def act(client, action, application):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [application.pk]}, follow=True)


def action_names(client):
    form = client.get(CHANGELIST).context["action_form"]
    return [name for name, _ in form.fields["action"].choices] if form else []


def test_a_reviewer_sees_the_application_with_its_verified_audit_chain(client, reviewer, product):
    application = in_review(product)
    client.force_login(reviewer)
    assert client.get(CHANGELIST).status_code == 200
    page = client.get(reverse("admin:refunds_refundapplication_change", args=[application.pk]))
    assert page.status_code == 200
    assert "verified (4 events)" in page.content.decode() or "已验证" in page.content.decode()


def test_an_auditor_can_read_but_has_no_deciding_actions(client, auditor, product):
    application = in_review(product)
    client.force_login(auditor)
    assert client.get(reverse("admin:refunds_refundapplication_change", args=[application.pk])).status_code == 200
    assert not {"claim"} & set(action_names(client))


def test_the_state_cannot_be_posted_through_the_change_form(admin_client, product):
    application = in_review(product)
    url = reverse("admin:refunds_refundapplication_change", args=[application.pk])
    admin_client.post(url, {"state": "decided"})
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW


def test_every_admin_page_of_the_project_renders(admin_client, product, reviewer):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Catalogue photo.",
    )
    from django.contrib import admin

    for model in admin.site._registry:
        if model._meta.app_label not in {"refunds", "screening"}:
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{prefix}_changelist")).status_code == 200, prefix
        obj = model.objects.first()
        if obj is not None:
            assert admin_client.get(reverse(f"{prefix}_change", args=[obj.pk])).status_code == 200, prefix


def test_the_evidence_image_is_served_to_staff_with_safe_headers(client, reviewer, product):
    application = submit(product)
    client.force_login(reviewer)
    evidence = application.evidence.get()
    response = client.get(reverse("stored-file", args=["evidence", evidence.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_evidence_image_is_hidden_from_another_shop(client, product, other_merchant):
    from django.contrib.auth.models import User

    from refunds.models import MerchantMember

    outsider = User.objects.create_user("outsider")
    MerchantMember.objects.create(user=outsider, merchant=other_merchant)
    client.force_login(outsider)
    evidence = submit(product).evidence.get()
    assert client.get(reverse("stored-file", args=["evidence", evidence.public_id])).status_code == 404


def test_an_operator_issues_a_key_in_the_admin_and_sees_it_once(admin_client, platform_a):
    from refunds.integration.apikeys import api_key_check
    from refunds.models import ApiKey

    response = admin_client.post(
        reverse("admin:refunds_apikey_add"),
        {"platform": platform_a.pk, "name": "order system", "scopes": ["read", "write"]},
        follow=True,
    )
    shown = [k for m in response.context["messages"] for k in FULL_KEY.findall(str(m))]
    assert len(shown) == 1
    text = shown[0]
    key = api_key_check(text)
    assert key is not None and key.platform == platform_a and key.scopes == ["read", "write"]
    assert text not in ApiKey.objects.get().secret_hash


def test_rotating_a_key_now_issues_a_new_one_and_revokes_the_old(admin_client, platform_a):
    from refunds.integration.apikeys import api_key_check
    from refunds.models import ApiKey

    old, old_text = api_key_issue(platform=platform_a, name="orders", scopes=["read"])
    response = admin_client.post(
        reverse("admin:refunds_apikey_changelist"), {"action": "rotate_now", "_selected_action": [old.pk]}, follow=True
    )
    new_text = next(k for m in response.context["messages"] for k in FULL_KEY.findall(str(m)))
    assert api_key_check(old_text) is None
    assert api_key_check(new_text).scopes == ["read"]
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_product_never_moves_to_another_shop_nor_a_shop_to_another_platform(
    admin_client, product, other_merchant, platform_b
):
    page = admin_client.get(reverse("admin:refunds_product_change", args=[product.pk]))
    assert "merchant" not in page.context["adminform"].form.fields
    admin_client.post(
        reverse("admin:refunds_product_change", args=[product.pk]),
        {
            "merchant": other_merchant.pk,
            "title": "Moved",
            "external_ref": product.external_ref,
            "reference_images-TOTAL_FORMS": "0",
            "reference_images-INITIAL_FORMS": "0",
        },
    )
    product.refresh_from_db()
    assert product.merchant != other_merchant
    page = admin_client.get(reverse("admin:refunds_merchant_change", args=[product.merchant.pk]))
    assert "platform" not in page.context["adminform"].form.fields


def test_an_auditor_reads_shop_members_and_users_and_changes_neither(client, auditor, merchant_owner):
    client.force_login(auditor)
    for name in ("admin:refunds_merchantmember_changelist", "admin:auth_user_changelist"):
        assert client.get(reverse(name)).status_code == 200, name
    page = client.get(reverse("admin:auth_user_change", args=[merchant_owner.pk]))
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    member = merchant_owner.merchant_memberships.get()
    page = client.get(reverse("admin:refunds_merchantmember_change", args=[member.pk]))
    assert page.status_code == 200 and page.context["has_change_permission"] is False


def test_every_column_heading_of_the_admin_speaks_chinese(admin_client, product):
    from django.contrib import admin

    in_review(product)
    english, checked = {}, 0
    for model in admin.site._registry:
        if model._meta.app_label not in ("refunds", "screening", "portal"):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        html = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        if 'id="result_list"' not in html:
            continue  # no rows, no table
        headings = re.findall(r'<div class="text">(?:<a[^>]*>|<span>)([^<]+)<', html[html.find('id="result_list"') :])
        assert headings, url
        checked += 1
        latin = [h.strip() for h in headings if re.fullmatch(r"[A-Za-z][A-Za-z ]*", h.strip())]
        if latin:
            english[url] = latin
    assert checked >= 8 and english == {}


def test_the_policy_list_speaks_in_words_not_timedeltas_or_icons(admin_client, platform_a):
    html = admin_client.get(reverse("admin:refunds_policy_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 days" in html and "2 days, 0:00:00" not in html
    assert 'alt="True"' not in html and 'alt="False"' not in html
    html = admin_client.get(reverse("admin:refunds_policy_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2 天" in html


def test_a_refused_page_says_so_in_the_readers_language_with_a_way_on(client, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("admin:refunds_apikey_add"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html and "不允许" in html
    assert reverse("admin:refunds_refundapplication_changelist") in html


def test_the_role_groups_get_every_permission_even_before_auth_has_made_them(db):
    from django.contrib.auth.models import Group, Permission

    from refunds.roles import ensure_role_groups

    # As after a fresh migrate, when this handler may run before auth's for the screening app.
    Permission.objects.filter(content_type__app_label="screening").delete()
    ensure_role_groups()
    assert (
        Group.objects.get(name="Reviewers")
        .permissions.filter(content_type__app_label="screening", codename="view_finding")
        .exists()
    )
