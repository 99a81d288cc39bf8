from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewhubConfig(AppConfig):
    """The project's own operational pieces: heartbeats, health, metrics, the health command."""

    name = "reviewhub"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"
