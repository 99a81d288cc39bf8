"""Reuse-index benchmark: recall and query time of screening.index at 10^4 to 10^6 stored hashes.

Usage: DATABASE_URL=postgres://…/bench_index .venv/bin/python bench/index.py [--sizes 10000,100000,1000000]
       [--queries 420] [--linear-queries 30] [--real 3000]

Loads one platform's reuse index (``ReuseGroup`` rows and their ``EvidenceFingerprint`` rows,
by COPY on PostgreSQL, bulk_create elsewhere; the fingerprints point at evidence ids that do
not exist, so PostgreSQL's foreign-key triggers are off while loading) with, at each size:
  - real hashes: the engine's hash of scikit-image's photographs, cropped (50-100% of the
    frame, anywhere), resized and recompressed, so that they cluster as real hashes do;
  - real-like hashes: a real hash with 10 to 24 random bits flipped (keeps the bias of the
    DCT bits, the low frequencies' sign above all, at a scale no photo set here reaches);
  - uniformly random hashes;
  - a stock photo seen 1000 times (one group, 1000 images of 50 applications).
Queries are stored hashes with 0..6 bits flipped (every distance up to the threshold equally
often, a third of them from each kind), so each has a planted near-duplicate, plus whatever
else lies within 6 bits. The truth is computed in memory over every stored hash; the timed
call is ``screening.index.earlier_uses``, the lookup ``near_duplicates`` runs. A linear scan
(``bit_count`` over all the platform's rows) is timed on the same data in the same run.
Every query runs twice: the first pass right after loading ("cold p99"), then the timed pass
of the table (p50, p99), as a platform that looks up all day sees it.

The keypoint signal (crops, turns, frames; up to the largest of ``--keypoint-sizes``): every
stored group also gets keypoints and keys. Ten photographs are stored whole (their real
keypoints); every other group gets 96 keys drawn from the keys of crops of eleven other
photographs (so that the keys generic corners give are as common as in real photos, and the
cap on common keys is exercised) and the keypoints of one of those crops. The queries are
crops of 10 and 20 % (centred, and from one corner), a 2° turn, a crop with a turn and a phone
screenshot frame of the ten photographs; recall is of the stored original, "false links" are
other groups verified (none of them shows a query's photograph), candidates are the key-index
entries read per query. The timed call is ``screening.index.earlier_feature_uses``.

Prints a table, the storage per row and an extrapolation to 10^8 images; the last line is
``index at N: recall R%, p50 A ms, p99 B ms, ratio to 10^4 C`` (C: p50 at N over p50 at the
smallest size). The rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from skimage import data as photographs  # noqa: E402

from refunds.models import Platform  # noqa: E402
from screening import core  # noqa: E402
from screening.index import (  # noqa: E402
    NEAR_DUPLICATE_BITS,
    HammingDistance,
    band_lookups,
    bands,
    earlier_feature_uses,
    earlier_uses,
    feature_votes,
    platform_key,
)
from screening.models import EvidenceFingerprint, ReuseGroup, ReuseKey  # noqa: E402

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "camera",
    "moon",
    "horse",
    "coins",
    "brick",
    "gravel",
    "grass",
    "page",
    "text",
    "clock",
    "colorwheel",
    "logo",
    "stereo_motorcycle",
)
STOCK_IMAGES, STOCK_APPLICATIONS = 1000, 50
STOCK_EVIDENCE_BASE = 1 << 40  # fake evidence ids of the stock photo's images, above the others
NOW = datetime(2026, 6, 1, tzinfo=UTC)
_MASK = (1 << 64) - 1


def real_hashes(count: int, seed: int = 1) -> list[int]:
    """Return up to `count` distinct engine hashes of cropped, resized, recompressed photographs."""
    rng = np.random.default_rng(seed)
    images = []
    for name in PHOTOS:
        array = getattr(photographs, name)()
        array = array[0] if isinstance(array, tuple) else array
        images.append(Image.fromarray(array).convert("RGB"))
    out: dict[int, None] = {}
    attempts = 0
    while len(out) < count and attempts < count * 3:
        attempts += 1
        image = images[attempts % len(images)]
        share = rng.uniform(0.5, 1.0)
        w, h = int(image.width * share), int(image.height * share)
        x, y = int(rng.integers(0, image.width - w + 1)), int(rng.integers(0, image.height - h + 1))
        part = image.crop((x, y, x + w, y + h))
        scale = rng.uniform(0.3, 1.0)
        part = part.resize((max(64, int(w * scale)), max(64, int(h * scale))), Image.BILINEAR)
        buffer = io.BytesIO()
        part.save(buffer, "JPEG", quality=int(rng.integers(60, 96)))
        out[core.perceptual_hash(core.decode_image(buffer.getvalue()))] = None
    return list(out)


# The keypoint signal: ten photographs queried, eleven others make the filler's keys.
QUERIED = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "camera",
    "coins",
    "moon",
    "clock",
    "page",
)
FILLER = (
    "hubble_deep_field",
    "retina",
    "horse",
    "brick",
    "gravel",
    "grass",
    "text",
    "logo",
    "stereo_motorcycle",
    "cell",
    "colorwheel",
)


def photograph(name: str) -> Image.Image:
    array = getattr(photographs, name)()
    return Image.fromarray(array[0] if isinstance(array, tuple) else array).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def in_a_screenshot(image: Image.Image) -> Image.Image:
    """The photo inside a phone's screen: a status bar with the clock and battery, a navigation bar."""
    frame = Image.new("RGB", (image.width, int(image.height * 1.3)), (250, 250, 250))
    draw = ImageDraw.Draw(frame)
    draw.text((10, 5), "12:45", fill=(20, 20, 20))
    draw.rectangle((image.width - 40, 6, image.width - 10, 14), fill=(30, 30, 30))
    frame.paste(image, (0, int(image.height * 0.15)))
    draw.rectangle((0, frame.height - image.height // 10, image.width, frame.height), fill=(235, 235, 235))
    return frame


def _crop(image: Image.Image, share: float, *, corner: bool = False) -> Image.Image:
    if corner:
        return image.crop((int(image.width * share), int(image.height * share), image.width, image.height))
    dx, dy = int(image.width * share / 2), int(image.height * share / 2)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


TRANSFORMS = {
    "crop 10%": lambda im: _crop(im, 0.1),
    "crop 20%": lambda im: _crop(im, 0.2),
    "corner crop 20%": lambda im: _crop(im, 0.2, corner=True),
    "turn 2°": lambda im: im.rotate(2, resample=Image.BICUBIC),
    "crop 10% + turn 2°": lambda im: _crop(im, 0.1).rotate(2, resample=Image.BICUBIC),
    "screenshot": in_a_screenshot,
}


class KeypointPopulation:
    """The keypoint side of the stored groups: the ten originals' own, the filler's drawn."""

    def __init__(self, pool_size: int, seed: int = 3) -> None:
        self.rng = np.random.default_rng(seed)
        self.originals: list[tuple[int, core.ReuseFeatures]] = []  # (hash, features)
        self.queries: list[tuple[str, int, int, core.ReuseFeatures]] = []  # (transform, original index, hash, ...)
        for index, name in enumerate(QUERIED):
            image = photograph(name)
            decoded = core.decode_image(jpeg(image, 95))
            self.originals.append((core.perceptual_hash(decoded), core.evidence_reuse_features(decoded)))
            for transform, apply in TRANSFORMS.items():
                copy = core.decode_image(jpeg(apply(image), 85))
                self.queries.append((transform, index, core.perceptual_hash(copy), core.evidence_reuse_features(copy)))
        images = [photograph(name) for name in FILLER]
        self.pool: list[tuple[bytes, list[int]]] = []
        sources: dict[int, set[int]] = {}
        for i in range(pool_size):
            image = images[i % len(images)]
            share = self.rng.uniform(0.4, 1.0)
            w, h = int(image.width * share), int(image.height * share)
            x, y = int(self.rng.integers(0, image.width - w + 1)), int(self.rng.integers(0, image.height - h + 1))
            part = image.crop((x, y, x + w, y + h)).rotate(float(self.rng.uniform(-5, 5)), resample=Image.BICUBIC)
            features = core.evidence_reuse_features(core.decode_image(jpeg(part, int(self.rng.integers(60, 96)))))
            keys = features.keys(keypoints=core.keypoints.STORED_KEYPOINTS)
            self.pool.append((features.stored().to_bytes(), keys))
            for key in keys:
                sources.setdefault(key, set()).add(i % len(images))
        # Keys that different photographs share are the generic ones (corners every photo has):
        # they stay as they are, as common at scale as in real photos; a photograph's own keys
        # become fresh random values, as another photograph's own keys would be.
        self.generic = {key for key, photos in sources.items() if len(photos) >= 2}

    def filler(self) -> tuple[list[int], bytes]:
        """Return a filler group's keys and keypoints: one crop's, its own keys made fresh."""
        blob, keys = self.pool[int(self.rng.integers(len(self.pool)))]
        low = (1 << core.keypoints.FEATURE_KEY_BITS) - 1
        fresh = self.rng.integers(0, low + 1, size=len(keys))
        return sorted({k if k in self.generic else (k & ~low) | int(v) for k, v in zip(keys, fresh, strict=True)}), blob


def popcount(values: np.ndarray) -> np.ndarray:
    """Return the set bits of each uint64."""
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def flip(value: int, bits: int, rng: np.random.Generator) -> int:
    for position in rng.choice(64, size=bits, replace=False):
        value ^= 1 << int(position)
    return value


class Population:
    """The stored hashes, in memory, with their kind (0 real, 1 real-like, 2 random)."""

    def __init__(self, real: list[int], seed: int = 2, originals: list[int] = ()) -> None:  # type: ignore[assignment]
        self.rng = np.random.default_rng(seed)
        self.real = real
        self.hashes: list[int] = []
        self.kinds: list[int] = []
        self.seen: set[int] = set()
        self.stock = real[0]
        # The keypoint signal's stored photographs, right after the stock photo (positions 1..).
        self.originals = list(originals)

    def _add(self, value: int, kind: int) -> bool:
        if value in self.seen:
            return False
        self.seen.add(value)
        self.hashes.append(value)
        self.kinds.append(kind)
        return True

    def grow(self, size: int) -> list[int]:
        """Add hashes up to `size` and return the new ones' positions."""
        start = len(self.hashes)
        if start == 0:
            self._add(self.real[0], 0)
            for value in self.originals:
                assert self._add(value, 0), "two stored photographs hash alike"
            for value in self.real:
                if len(self.hashes) >= size // 3:
                    break
                self._add(value, 0)
        while len(self.hashes) < size:
            if self.rng.random() < 0.5:
                base = self.real[int(self.rng.integers(len(self.real)))]
                self._add(flip(base, int(self.rng.integers(10, 25)), self.rng), 1)
            else:
                self._add(int(self.rng.integers(0, 1 << 63, dtype=np.int64)) * 2 + int(self.rng.integers(2)), 2)
        return list(range(start, len(self.hashes)))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def load(
    platform_id: int, population: Population, positions: list[int], keypoints: KeypointPopulation | None = None
) -> None:
    """Store the groups at `positions` (position p is evidence and application p + 1), with
    keypoints and keys if given."""
    groups, fingerprints = [], []
    for p in positions:
        value = population.hashes[p]
        seen = NOW - timedelta(seconds=int(population.rng.integers(60, 10**7)))
        groups.append((platform_id, _signed(value), *bands(value), seen, b""))
        fingerprints.append((platform_id, p + 1, p + 1, _signed(value), 2, seen))
        if p == 0:  # the stock photo: its other 999 images
            for k in range(1, STOCK_IMAGES):
                fingerprints.append(
                    (
                        platform_id,
                        STOCK_EVIDENCE_BASE + k,
                        STOCK_EVIDENCE_BASE + k % STOCK_APPLICATIONS,
                        _signed(value),
                        2,
                        seen + timedelta(seconds=k),
                    )
                )
    group_columns = ("platform_id", "phash", "band0", "band1", "band2", "band3", "first_seen", "keypoints")
    fingerprint_columns = ("platform_id", "evidence_id", "application_id", "phash", "scheme", "created_at")
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            # The fingerprints name evidence rows that do not exist: no foreign-key triggers here.
            cursor.execute("SET LOCAL session_replication_role = replica")
            for model, columns, rows in (
                (ReuseGroup, group_columns, groups),
                (EvidenceFingerprint, fingerprint_columns, fingerprints),
            ):
                sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
        if not connection.in_atomic_block:
            with connection.cursor() as cursor:
                # What autovacuum does on a live table: the visibility map makes index-only scans.
                for model in (ReuseGroup, EvidenceFingerprint):
                    cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    else:
        ReuseGroup.objects.bulk_create(
            [ReuseGroup(**dict(zip(group_columns, row, strict=True))) for row in groups], batch_size=2000
        )
        EvidenceFingerprint.objects.bulk_create(
            [EvidenceFingerprint(**dict(zip(fingerprint_columns, row, strict=True))) for row in fingerprints],
            batch_size=2000,
        )
    if keypoints is not None:
        load_keypoints(platform_id, population, positions, keypoints)


def load_keypoints(
    platform_id: int, population: Population, positions: list[int], keypoints: KeypointPopulation
) -> None:
    """Give the groups at `positions` their keypoints and keys: the stored photographs their
    own, the others drawn from the filler pool."""
    wanted = {_signed(population.hashes[p]): p for p in positions}
    ids = dict(
        ReuseGroup.objects.filter(platform_id=platform_id, phash__in=list(wanted)).values_list("phash", "pk")
        if len(wanted) < 5000
        else ReuseGroup.objects.filter(platform_id=platform_id).values_list("phash", "pk").iterator(chunk_size=50000)
    )
    originals = {value: features for value, features in keypoints.originals}
    blobs, keys = [], []
    for value, p in wanted.items():
        group = ids[value]
        own = originals.get(population.hashes[p])
        if own is not None:
            group_keys, blob = own.keys(keypoints=core.keypoints.STORED_KEYPOINTS), own.stored().to_bytes()
        else:
            group_keys, blob = keypoints.filler()
        blobs.append((group, blob))
        keys.extend((platform_key(platform_id, k), group) for k in group_keys)
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS bench_keypoints (id bigint, keypoints bytea)")
            cursor.execute("TRUNCATE bench_keypoints")
            with cursor.cursor.copy("COPY bench_keypoints (id, keypoints) FROM STDIN") as copy:
                for row in blobs:
                    copy.write_row(row)
            cursor.execute(
                f"UPDATE {ReuseGroup._meta.db_table} g SET keypoints = b.keypoints FROM bench_keypoints b "
                "WHERE g.id = b.id"
            )
            with cursor.cursor.copy(f"COPY {ReuseKey._meta.db_table} (key, group_id) FROM STDIN") as copy:
                for row in keys:
                    copy.write_row(row)
        if not connection.in_atomic_block:
            with connection.cursor() as cursor:
                for model in (ReuseGroup, ReuseKey):
                    cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    else:
        for group, blob in blobs:
            ReuseGroup.objects.filter(pk=group).update(keypoints=blob)
        ReuseKey.objects.bulk_create([ReuseKey(key=k, group_id=g) for k, g in keys], batch_size=2000)


def queries(population: Population, count: int) -> list[tuple[int, int]]:
    """Return (query hash, planted position): every distance 0..threshold, each kind in turn."""
    rng = np.random.default_rng(len(population.hashes))
    by_kind = [[p for p, k in enumerate(population.kinds) if k == kind] for kind in range(3)]
    out = []
    for i in range(count):
        if i % 30 == 29:
            planted = 0  # now and then, the stock photo
        else:
            pool = by_kind[i % 3] or by_kind[2]
            planted = pool[int(rng.integers(len(pool)))]
        out.append((flip(population.hashes[planted], i % (NEAR_DUPLICATE_BITS + 1), rng), planted))
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def linear_scan(platform_id: int, phash: int) -> list[tuple[int, int]]:
    """Every group of the platform within the threshold, by reading them all (the comparison)."""
    return list(
        ReuseGroup.objects.filter(platform_id=platform_id, first_seen__lte=NOW)
        .annotate(distance=HammingDistance("phash", phash))
        .filter(distance__lte=NEAR_DUPLICATE_BITS)
        .values_list("phash", "distance")
    )


def measure(platform_id: int, population: Population, count: int, linear_count: int) -> dict[str, float]:
    stored = np.array(population.hashes, dtype=np.uint64)
    asked = queries(population, count)

    def timed() -> tuple[list[float], list[list]]:
        times, answers = [], []
        for phash, _ in asked:
            started = time.perf_counter()
            answers.append(
                earlier_uses(
                    platform_id=platform_id,
                    shared_platform_ids=[],
                    phash=phash,
                    before=NOW,
                    before_evidence_id=1 << 62,
                    exclude_application_id=0,
                )
            )
            times.append((time.perf_counter() - started) * 1000)
        return times, answers

    # A first pass right after loading (pages come from the OS cache, not PostgreSQL's buffers),
    # then the timed pass, as a platform that looks up all day sees it; each pass alone, so that
    # no counting or scanning of this benchmark runs between two timed lookups.
    cold_ms, _ = timed()
    index_ms, answers = timed()
    found = expected = 0
    linear_ms, candidates = [], []
    for i, ((phash, planted), uses) in enumerate(zip(asked, answers, strict=True)):
        truth = {int(v) for v in stored[popcount(stored ^ np.uint64(phash)) <= NEAR_DUPLICATE_BITS]}
        assert population.hashes[planted] in truth
        found += len(truth & {use.phash for use in uses})
        expected += len(truth)
        candidates.append(sum(lookup.count() for lookup in band_lookups(platform_ids=[platform_id], phash=phash)))
        if i < linear_count:
            started = time.perf_counter()
            scanned = linear_scan(platform_id, phash)
            linear_ms.append((time.perf_counter() - started) * 1000)
            assert {v & _MASK for v, _ in scanned} == truth
    return {
        "recall": 100.0 * found / expected,
        "found": found,
        "expected": expected,
        "candidates": statistics.mean(candidates),
        "p50": statistics.median(index_ms),
        "p99": percentile(index_ms, 0.99),
        "cold_p99": percentile(cold_ms, 0.99),
        "linear_p50": statistics.median(linear_ms) if linear_ms else float("nan"),
        "linear_p99": percentile(linear_ms, 0.99) if linear_ms else float("nan"),
    }


def measure_keypoints(platform_id: int, population: Population, keypoints: KeypointPopulation) -> dict:
    """Time the keypoint lookup of every transformed copy of the stored photographs."""
    planted = {population.hashes.index(value): value for value, _ in keypoints.originals}
    by_original = {i: value for i, (value, _) in enumerate(keypoints.originals)}

    def timed() -> tuple[list[float], list[list]]:
        times, answers = [], []
        for _, _, phash, features in keypoints.queries:
            started = time.perf_counter()
            answers.append(
                earlier_feature_uses(
                    platform_id=platform_id,
                    features=features,
                    phash=phash,
                    before=NOW,
                    before_evidence_id=1 << 62,
                    exclude_application_id=0,
                )
            )
            times.append((time.perf_counter() - started) * 1000)
        return times, answers

    cold_ms, _ = timed()
    index_ms, answers = timed()
    found, false_links, entries, common = 0, 0, [], []
    missed: list[str] = []
    for (transform, original, _, features), uses in zip(keypoints.queries, answers, strict=True):
        target = by_original[original]
        hit = any(use.phash == target for use in uses)
        found += hit
        if not hit:
            missed.append(f"{QUERIED[original]} {transform}")
        false_links += sum(1 for use in uses if use.phash != target)
        votes = feature_votes(platform_id=platform_id, features=features)
        entries.append(votes.entries)
        common.append(votes.common_keys)
    assert len(planted) == len(keypoints.originals)
    count = len(keypoints.queries)
    return {
        "kp_recall": 100.0 * found / count,
        "kp_found": found,
        "kp_queries": count,
        "kp_false": false_links,
        "kp_missed": missed,
        "kp_generic": len(keypoints.generic),
        "kp_entries": statistics.mean(entries),
        "kp_common": statistics.mean(common),
        "kp_p50": statistics.median(index_ms),
        "kp_p99": percentile(index_ms, 0.99),
        "kp_cold_p99": percentile(cold_ms, 0.99),
    }


def storage_per_row() -> float | None:
    """Bytes per stored image: the groups and fingerprints tables with their indexes."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(%s) + pg_total_relation_size(%s), (SELECT count(*) FROM "
            f"{EvidenceFingerprint._meta.db_table})",
            [ReuseGroup._meta.db_table, EvidenceFingerprint._meta.db_table],
        )
        size, rows = cursor.fetchone()
    return size / max(rows, 1)


def keypoint_storage_per_group(platform_id: int) -> float | None:
    """Bytes per stored group for the keypoint signal: the keys table with its indexes and the
    groups' keypoints (TOAST included)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pg_total_relation_size(%s), (SELECT coalesce(sum(pg_column_size(keypoints)), 0) FROM "
            f"{ReuseGroup._meta.db_table} WHERE platform_id = %s), (SELECT count(*) FROM {ReuseGroup._meta.db_table} "
            "WHERE keypoints <> ''::bytea)",
            [ReuseKey._meta.db_table, platform_id],
        )
        keys, blobs, groups = cursor.fetchone()
    return (keys + blobs) / max(groups, 1)


def run(  # noqa: ANN001
    sizes: list[int],
    *,
    count: int,
    linear_count: int,
    real: int,
    keypoint_sizes: tuple[int, ...] = (),
    pool: int = 300,
    out=sys.stdout,
) -> list[dict]:
    keypoints = KeypointPopulation(pool) if keypoint_sizes else None
    population = Population(real_hashes(real), originals=[v for v, _ in keypoints.originals] if keypoints else [])
    platform = Platform.objects.create(slug=f"bench-index-{uuid.uuid4().hex[:8]}", name="Reuse-index benchmark")
    results = []
    print(
        f"{real} real hashes ({len(population.real)} distinct) of {len(PHOTOS)} photographs; "
        f"{count} queries per size, linear scan timed on {linear_count}; {connection.vendor}",
        file=out,
    )
    print(
        f"{'stored':>9} {'recall':>17} {'candidates':>10} {'index p50':>9} {'p99':>8} {'cold p99':>8} "
        f"{'linear p50':>10} {'p99':>8}",
        file=out,
    )
    keypoint_rows = []
    try:
        for size in sizes:
            with_keypoints = keypoints if keypoints is not None and size <= max(keypoint_sizes) else None
            load(platform.pk, population, population.grow(size), with_keypoints)
            r = measure(platform.pk, population, count, linear_count) | {"size": size}
            if with_keypoints is not None and size in keypoint_sizes:
                r |= measure_keypoints(platform.pk, population, with_keypoints)
                r["kp_bytes"] = keypoint_storage_per_group(platform.pk)
                keypoint_rows.append(r)
            results.append(r)
            print(
                f"{size:>9} {r['found']:>7}/{r['expected']:<6} {r['recall']:5.1f}% {r['candidates']:>10.0f} "
                f"{r['p50']:>6.2f} ms {r['p99']:>5.2f} ms {r['cold_p99']:>5.2f} ms "
                f"{r['linear_p50']:>7.1f} ms {r['linear_p99']:>5.1f} ms",
                file=out,
                flush=True,
            )
        if keypoint_rows:
            print(
                f"keypoints ({len(QUERIED)} photographs x {len(TRANSFORMS)} transformations: "
                f"{', '.join(TRANSFORMS)}; filler keys from {pool} crops of {len(FILLER)} other photographs)",
                file=out,
            )
            print(
                f"{'stored':>9} {'recall':>14} {'false links':>11} {'entries/query':>13} {'common keys':>11} "
                f"{'p50':>8} {'p99':>8} {'cold p99':>8} {'bytes/group':>11}  missed",
                file=out,
            )
            for r in keypoint_rows:
                size_bytes = f"{r['kp_bytes']:.0f}" if r["kp_bytes"] else "n/a"
                print(
                    f"{r['size']:>9} {r['kp_found']:>4}/{r['kp_queries']:<3} {r['kp_recall']:5.1f}% {r['kp_false']:>11} "
                    f"{r['kp_entries']:>13.0f} {r['kp_common']:>11.1f} {r['kp_p50']:>5.1f} ms {r['kp_p99']:>5.1f} ms "
                    f"{r['kp_cold_p99']:>5.1f} ms {size_bytes:>11}  {', '.join(r['kp_missed']) or '-'}",
                    file=out,
                    flush=True,
                )
        per_row = storage_per_row()
        if len(results) >= 2:
            # Candidates grow in proportion to the rows (four bands of 16 bits); time as a line through them.
            first, last = results[0], results[-1]
            slope = (last["p50"] - first["p50"]) / (last["size"] - first["size"])
            at = 10**8
            p50 = last["p50"] + slope * (at - last["size"])
            candidates = last["candidates"] * at / last["size"]
            linear = last["linear_p50"] * at / last["size"]
            storage = f"{per_row:.0f} bytes per image, {per_row * at / 1e9:.1f} GB" if per_row else "storage n/a"
            print(
                f"at 10^8 (extrapolated): {storage}; {candidates:.0f} candidates per query, index p50 "
                f"{p50:.0f} ms, linear scan p50 {linear / 1000:.1f} s",
                file=out,
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {ReuseKey._meta.db_table} WHERE group_id IN "
                f"(SELECT id FROM {ReuseGroup._meta.db_table} WHERE platform_id = %s)",
                [platform.pk],
            )
            for model in (EvidenceFingerprint, ReuseGroup):
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE platform_id = %s", [platform.pk])
        platform.delete()
    last, first = results[-1], results[0]
    print(
        f"index at {last['size']}: recall {last['recall']:.1f}%, p50 {last['p50']:.1f} ms, p99 {last['p99']:.1f} ms, "
        f"ratio to 10^4 {last['p50'] / first['p50']:.1f}",
        file=out,
        flush=True,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="stored hashes at each step, increasing")
    parser.add_argument("--queries", type=int, default=420, help="queries per size (default 420)")
    parser.add_argument("--linear-queries", type=int, default=30, help="of which also timed by linear scan")
    parser.add_argument("--real", type=int, default=3000, help="real hashes to compute from photographs")
    parser.add_argument(
        "--keypoint-sizes",
        default="10000,100000",
        help="sizes (of --sizes) at which the keypoint signal is stored and measured, up to its largest; '' for none",
    )
    parser.add_argument("--pool", type=int, default=300, help="crops of other photographs the filler's keys come from")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas")
    if sizes != sorted(sizes) or sizes[0] < 100:
        parser.error("--sizes must increase and start at 100 or more")
    try:
        keypoint_sizes = tuple(int(s) for s in args.keypoint_sizes.split(",") if s.strip())
    except ValueError:
        parser.error("--keypoint-sizes takes whole numbers separated by commas")
    if not set(keypoint_sizes) <= set(sizes):
        parser.error("--keypoint-sizes must be among --sizes")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run(
        sizes,
        count=args.queries,
        linear_count=args.linear_queries,
        real=args.real,
        keypoint_sizes=keypoint_sizes,
        pool=args.pool,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
