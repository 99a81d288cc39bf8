"""The reuse index finds earlier near-duplicates through band lookups, within one platform."""

import random

import pytest

from screening.index import fingerprint_store, near_duplicates
from screening.models import EvidenceFingerprint
from tests.factories import jpeg, make_product, submit

pytestmark = pytest.mark.django_db


def flip(value, bits, *, seed=0):
    rng = random.Random(seed)
    for position in rng.sample(range(64), bits):
        value ^= 1 << position
    return value


HASH = 0xF0E1D2C3B4A59687


def unstored(product, **fields):
    return submit(product, evidence=[jpeg(seed=random.randrange(1 << 30))], **fields).evidence.get()


def stored(product, phash, **fields):
    evidence = unstored(product, **fields)
    fingerprint_store(evidence=evidence, phash=phash)
    return evidence


@pytest.mark.parametrize("bits", range(0, 8))
def test_every_earlier_image_within_seven_bits_is_found(product, bits):
    earlier = stored(product, HASH, buyer_ref="first")
    for seed in range(5):
        new = unstored(product, buyer_ref=f"new-{seed}")
        matches = near_duplicates(evidence=new, phash=flip(HASH, bits, seed=seed), max_distance=7)
        assert [(m.evidence, m.distance) for m in matches] == [(earlier, bits)]


def test_a_distant_hash_is_not_a_near_duplicate(product):
    stored(product, HASH, buyer_ref="first")
    new = stored(product, flip(HASH, 20), buyer_ref="second")
    assert near_duplicates(evidence=new, phash=flip(HASH, 20)) == []


def test_images_of_the_same_application_do_not_count(product):
    application = submit(product, evidence=[jpeg(seed=1), jpeg(seed=2)])
    first, second = application.evidence.all()
    fingerprint_store(evidence=first, phash=HASH)
    fingerprint_store(evidence=second, phash=HASH)
    assert near_duplicates(evidence=second, phash=HASH) == []


def test_another_platforms_images_are_never_matched(product, product_b):
    stored(product_b, HASH)
    new = stored(product, HASH)
    assert near_duplicates(evidence=new, phash=HASH) == []


def test_hashes_above_two_to_the_sixty_three_round_trip(product):
    big = (1 << 64) - 3
    evidence = stored(product, big)
    assert EvidenceFingerprint.objects.get(evidence=evidence).phash & 0xFFFFFFFFFFFFFFFF == big
    new = stored(product, big, buyer_ref="again")
    assert near_duplicates(evidence=new, phash=big)[0].distance == 0


def test_storing_twice_keeps_one_fingerprint(product):
    evidence = stored(product, HASH)
    fingerprint_store(evidence=evidence, phash=HASH)
    assert EvidenceFingerprint.objects.filter(evidence=evidence).count() == 1


def test_a_second_product_of_the_same_platform_is_searched_too(product, merchant):
    earlier = stored(make_product(merchant, ref="sku-2"), HASH)
    new = stored(product, HASH)
    assert near_duplicates(evidence=new, phash=HASH)[0].evidence == earlier
