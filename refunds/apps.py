from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = _("Refund applications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import pillow_heif

        # HEIC is what most phones take photos in; Pillow reads it once registered.
        pillow_heif.register_heif_opener()

        from django.db.models.signals import post_delete, post_migrate, post_save

        from refunds.integration import apikeys
        from refunds.models import ApiKey, Platform, api_keys_updated
        from refunds.roles import ensure_role_groups

        # Runs after the screening app too, whose permissions the roles include.
        post_migrate.connect(ensure_role_groups, sender=self.apps.get_app_config("screening"))
        # A changed key or platform leaves the cache of live keys (refunds.integration.apikeys).
        post_save.connect(apikeys.key_saved, sender=ApiKey, dispatch_uid="refunds.apikeys.saved")
        post_delete.connect(apikeys.key_saved, sender=ApiKey, dispatch_uid="refunds.apikeys.deleted")
        post_save.connect(apikeys.platform_saved, sender=Platform, dispatch_uid="refunds.apikeys.platform")
        api_keys_updated.connect(apikeys.keys_updated, sender=ApiKey, dispatch_uid="refunds.apikeys.updated")
