"""Stored screening results: one per evidence image, with its findings."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening import core, messages
from screening.core import ReuseKind


class ScreeningResult(models.Model):
    """The screening of one evidence image. One row per image (the unique relation makes a
    task delivered twice store one result)."""

    class Verdict(models.TextChoices):
        CONSISTENT = core.Verdict.CONSISTENT.value, _("Consistent")
        DERIVED = core.Verdict.DERIVED_FROM_REFERENCE.value, _("Derived from a reference image")
        UNREADABLE = core.Verdict.UNREADABLE.value, _("Unreadable")

    evidence = models.OneToOneField(
        "refunds.Evidence",
        on_delete=models.CASCADE,
        related_name="screening",
        verbose_name=_("evidence"),
    )
    completed = models.BooleanField(_("completed"), default=True)
    verdict = models.CharField(_("verdict"), max_length=30, choices=Verdict.choices)
    risk = models.FloatField(_("risk"))
    matched_reference = models.ForeignKey(
        "refunds.ReferenceImage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
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

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    result = models.ForeignKey(
        ScreeningResult,
        on_delete=models.CASCADE,
        related_name="findings",
        verbose_name=_("result"),
    )
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
        return f"{self.label} {self.score:.2f}"

    @property
    def label(self) -> str:
        """The finding's short name in the current language."""
        return messages.label(self.code)

    @property
    def explanation(self) -> str:
        """The detail in the current language."""
        return messages.explain(self.code, self.params, fallback=self.detail)


class EvidenceFingerprint(models.Model):
    """The perceptual hash of one evidence image, and which reuse group (same hash) it joined.

    The index itself is ``ReuseGroup``: one row per distinct hash of a platform, so a stock
    photo sent a thousand times is one index row and its thousand images are read only when
    it matches, through ``fingerprint_group_members``.
    """

    evidence = models.OneToOneField(
        "refunds.Evidence",
        on_delete=models.CASCADE,
        related_name="fingerprint",
        verbose_name=_("evidence"),
    )
    # Its own index would repeat the first column of fingerprint_group_members (13 MB a million rows).
    platform = models.ForeignKey(
        "refunds.Platform",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("platform"),
    )
    application = models.ForeignKey(
        "refunds.RefundApplication",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("application"),
    )
    phash = models.BigIntegerField(_("perceptual hash"))  # the unsigned 64-bit hash, stored two's-complement
    # The index scheme the row was stored with; manage.py rebuild_reuse_index redoes older ones.
    scheme = models.PositiveSmallIntegerField(_("index scheme"), default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("evidence fingerprint")
        verbose_name_plural = _("evidence fingerprints")
        indexes = [
            # screening.index: a matched group's earlier images, earliest first, counted without
            # reading the table (the application is in the key for the distinct count).
            models.Index(fields=["platform", "phash", "created_at", "application"], name="fingerprint_group_members"),
        ]

    def __str__(self) -> str:
        return f"{self.phash & 0xFFFFFFFFFFFFFFFF:016x}"


class ReuseGroup(models.Model):
    """Every evidence image of one platform with the same perceptual hash: one row of the reuse index.

    The hash is split into four interleaved 16-bit bands. Two hashes at most seven bits apart
    differ in at most one bit in at least one band (pigeonhole), so looking up each band and
    its 16 one-bit neighbours finds every such group through index lookups (multi-index
    hashing); the distance is then computed in the database, so only true matches leave it.
    """

    # Covered by the unique constraint, whose first column it is.
    platform = models.ForeignKey(
        "refunds.Platform",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("platform"),
    )
    phash = models.BigIntegerField(_("perceptual hash"))  # two's-complement, as EvidenceFingerprint
    band0 = models.IntegerField()
    band1 = models.IntegerField()
    band2 = models.IntegerField()
    band3 = models.IntegerField()
    first_seen = models.DateTimeField(_("first seen"))
    # The first image's strongest keypoints (core.ReuseFeatures.to_bytes), read only for the
    # few candidates ReuseKey finds, to verify one geometric transform before a link is made.
    # Per group, so a stock photo sent a thousand times holds one set of keys, not a thousand.
    keypoints = models.BinaryField(_("keypoints"), default=b"", blank=True)

    class Meta:
        verbose_name = _("reuse group")
        verbose_name_plural = _("reuse groups")
        constraints = [models.UniqueConstraint(fields=["platform", "phash"], name="reuse_group_platform_phash")]
        # screening.index.matching_groups: one lookup per band within the platform(s); the hash
        # and first sighting are in the key so the lookup is an index-only scan that never
        # reads the table.
        indexes = [
            models.Index(fields=["platform", f"band{i}", "phash", "first_seen"], name=f"reuse_group_band{i}")
            for i in range(4)
        ]

    def __str__(self) -> str:
        return f"{self.phash & 0xFFFFFFFFFFFFFFFF:016x}"


class ReuseKey(models.Model):
    """One key of a reuse group's local features: the reuse index beyond the hash (crops, turns, frames).

    A key is the platform, a key table and descriptor bits of one of the picture's strongest
    keypoints (screening.index.platform_key); a lookup reads, for each key of the new image,
    the groups holding it, votes, and verifies the best few with their stored keypoints.
    """

    # The key and the group are the primary key: one index, which the lookup reads index-only.
    pk = models.CompositePrimaryKey("key", "group")
    key = models.BigIntegerField(_("key"))
    # Its own index serves the cascade when groups_prune drops a group no image holds.
    group = models.ForeignKey(
        ReuseGroup,
        on_delete=models.CASCADE,
        related_name="keys",
        verbose_name=_("reuse group"),
    )

    class Meta:
        verbose_name = _("reuse key")
        verbose_name_plural = _("reuse keys")

    def __str__(self) -> str:
        return f"{self.key:x}"


class ReuseLink(models.Model):
    """An evidence image found to reuse an earlier one: the reuse index's match, checked in pixels.

    Stored beside the screening result, in its transaction, so that linked claims, the
    reviewer's page and the dossier read links rather than findings' parameters.
    """

    class Kind(models.TextChoices):
        SAME_FILE = ReuseKind.SAME_FILE.value, _("the same file")
        RE_ENCODED = ReuseKind.RE_ENCODED.value, _("the same picture, re-encoded, resized or cropped")
        EDITED = ReuseKind.EDITED.value, _("the same picture with local changes")

    evidence = models.ForeignKey(
        "refunds.Evidence",
        on_delete=models.CASCADE,
        related_name="reuse_links",
        verbose_name=_("evidence"),
    )
    earlier = models.ForeignKey(
        "refunds.Evidence",
        on_delete=models.CASCADE,
        related_name="reused_by",
        verbose_name=_("earlier image"),
    )
    kind = models.CharField(_("kind of reuse"), max_length=20, choices=Kind.choices)
    distance = models.PositiveSmallIntegerField(_("hash distance (bits)"))
    # Keypoints agreeing on one geometric transform when the keypoints found it (a crop, a
    # turn, a frame moved the hash too far); 0 when the hash did.
    points = models.PositiveSmallIntegerField(_("agreeing keypoints"), default=0)
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
