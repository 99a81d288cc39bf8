"""The reuse index: find earlier evidence that is a near-duplicate of a new image.

Identical hashes form one ``ReuseGroup`` per platform; the index is over groups, so a stock
photo sent a thousand times costs one index row and one answer, and never crowds out the
other matches. A lookup reads the four band indexes, keeps in the database only the groups
within the threshold (``bit_count`` of the XOR on PostgreSQL, a registered function on
SQLite) and then, for those few groups, the earliest earlier image and the group's counts.
Measured with ``bench/index.py`` (docs/screening.md, "Reuse index").

A crop of 10 %, a turn of 2° or a phone's frame moves the hash as far as a stranger's, so
each image also stores keys of its strongest keypoints (``ReuseKey``) and the keypoints
themselves: a lookup collects the images sharing keys with the new one, skips keys so common
that they say nothing, and links an image only when its keypoints and the new image's agree
on one geometric transform (``core.matching_points``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, DateTimeField, Exists, F, Func, IntegerField, Max, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Least

from refunds.models import Evidence, Platform
from screening import core
from screening.models import EvidenceFingerprint, ReuseGroup, ReuseKey

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


def feature_reuse_score(points: int) -> float:
    """The score of a reuse found by keypoints: at the floor (12 points, where no stranger of
    the measurements came closer than 5) it counts; with more points a coincidence fades."""
    return round(min(0.95, 0.55 + 0.4 * (points - core.keypoints.MATCHING_POINTS) / 100), 4)


# Bumped when the bands, the grouping or the keys change; manage.py rebuild_reuse_index
# redoes older rows (scheme 3 added the keypoints).
SCHEME = 3

# A key held by more groups than this says nothing about any of them (generic corners every
# photo has); the lookup reads at most one more entry per key to know, so a query reads at
# most 2 x QUERY_KEYPOINTS x (COMMON_KEY + 1) index entries however large the index grows
# (bench/index.py: about 2 150 at 10^4 and at 10^5 stored images).
COMMON_KEY = 32
# Groups verified per lookup, best voted first: each costs a fetch of 7 kB and ~1 ms of matching.
FEATURE_CANDIDATES = 8
# Keys an image must share with the new one to be a candidate at all (one is chance).
MIN_SHARED_KEYS = 2

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
    # Keypoints agreeing on one transform when found by them (a crop, a turn, a frame); 0 when
    # the hash found it.
    points: int = 0


# --- storing ----------------------------------------------------------------------------------


def platform_key(platform_id: int, key: int) -> int:
    """Return a feature key within a platform (the platform above bit 32, so lookups of one
    platform never read another's keys)."""
    return (platform_id << 32) | key


def fingerprint_store(
    *, evidence: Evidence, phash: int, features: core.ReuseFeatures | None = None
) -> EvidenceFingerprint:
    """Record the image's hash and join it to its group, giving the group the image's
    keypoints and their keys (``features``) if it has none yet (once; a second delivery of the
    task finds it stored, a row of an older scheme is brought up to date)."""
    application = evidence.application
    with transaction.atomic():
        # One statement, new row or not: a redelivery's row is brought up to date (the same
        # values for a twin of this screening, the current scheme for a row of an older one).
        (fingerprint,) = EvidenceFingerprint.objects.bulk_create(
            [
                EvidenceFingerprint(
                    evidence=evidence,
                    platform_id=application.platform_id,
                    application_id=application.pk,
                    phash=signed(phash),
                    scheme=SCHEME,
                    created_at=evidence.created_at,
                )
            ],
            update_conflicts=True,
            unique_fields=["evidence"],
            update_fields=["phash", "scheme"],
        )
        group_join(platform_id=application.platform_id, phash=phash, seen=evidence.created_at, features=features)
    return fingerprint


def group_join(*, platform_id: int, phash: int, seen: datetime, features: core.ReuseFeatures | None = None) -> int:
    """Create the platform's group for this hash, or move its first sighting earlier; store
    ``features`` as its keypoints and keys if it has none (identical hashes are one picture).
    Return the group's id."""
    b0, b1, b2, b3 = bands(phash)
    # Insert or find in one statement (a get_or_create costs four round trips): on a conflict
    # the row is "updated" with the band it already has, which returns its id and changes nothing.
    (group,) = ReuseGroup.objects.bulk_create(
        [
            ReuseGroup(
                platform_id=platform_id, phash=signed(phash), band0=b0, band1=b1, band2=b2, band3=b3, first_seen=seen
            )
        ],
        update_conflicts=True,
        unique_fields=["platform", "phash"],
        update_fields=["band0"],
    )
    # Conditional updates, so that two workers storing images of one group at once never move
    # its first sighting later again, and only one of them writes the keys. A group without
    # keypoints (nearly always one just created) gets them and its first sighting in one
    # statement, a round trip fewer per image; one that has them only its first sighting.
    earliest = Least(F("first_seen"), Value(seen, output_field=DateTimeField()))
    if features is not None and ReuseGroup.objects.filter(pk=group.pk, keypoints=b"").update(
        keypoints=features.stored().to_bytes(), first_seen=earliest
    ):
        keys = features.keys(keypoints=core.keypoints.STORED_KEYPOINTS)
        ReuseKey.objects.bulk_create(
            [ReuseKey(key=platform_key(platform_id, k), group_id=group.pk) for k in keys], ignore_conflicts=True
        )
    else:
        ReuseGroup.objects.filter(pk=group.pk, first_seen__gt=seen).update(first_seen=seen)
    return group.pk


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
    points: int = 0  # keypoints agreeing on one transform, when found by them


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


# --- beyond the hash: keypoints ---------------------------------------------------------------


@dataclass(frozen=True)
class FeatureVotes:
    """The groups sharing keys with a new image, best voted first, and what the lookup read."""

    ranked: list[tuple[int, int]]  # (group id, shared keys)
    entries: int  # index entries read
    common_keys: int  # keys skipped as too common


def feature_votes(*, platform_id: int, features: core.ReuseFeatures) -> FeatureVotes:
    """Return the platform's groups sharing at least MIN_SHARED_KEYS of the image's keys (keys
    held by more than COMMON_KEY groups left out), most shared first."""
    keys = [platform_key(platform_id, k) for k in features.keys(keypoints=core.keypoints.QUERY_KEYPOINTS)]
    if not keys:
        return FeatureVotes([], 0, 0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # At most COMMON_KEY + 1 entries of each key: enough to know it is common.
            cursor.execute(
                "SELECT q.key, k.group_id FROM unnest(%s::bigint[]) AS q(key) CROSS JOIN LATERAL "
                "(SELECT r.group_id FROM screening_reusekey r WHERE r.key = q.key LIMIT %s) k",
                [keys, COMMON_KEY + 1],
            )
            rows = cursor.fetchall()
    else:
        rows = list(ReuseKey.objects.filter(key__in=keys).values_list("key", "group_id"))
    per_key = Counter(key for key, _ in rows)
    votes = Counter(group for key, group in rows if per_key[key] <= COMMON_KEY)
    ranked = [(group, n) for group, n in votes.most_common() if n >= MIN_SHARED_KEYS]
    return FeatureVotes(ranked, len(rows), sum(1 for n in per_key.values() if n > COMMON_KEY))


def earlier_feature_uses(
    *,
    platform_id: int,
    features: core.ReuseFeatures,
    phash: int,
    before: datetime,
    before_evidence_id: int,
    exclude_application_id: int,
    known_phashes: frozenset[int] = frozenset(),
) -> list[EarlierUse]:
    """Return the earlier uses of the platform that the image's keypoints find and verify, one
    per group of identical images not in ``known_phashes`` (the hash found those), most points
    first: the group's earliest earlier image of another application and its counts."""
    votes = feature_votes(platform_id=platform_id, features=features)
    if not votes.ranked:
        return []
    order = {group: rank for rank, (group, _) in enumerate(votes.ranked)}
    # Groups first seen later cannot hold an earlier image; they are dropped before the costly
    # check, the rest taken in the order of the votes.
    candidates = sorted(
        ReuseGroup.objects.filter(pk__in=list(order)[: 4 * FEATURE_CANDIDATES], first_seen__lte=before)
        .exclude(keypoints=b"")
        .values_list("pk", "phash", "keypoints"),
        key=lambda row: order[row[0]],
    )
    uses = []
    for _pk, value, stored in candidates[:FEATURE_CANDIDATES]:
        group = value & _MASK
        if group in known_phashes:
            continue
        points = core.matching_points(features, core.ReuseFeatures.from_bytes(bytes(stored)))
        if points < core.keypoints.MATCHING_POINTS:
            continue
        # The group's earliest earlier image of another application and its counts, as a hash
        # match gives them (none: only this application's own images, or none before this one).
        group_uses = earlier_uses(
            platform_id=platform_id,
            shared_platform_ids=[],
            phash=group,
            before=before,
            before_evidence_id=before_evidence_id,
            exclude_application_id=exclude_application_id,
            max_distance=0,
        )
        if group_uses:
            use = group_uses[0]
            uses.append(
                EarlierUse(
                    distance=core.hamming(group, phash),
                    first_seen=use.first_seen,
                    phash=group,
                    evidence_id=use.evidence_id,
                    images=use.images,
                    applications=use.applications,
                    last_seen=use.last_seen,
                    points=points,
                )
            )
    return sorted(uses, key=lambda use: (-use.points, use.first_seen))


def near_duplicates(
    *,
    evidence: Evidence,
    phash: int,
    features: core.ReuseFeatures | None = None,
    max_distance: int = NEAR_DUPLICATE_BITS,
) -> list[Match]:
    """Return the earlier uses of near-duplicates of the image: one Match per group of
    identical images of the platform (other applications' only), closest hash first, then
    those only its keypoints find (with ``features``; a crop, a turn, a frame), most points
    first, and at most one for all other platforms that share hashes (if this one does).
    Raise ValueError above GUARANTEED_BITS."""
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
    if features is not None:
        # Keypoints stay within the platform: another platform shares only hashes.
        found = earlier_feature_uses(
            platform_id=application.platform_id,
            features=features,
            phash=phash,
            before=evidence.created_at,
            before_evidence_id=evidence.pk,
            exclude_application_id=application.pk,
            # The image's own group too (its keypoints are often the ones it gave just now): the
            # hash lookup asked it at distance 0, and its check would only find the same again.
            known_phashes=frozenset(u.phash for u in uses if not u.other_platform) | {phash},
        )
        own = [u for u in uses if not u.other_platform]
        uses = own + found + [u for u in uses if u.other_platform]
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
                points=use.points,
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
    """Mark every fingerprint as of no scheme and drop the groups' keypoints, so that all are
    redone; return how many fingerprints.

    Marked rather than deleted: lookups keep finding the old hashes until each is redone, and
    an interrupted restart resumes where it stopped.
    """
    fingerprints = EvidenceFingerprint.objects.all()
    groups = ReuseGroup.objects.exclude(keypoints=b"")
    if platform is not None:
        fingerprints = fingerprints.filter(platform=platform)
        groups = groups.filter(platform=platform)
    with transaction.atomic():
        # The keypoints are given again by the group's first image redone; until then a crop
        # of it is found only once its group is (the hashes keep answering meanwhile).
        ReuseKey.objects.filter(group__in=groups).delete()
        groups.update(keypoints=b"")
        return fingerprints.update(scheme=0)


def rebuild_evidence(*, evidence: Evidence, data: bytes, max_pixels: int, max_bytes: int) -> None:
    """Hash the stored evidence file and find its keypoints as screening does, and store them;
    raise core.UnreadableImage."""
    decoded = core.decode_image(data, max_pixels=max_pixels, max_bytes=max_bytes)
    fingerprint_store(
        evidence=evidence, phash=core.perceptual_hash(decoded), features=core.evidence_reuse_features(decoded)
    )


def groups_prune(*, platform: Platform | None = None) -> int:
    """Delete the groups no fingerprint has any more (a rehashed image left them); return how many."""
    groups = ReuseGroup.objects.exclude(
        Exists(EvidenceFingerprint.objects.filter(platform_id=OuterRef("platform_id"), phash=OuterRef("phash")))
    )
    if platform is not None:
        groups = groups.filter(platform=platform)
    return groups.delete()[0]
