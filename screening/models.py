"""Stored screening results: one per evidence image, with its findings."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.core import ReuseKind


class ScreeningResult(models.Model):
    """The screening of one evidence image. One row per image (the unique relation makes a
    task delivered twice store one result)."""

    class Verdict(models.TextChoices):
        CONSISTENT = "consistent", _("Consistent")
        DERIVED = "derived_from_reference", _("Derived from a reference image")
        UNREADABLE = "unreadable", _("Unreadable")

    evidence = models.OneToOneField("refunds.Evidence", on_delete=models.CASCADE, related_name="screening")
    completed = models.BooleanField(_("completed"), default=True)
    verdict = models.CharField(_("verdict"), max_length=30, choices=Verdict.choices)
    risk = models.FloatField(_("risk"))
    matched_reference = models.ForeignKey(
        "refunds.ReferenceImage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("matched reference"),
    )
    engine_version = models.CharField(_("engine version"), max_length=40)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    created_at = models.DateTimeField(_("screened at"), default=timezone.now)

    class Meta:
        verbose_name = _("screening result")
        verbose_name_plural = _("screening results")

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} ({self.risk:.2f})"


class Finding(models.Model):
    """One observation about an evidence image, e.g. ``near_duplicate`` with the earlier application."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    result = models.ForeignKey(ScreeningResult, on_delete=models.CASCADE, related_name="findings")
    code = models.CharField(_("code"), max_length=40, db_index=True)
    score = models.FloatField(_("score"))
    detail = models.TextField(_("detail"))
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    regions = models.JSONField(_("regions"), default=list, blank=True)
    artifact = models.FileField(_("heat-map"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["result", "-score"]

    def __str__(self) -> str:
        return f"{self.code} {self.score:.2f}"

    @property
    def explanation(self) -> str:
        """The detail in the current language."""
        from screening.messages import explain

        return explain(self.code, self.params, fallback=self.detail)


class EvidenceFingerprint(models.Model):
    """The perceptual hash of one evidence image, split into four 16-bit bands for the reuse index.

    Two hashes within Hamming distance 7 differ in at most one bit in at least one of the four
    bands (pigeonhole), so looking up each band and its 16 one-bit neighbours finds every such
    earlier image through index lookups instead of a scan of all evidence (multi-index
    hashing); the candidates are then checked in full.
    """

    evidence = models.OneToOneField("refunds.Evidence", on_delete=models.CASCADE, related_name="fingerprint")
    platform = models.ForeignKey("refunds.Platform", on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey("refunds.RefundApplication", on_delete=models.CASCADE, related_name="+")
    phash = models.BigIntegerField(_("perceptual hash"))  # the unsigned 64-bit hash, stored two's-complement
    band0 = models.IntegerField()
    band1 = models.IntegerField()
    band2 = models.IntegerField()
    band3 = models.IntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("evidence fingerprint")
        verbose_name_plural = _("evidence fingerprints")
        # screening.index.near_duplicates: one lookup per band, within the platform.
        indexes = [models.Index(fields=["platform", f"band{i}"], name=f"fingerprint_band{i}") for i in range(4)]

    def __str__(self) -> str:
        return f"{self.phash & 0xFFFFFFFFFFFFFFFF:016x}"


class ReuseLink(models.Model):
    """An evidence image found to reuse an earlier one: the reuse index's match, checked in pixels.

    Stored beside the screening result, in its transaction, so that linked claims, the
    reviewer's page and the dossier read links rather than findings' parameters.
    """

    class Kind(models.TextChoices):
        SAME_FILE = ReuseKind.SAME_FILE.value, _("the same file")
        RE_ENCODED = ReuseKind.RE_ENCODED.value, _("the same picture, re-encoded, resized or cropped")
        EDITED = ReuseKind.EDITED.value, _("the same picture with local changes")

    evidence = models.ForeignKey("refunds.Evidence", on_delete=models.CASCADE, related_name="reuse_links")
    earlier = models.ForeignKey("refunds.Evidence", on_delete=models.CASCADE, related_name="reused_by")
    kind = models.CharField(_("kind of reuse"), max_length=20, choices=Kind.choices)
    distance = models.PositiveSmallIntegerField(_("hash distance (bits)"))
    regions = models.JSONField(_("changed regions"), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("reuse link")
        verbose_name_plural = _("reuse links")
        constraints = [models.UniqueConstraint(fields=["evidence", "earlier"], name="reuse_link_once")]
        # The ``earlier`` foreign key's own index serves "which later images reused this one?"
        # (the reviewer's page and linked claims ask it in both directions).

    def __str__(self) -> str:
        return f"{self.evidence_id} → {self.earlier_id} ({self.kind})"
