"""The staff roles, kept as permission groups so the admin can assign them.

Reviewers claim and decide; senior reviewers also override claims and approve what a
reviewer may not (forged evidence, amounts above the policy's ceiling); auditors read
everything and change nothing. The groups are made by a migration and completed here after
every migrate, so that permissions of models added later reach them.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext_lazy as _

REVIEWERS = "Reviewers"
SENIOR_REVIEWERS = "Senior reviewers"
AUDITORS = "Auditors"
# The groups' names are stored in English (a name other code looks groups up by); people read these.
ROLE_LABELS = {REVIEWERS: _("Reviewers"), SENIOR_REVIEWERS: _("Senior reviewers"), AUDITORS: _("Auditors")}

VIEW = [
    "view_refundapplication",
    "view_evidence",
    "view_decision",
    "view_auditevent",
    "view_rebuttal",
    "view_rebuttalattachment",
    "view_referenceimage",
    "view_product",
    "view_merchant",
    "view_screeningresult",
    "view_finding",
    "view_appeal",
    "view_appealattachment",
    "view_appealdecision",
    "view_qareview",
]
ROLES: dict[str, list[str]] = {
    REVIEWERS: VIEW + ["claim_refundapplication", "decide_refundapplication", "download_dossier"],
    SENIOR_REVIEWERS: VIEW
    + [
        "claim_refundapplication",
        "decide_refundapplication",
        "decide_as_senior",
        "download_dossier",
        "view_policy",
        "change_policy",
        "view_settingschange",
    ],
    # Webhook endpoints are left out: their page shows the signing secret.
    AUDITORS: VIEW
    + [
        "download_dossier",
        "view_platform",
        "view_policy",
        "view_apikey",
        "view_webhookevent",
        "view_webhookdelivery",
        "view_evidencefingerprint",
        "view_settingschange",
        "view_merchantmember",
        "view_user",
        "view_claimgroup",
        "view_reuselink",
    ],
}

CLAIM = "refunds.claim_refundapplication"
DECIDE = "refunds.decide_refundapplication"
DECIDE_AS_SENIOR = "refunds.decide_as_senior"
DOWNLOAD_DOSSIER = "refunds.download_dossier"


def is_senior(user: AbstractBaseUser) -> bool:
    return user.has_perm(DECIDE_AS_SENIOR)


ROLE_APPS = ("auth", "refunds", "screening")


def ensure_role_groups(*, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """Create or complete the role groups (runs after every migrate)."""
    # Make sure the permissions exist first: post_migrate handlers run in the order the apps
    # were made ready, and this one may come before auth's for the very app that sent it
    # (after a fresh migrate, or a test database's flush, the groups would then miss them).
    for label in ROLE_APPS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using)
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ROLE_APPS, codename__in=codenames))
