"""Linked claims: applications that share evidence images, kept as stored groups."""

from __future__ import annotations

from django.db.models import Q

from refunds.models import ClaimGroup, ClaimGroupMember, Platform, RefundApplication
from screening.models import ReuseLink


def _linked_applications(application: RefundApplication) -> set[int]:
    """Return the primary keys of the platform's other applications whose evidence this one
    reuses, or which reuse its evidence."""
    links = ReuseLink.objects.filter(
        Q(evidence__application=application) | Q(earlier__application=application),
        evidence__application__platform_id=application.platform_id,
        earlier__application__platform_id=application.platform_id,
    ).values_list("evidence__application_id", "earlier__application_id")
    return {pk for pair in links for pk in pair} - {application.pk}


def claim_group_join(*, application: RefundApplication) -> ClaimGroup | None:
    """Put the application in one group with every application it shares images with,
    merging their groups into the oldest; return the group, or None when it shares nothing.

    Called by the screening service in its transaction, once the image's reuse links are stored.
    """
    linked = _linked_applications(application)
    if not linked:
        # Nothing to join or merge; almost every screening ends here, without another query.
        return None
    # Two screenings linking overlapping groups at once would each create or merge groups
    # from what they read; the platform's row serialises them (reuse is rare, so the lock
    # is seldom waited on).
    Platform.objects.select_for_update().filter(pk=application.platform_id).first()
    members = {application.pk, *linked}
    group_ids = sorted(
        set(ClaimGroupMember.objects.filter(application_id__in=members).values_list("group_id", flat=True))
    )
    if group_ids:
        group = ClaimGroup.objects.get(pk=group_ids[0])
        merged = group_ids[1:]
        if merged:
            ClaimGroupMember.objects.filter(group_id__in=merged).update(group=group)
            ClaimGroup.objects.filter(pk__in=merged).delete()
    else:
        group = ClaimGroup.objects.create(platform_id=application.platform_id)
    present = set(ClaimGroupMember.objects.filter(application_id__in=members).values_list("application_id", flat=True))
    ClaimGroupMember.objects.bulk_create([ClaimGroupMember(group=group, application_id=pk) for pk in members - present])
    return group
