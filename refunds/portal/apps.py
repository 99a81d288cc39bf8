from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The merchant portal: server-rendered pages over the merchant services."""

    name = "refunds.portal"
    label = "portal"
    verbose_name = _("Merchant portal")
    default_auto_field = "django.db.models.BigAutoField"
