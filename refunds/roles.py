"""The staff roles, kept as permission groups so the admin can assign them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

VIEW = ["view_refundapplication", "view_evidence", "view_decision", "view_auditevent", "view_rebuttal",
        "view_rebuttalattachment", "view_referenceimage", "view_product", "view_merchant", "view_screeningresult",
        "view_finding"]
ROLES: dict[str, list[str]] = {
    "Reviewers": VIEW + ["claim_refundapplication", "decide_refundapplication"],
    "Senior reviewers": VIEW + ["claim_refundapplication", "decide_refundapplication", "view_policy", "change_policy",
                                "view_settingschange"],
    "Auditors": VIEW + ["view_platform", "view_policy", "view_apikey", "view_settingschange"],
}


def ensure_role_groups(**kwargs: Any) -> None:
    """Create or complete the role groups (runs after every migrate)."""
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(
            content_type__app_label__in=["refunds", "screening"], codename__in=codenames))
