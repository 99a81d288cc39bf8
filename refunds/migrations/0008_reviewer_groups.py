"""The staff roles as permission groups: reviewers, senior reviewers and auditors.

The permission lists are frozen here, as a migration must be; ``refunds.roles`` holds the
current lists and completes the groups after every migrate.
"""

from django.db import migrations

VIEW_ALL = [
    "view_refundapplication", "view_evidence", "view_decision", "view_auditevent", "view_rebuttal",
    "view_rebuttalattachment", "view_referenceimage", "view_product", "view_merchant", "view_screeningresult",
    "view_finding",
]
ROLES = {
    "Reviewers": VIEW_ALL + ["claim_refundapplication", "decide_refundapplication"],
    "Senior reviewers": VIEW_ALL + ["claim_refundapplication", "decide_refundapplication", "decide_as_senior",
                                    "view_policy", "change_policy"],
    "Auditors": VIEW_ALL + ["view_platform", "view_policy", "view_apikey", "view_webhookevent",
                            "view_webhookdelivery", "view_evidencefingerprint"],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # On a fresh database the permissions are created only after all migrations; create
    # them now so that the groups can hold them.
    for app_label in ("refunds", "screening"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(
            content_type__app_label__in=["refunds", "screening"], codename__in=codenames))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("refunds", "0007_review_due_date_and_senior_rules"),
        ("screening", "0003_finding_public_id"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
