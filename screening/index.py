"""The reuse index: find earlier evidence that is a near-duplicate of a new image.

Identical hashes form one ``ReuseGroup`` per platform; the index is over groups, so a stock
photo sent a thousand times costs one index row and one answer, and never crowds out the
other matches. A lookup reads the four band indexes, keeps in the database only the groups
within the threshold (``bit_count`` of the XOR on PostgreSQL, a registered function on
SQLite) and then, for those few groups, the earliest earlier image and the group's counts.
Measured with ``bench/index.py`` (docs/screening.md, "Reuse index").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Exists, F, Func, IntegerField, Max, OuterRef, Q, QuerySet

from refunds.models import Evidence, Platform
from screening.models import EvidenceFingerprint, ReuseGroup

BAND_BITS = 16
BANDS = 4
# Perceptual hashes of one photo re-encoded, resized or lightly re-coloured stay within a few
# bits; unrelated photos sit around 32. Six bits keeps re-saved copies and no strangers.
NEAR_DUPLICATE_BITS = 6
# Four bands looked up with their one-bit neighbours find every hash within seven bits (if
# each band differed in two bits or more, eight would differ). Beyond that a match could be missed.
GUARANTEED_BITS = 7


def reuse_score(distance: int) -> float:
    """The score of a reuse finding for a match ``distance`` bits away: each differing bit makes
    a coincidence likelier, and a match at the threshold (6 bits) still scores above 0.5, so
    it counts (the finding score scale's boundary)."""
    return round(1.0 - distance / 16, 4)


# Bumped when the bands or the grouping change; manage.py rebuild_reuse_index redoes older rows.
SCHEME = 2

_MASK = (1 << 64) - 1


def bands(phash: int) -> list[int]:
    """Return the hash's four 16-bit bands; band k holds bits k, k+4, k+8, … (interleaved).

    Interleaved rather than contiguous because the DCT hash's bits come in rows of
    neighbouring frequencies that agree with each other in real photos. Among 3 000 engine
    hashes of cropped and resized photographs (bench/index.py's), a lookup met 18.2 other
    candidates with interleaved bands and 20.4 with contiguous ones (uniform hashes: 3.1).
    """
    out = [0] * BANDS
    for j in range(BAND_BITS):
        for k in range(BANDS):
            out[k] |= ((phash >> (BANDS * j + k)) & 1) << j
    return out


def _within_one_bit(band: int) -> list[int]:
    return [band] + [band ^ (1 << k) for k in range(BAND_BITS)]


def signed(phash: int) -> int:
    """Return the unsigned 64-bit hash as the two's-complement value a bigint column holds."""
    return phash - (1 << 64) if phash >= (1 << 63) else phash


def popcount(value: int | None) -> int | None:
    """Return the number of set bits of a two's-complement 64-bit value (SQLite's bit_count)."""
    return None if value is None else (value & _MASK).bit_count()


class HammingDistance(Func):
    """The number of bits in which the column's hash differs from a given hash, in the database."""

    output_field = IntegerField()

    def __init__(self, column: str, phash: int) -> None:
        super().__init__(F(column).bitxor(signed(phash)))

    def as_postgresql(self, compiler, connection, **extra):  # noqa: ANN001, ANN003, ANN201
        # bit_count (PostgreSQL 14+) counts the bits of a bytea; int8send gives the bigint's 8 bytes.
        return self.as_sql(compiler, connection, template="bit_count(int8send(%(expressions)s))", **extra)

    def as_sqlite(self, compiler, connection, **extra):  # noqa: ANN001, ANN003, ANN201
        # Registered on each connection by ScreeningConfig.ready().
        return self.as_sql(compiler, connection, function="reuse_bit_count", **extra)


@dataclass(frozen=True)
class GroupHit:
    """A group within the threshold, as the band lookup returns it."""

    platform_id: int
    phash: int  # unsigned
    first_seen: datetime
    distance: int


@dataclass(frozen=True)
class Match:
    """An earlier use of a near-duplicate image.

    On the same platform: the group's earliest earlier image (``evidence``, with its
    application), whether some earlier image of the group is the very same file, and how many
    earlier images and applications the group holds. On another platform (``other_platform``):
    only the distance and when it was first seen — no application, image or buyer.
    """

    distance: int
    first_seen: datetime
    evidence: Evidence | None = None
    same_file: bool = False
    images: int = 1
    applications: int = 1
    last_seen: datetime | None = None
    other_platform: bool = False


# --- storing ----------------------------------------------------------------------------------


def fingerprint_store(*, evidence: Evidence, phash: int) -> EvidenceFingerprint:
    """Record the image's hash and join it to its group (once; a second delivery of the task
    finds it stored, a row of an older scheme is brought up to date)."""
    application = evidence.application
    with transaction.atomic():
        fingerprint, created = EvidenceFingerprint.objects.get_or_create(
            evidence=evidence,
            defaults={
                "platform_id": application.platform_id,
                "application_id": application.pk,
                "phash": signed(phash),
                "scheme": SCHEME,
                "created_at": evidence.created_at,
            },
        )
        if not created and (fingerprint.scheme != SCHEME or fingerprint.phash != signed(phash)):
            fingerprint.phash, fingerprint.scheme = signed(phash), SCHEME
            fingerprint.save(update_fields=["phash", "scheme"])
        group_join(platform_id=application.platform_id, phash=phash, seen=evidence.created_at)
    return fingerprint


def group_join(*, platform_id: int, phash: int, seen: datetime) -> None:
    """Create the platform's group for this hash, or move its first sighting earlier."""
    b0, b1, b2, b3 = bands(phash)
    group, created = ReuseGroup.objects.get_or_create(
        platform_id=platform_id,
        phash=signed(phash),
        defaults={"band0": b0, "band1": b1, "band2": b2, "band3": b3, "first_seen": seen},
    )
    if not created and seen < group.first_seen:
        # A conditional update: two workers storing older images never move it later again.
        ReuseGroup.objects.filter(pk=group.pk, first_seen__gt=seen).update(first_seen=seen)


# --- looking up -------------------------------------------------------------------------------


def band_lookups(*, platform_ids: list[int], phash: int) -> list[QuerySet[ReuseGroup]]:
    """Return the four band lookups of a hash (each one index range per platform and value)."""
    return [
        ReuseGroup.objects.filter(platform_id__in=platform_ids, **{f"band{i}__in": _within_one_bit(band)})
        for i, band in enumerate(bands(phash))
    ]


def matching_groups(
    *, platform_ids: list[int], phash: int, seen_by: datetime, max_distance: int = NEAR_DUPLICATE_BITS
) -> list[GroupHit]:
    """Return the groups of these platforms first seen by ``seen_by`` whose hash is within
    max_distance bits, closest first; raise ValueError above GUARANTEED_BITS."""
    if not 0 <= max_distance <= GUARANTEED_BITS:
        raise ValueError(f"the index finds every match only up to {GUARANTEED_BITS} bits, not {max_distance}")
    # One index-only scan per band; UNION drops a group found through two bands.
    lookups = [
        lookup.annotate(distance=HammingDistance("phash", phash))
        .filter(distance__lte=max_distance, first_seen__lte=seen_by)
        .values_list("platform_id", "phash", "first_seen", "distance")
        for lookup in band_lookups(platform_ids=platform_ids, phash=phash)
    ]
    rows = lookups[0].union(*lookups[1:])
    hits = [
        GroupHit(platform_id, value & _MASK, first_seen, distance) for platform_id, value, first_seen, distance in rows
    ]
    return sorted(hits, key=lambda hit: (hit.distance, hit.first_seen))


def group_members(
    *, platform_id: int, phash: int, before: datetime, before_evidence_id: int, exclude_application_id: int
) -> QuerySet[EvidenceFingerprint]:
    """Return the group's images stored before the given one (by time, then id for a tie),
    other applications' only."""
    return (
        EvidenceFingerprint.objects.filter(platform_id=platform_id, phash=signed(phash))
        .filter(Q(created_at__lt=before) | Q(created_at=before, evidence_id__lt=before_evidence_id))
        .exclude(application_id=exclude_application_id)
    )


def sharing_platform_ids(*, platform: Platform) -> list[int]:
    """Return the other platforms whose hashes this one sees: none unless it shares its own."""
    if not platform.shares_reuse_hashes:
        return []
    return list(Platform.objects.filter(shares_reuse_hashes=True).exclude(pk=platform.pk).values_list("pk", flat=True))


@dataclass(frozen=True)
class EarlierUse:
    """What the index answers for one group, before the evidence row is fetched."""

    distance: int
    first_seen: datetime
    phash: int
    evidence_id: int | None = None
    images: int = 1
    applications: int = 1
    last_seen: datetime | None = None
    other_platform: bool = False


def earlier_uses(
    *,
    platform_id: int,
    shared_platform_ids: list[int],
    phash: int,
    before: datetime,
    before_evidence_id: int,
    exclude_application_id: int,
    max_distance: int = NEAR_DUPLICATE_BITS,
) -> list[EarlierUse]:
    """Return the index's answer for an image stored at ``before``: one use per group of the
    platform within max_distance bits (its earliest image of another application before this
    one, and its counts), and at most one for all the shared platforms; closest first.

    The lookup the product runs, in the form bench/index.py can time without evidence rows.
    Raise ValueError above GUARANTEED_BITS.
    """
    if not 0 <= max_distance <= GUARANTEED_BITS:
        raise ValueError(f"the index finds every match only up to {GUARANTEED_BITS} bits, not {max_distance}")
    lookup = _lookup_postgresql if connection.vendor == "postgresql" else _lookup_orm
    rows = lookup(
        platform_id=platform_id,
        platform_ids=[platform_id, *shared_platform_ids],
        phash=phash,
        before=before,
        before_evidence_id=before_evidence_id,
        exclude_application_id=exclude_application_id,
        max_distance=max_distance,
    )
    uses: list[EarlierUse] = []
    elsewhere: list[tuple[int, datetime, int]] = []
    for group_platform, value, first_seen, distance, evidence_id, member_seen, images, applications, last_seen in rows:
        if group_platform != platform_id:
            elsewhere.append((distance, first_seen, value & _MASK))
        elif evidence_id is not None:  # None: only this application's own images, or none before this one
            uses.append(
                EarlierUse(
                    distance=distance,
                    first_seen=member_seen,
                    phash=value & _MASK,
                    evidence_id=evidence_id,
                    images=images,
                    applications=applications,
                    last_seen=last_seen,
                )
            )
    if elsewhere:
        # Only the fact and the date: how many platforms, which, or how often stays theirs.
        distance, _, value = min(elsewhere)
        uses.append(
            EarlierUse(
                distance=distance, first_seen=min(seen for _, seen, _ in elsewhere), phash=value, other_platform=True
            )
        )
    return sorted(uses, key=lambda use: (use.distance, use.other_platform, use.first_seen))


# A matched group: (platform, hash, first seen, distance, earliest earlier image of another
# application or None, its time, images, applications, last time), as both lookups return it.
_Row = tuple[int, int, datetime, int, int | None, datetime | None, int, int, datetime | None]


def _lookup_postgresql(
    *,
    platform_id: int,
    platform_ids: list[int],
    phash: int,
    before: datetime,
    before_evidence_id: int,
    exclude_application_id: int,
    max_distance: int,
) -> list[_Row]:
    """The lookup in one round trip, through the function of migration 0007 (its plan is kept)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM screening_reuse_lookup(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                platform_id,
                platform_ids,
                signed(phash),
                *[_within_one_bit(band) for band in bands(phash)],
                before,
                before_evidence_id,
                exclude_application_id,
                max_distance,
            ],
        )
        return cursor.fetchall()


def _lookup_orm(
    *,
    platform_id: int,
    platform_ids: list[int],
    phash: int,
    before: datetime,
    before_evidence_id: int,
    exclude_application_id: int,
    max_distance: int,
) -> list[_Row]:
    """The same lookup through the ORM (SQLite): the groups, then each of the platform's in turn."""
    rows: list[_Row] = []
    for hit in matching_groups(platform_ids=platform_ids, phash=phash, seen_by=before, max_distance=max_distance):
        found: tuple = (None, None, 0, 0, None)
        if hit.platform_id == platform_id:
            members = group_members(
                platform_id=platform_id,
                phash=hit.phash,
                before=before,
                before_evidence_id=before_evidence_id,
                exclude_application_id=exclude_application_id,
            )
            first = members.order_by("created_at", "evidence_id").values_list("evidence_id", "created_at").first()
            if first is not None:
                counts = members.aggregate(
                    images=Count("pk"), applications=Count("application_id", distinct=True), last_seen=Max("created_at")
                )
                found = (*first, counts["images"], counts["applications"], counts["last_seen"])
        rows.append((hit.platform_id, hit.phash, hit.first_seen, hit.distance, *found))
    return rows


def near_duplicates(*, evidence: Evidence, phash: int, max_distance: int = NEAR_DUPLICATE_BITS) -> list[Match]:
    """Return the earlier uses of near-duplicates of the image, closest first: one Match per
    group of identical images of the platform (other applications' only), and at most one for
    all other platforms that share hashes (if this one does). Raise ValueError above
    GUARANTEED_BITS."""
    application = evidence.application
    uses = earlier_uses(
        platform_id=application.platform_id,
        shared_platform_ids=sharing_platform_ids(platform=application.platform),
        phash=phash,
        before=evidence.created_at,
        before_evidence_id=evidence.pk,
        exclude_application_id=application.pk,
        max_distance=max_distance,
    )
    rows = Evidence.objects.select_related("application").in_bulk([u.evidence_id for u in uses if u.evidence_id])
    matches = []
    for use in uses:
        if use.other_platform:
            matches.append(Match(distance=use.distance, first_seen=use.first_seen, other_platform=True))
            continue
        same_file = (
            use.distance == 0
            and group_members(
                platform_id=application.platform_id,
                phash=use.phash,
                before=evidence.created_at,
                before_evidence_id=evidence.pk,
                exclude_application_id=application.pk,
            )
            .filter(evidence__sha256=evidence.sha256)
            .exists()
        )
        matches.append(
            Match(
                distance=use.distance,
                first_seen=use.first_seen,
                evidence=rows[use.evidence_id],
                same_file=same_file,
                images=use.images,
                applications=use.applications,
                last_seen=use.last_seen,
            )
        )
    return matches


# --- rebuilding (manage.py rebuild_reuse_index) --------------------------------------------------


def rebuild_pending(*, platform: Platform | None = None) -> QuerySet[Evidence]:
    """Return the evidence without a fingerprint of the current scheme, in id order."""
    pending = Evidence.objects.filter(Q(fingerprint__isnull=True) | ~Q(fingerprint__scheme=SCHEME))
    if platform is not None:
        pending = pending.filter(application__platform=platform)
    return pending.select_related("application").order_by("pk")


def rebuild_restart(*, platform: Platform | None = None) -> int:
    """Mark every fingerprint as of no scheme, so that all are redone; return how many.

    Marked rather than deleted: lookups keep finding the old hashes until each is redone, and
    an interrupted restart resumes where it stopped.
    """
    fingerprints = EvidenceFingerprint.objects.all()
    if platform is not None:
        fingerprints = fingerprints.filter(platform=platform)
    return fingerprints.update(scheme=0)


def rebuild_evidence(*, evidence: Evidence, data: bytes, max_pixels: int, max_bytes: int) -> None:
    """Hash the stored evidence file as screening does and store it; raise core.UnreadableImage."""
    from screening import core

    fingerprint_store(
        evidence=evidence,
        phash=core.perceptual_hash(core.decode_image(data, max_pixels=max_pixels, max_bytes=max_bytes)),
    )


def groups_prune(*, platform: Platform | None = None) -> int:
    """Delete the groups no fingerprint has any more (a rehashed image left them); return how many."""
    groups = ReuseGroup.objects.exclude(
        Exists(EvidenceFingerprint.objects.filter(platform_id=OuterRef("platform_id"), phash=OuterRef("phash")))
    )
    if platform is not None:
        groups = groups.filter(platform=platform)
    return groups.delete()[0]
