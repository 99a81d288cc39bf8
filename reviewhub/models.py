"""Heartbeats of the background processes, kept in the database.

The database is the one store every process reaches in both runs: the embedded demo (SQLite,
filesystem broker, in-process cache) and production (PostgreSQL, Redis). A row per process
kind and host, overwritten in place, so the table stays a handful of rows.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    # "beat", or "worker:<celery hostname>".
    name = models.CharField(_("name"), max_length=200, primary_key=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.at.isoformat()}"
