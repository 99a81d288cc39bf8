"""Links and linked-claims groups for reuse found before they were stored: read once from the
``near_duplicate`` findings' parameters, which named the earlier evidence."""

from django.db import migrations


def forwards(apps, schema_editor):
    Finding = apps.get_model("screening", "Finding")
    ReuseLink = apps.get_model("screening", "ReuseLink")
    Evidence = apps.get_model("refunds", "Evidence")
    ClaimGroup = apps.get_model("refunds", "ClaimGroup")
    ClaimGroupMember = apps.get_model("refunds", "ClaimGroupMember")
    parent: dict[int, int] = {}

    def root(pk: int) -> int:
        while parent.setdefault(pk, pk) != pk:
            pk = parent[pk]
        return pk

    platform_of: dict[int, int] = {}
    for finding in Finding.objects.filter(code="near_duplicate").select_related("result__evidence__application").iterator():
        evidence = finding.result.evidence
        earlier = Evidence.objects.filter(public_id=finding.params.get("evidence")).select_related("application").first()
        if earlier is None or earlier.application.platform_id != evidence.application.platform_id:
            continue
        kind = "same_file" if earlier.sha256 == evidence.sha256 else "re_encoded"
        ReuseLink.objects.get_or_create(evidence=evidence, earlier=earlier,
                                        defaults={"kind": kind, "distance": finding.params.get("distance") or 0})
        a, b = evidence.application_id, earlier.application_id
        platform_of[a] = platform_of[b] = evidence.application.platform_id
        parent[root(a)] = root(b)
    groups: dict[int, object] = {}
    for pk in sorted(parent):
        top = root(pk)
        if top not in groups:
            groups[top] = ClaimGroup.objects.create(platform_id=platform_of[pk])
        ClaimGroupMember.objects.get_or_create(application_id=pk, defaults={"group": groups[top]})


class Migration(migrations.Migration):
    dependencies = [("screening", "0004_reuse_links"), ("refunds", "0012_linked_claims")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
