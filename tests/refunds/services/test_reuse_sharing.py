"""A platform opts in to the shared pool of reuse hashes only through its service, on record."""

import pytest
from django.urls import reverse

from refunds.models import Platform, SettingsChange
from refunds.services import platform as platform_services

pytestmark = pytest.mark.django_db

OPS = platform_services.settings_actor_for_command("test")


def test_platforms_share_no_hashes_until_they_opt_in(platform_a):
    assert Platform.objects.get(pk=platform_a.pk).shares_reuse_hashes is False


def test_opting_in_is_recorded_with_before_and_after(platform_a):
    platform_services.platform_reuse_sharing_set(platform=platform_a, shares=True, actor=OPS)
    assert Platform.objects.get(pk=platform_a.pk).shares_reuse_hashes is True
    change = SettingsChange.objects.get(platform=platform_a, action="reuse_sharing_updated")
    assert (change.before, change.after, change.actor_label) == (
        {"shares_reuse_hashes": False},
        {"shares_reuse_hashes": True},
        "manage.py test",
    )


def test_setting_the_same_value_again_records_nothing(platform_a):
    platform_services.platform_reuse_sharing_set(platform=platform_a, shares=False, actor=OPS)
    assert not SettingsChange.objects.filter(action="reuse_sharing_updated").exists()


def test_the_admin_opts_in_through_the_service(admin_client, platform_a):
    url = reverse("admin:refunds_platform_change", args=[platform_a.pk])
    response = admin_client.post(
        url,
        {
            "name": platform_a.name,
            "slug": platform_a.slug,
            "shares_reuse_hashes": "on",
            "settings_changes-TOTAL_FORMS": "0",
            "settings_changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    change = SettingsChange.objects.get(platform=platform_a, action="reuse_sharing_updated")
    assert change.actor_kind == "staff" and change.after == {"shares_reuse_hashes": True}
