"""The reuse index finds every earlier near-duplicate through band lookups: within one platform,
one answer per group of identical images, and across platforms only for those that opted in."""

import io
import random
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from PIL import Image, ImageDraw, ImageOps
from skimage import data as photographs

from refunds.models import Evidence, RefundApplication
from refunds.services.platform import platform_reuse_sharing_set, settings_actor_for_command
from screening import core
from screening.index import fingerprint_store, group_join, near_duplicates, signed
from screening.models import EvidenceFingerprint, ReuseKey
from screening.services import _other_platform_findings
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


def test_a_distance_the_index_cannot_guarantee_is_refused(product):
    new = stored(product, HASH)
    with pytest.raises(ValueError, match="up to 7 bits"):
        near_duplicates(evidence=new, phash=HASH, max_distance=8)


def test_a_later_image_is_not_an_earlier_use(product):
    first = stored(product, HASH, buyer_ref="first")
    stored(product, HASH, buyer_ref="second")
    assert near_duplicates(evidence=first, phash=HASH) == []


def test_images_stored_at_the_same_instant_link_only_the_later_one(product):
    with time_machine.travel(timezone.now(), tick=False):
        first = stored(product, HASH, buyer_ref="first")
        second = stored(product, HASH, buyer_ref="second")
    assert near_duplicates(evidence=first, phash=HASH) == []
    assert [m.evidence for m in near_duplicates(evidence=second, phash=HASH)] == [first]


def test_a_second_product_of_the_same_platform_is_searched_too(product, merchant):
    earlier = stored(make_product(merchant, ref="sku-2"), HASH)
    new = stored(product, HASH)
    assert near_duplicates(evidence=new, phash=HASH)[0].evidence == earlier


# --- real photographs, transformed as a buyer would ---------------------------------------------

PHOTOS = ["astronaut", "chelsea", "rocket"]


def photo(name):
    return Image.fromarray(getattr(photographs, name)()).convert("RGB")


def encoded(image, *, quality=90):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def engine_hash(data):
    return core.perceptual_hash(core.decode_image(data))


def resized(image):
    return encoded(image.resize((image.width // 2, image.height // 2), Image.LANCZOS))


def recompressed(image):
    return encoded(image, quality=60)


def bordered(image):
    return encoded(ImageOps.expand(image, border=image.width // 20, fill="white"))


def rotated_one_degree(image):
    return encoded(image.rotate(1, resample=Image.BICUBIC))


def rotated_two_degrees(image):
    return encoded(image.rotate(2, resample=Image.BICUBIC))


def cropped(share):
    def crop(image):
        dx, dy = int(image.width * share / 2), int(image.height * share / 2)
        return encoded(image.crop((dx, dy, image.width - dx, image.height - dy)))

    crop.__name__ = f"cropped_{int(share * 100)}_percent"
    return crop


def in_a_screenshot(image):
    """The photo inside a phone's screen: a status bar with the clock and battery, a navigation bar."""
    frame = Image.new("RGB", (image.width, int(image.height * 1.3)), (250, 250, 250))
    draw = ImageDraw.Draw(frame)
    draw.text((10, 5), "12:45", fill=(20, 20, 20))
    draw.rectangle((image.width - 40, 6, image.width - 10, 14), fill=(30, 30, 30))
    frame.paste(image, (0, int(image.height * 0.15)))
    draw.rectangle((0, frame.height - image.height // 10, image.width, frame.height), fill=(235, 235, 235))
    return encoded(frame)


def engine_signature(data):
    """The hash and keypoints screening stores for an image (the reuse index's two signals)."""
    decoded = core.decode_image(data)
    return {"phash": core.perceptual_hash(decoded), "features": core.evidence_reuse_features(decoded)}


def stored_photo(product, data, **fields):
    evidence = unstored(product, **fields)
    fingerprint_store(evidence=evidence, **engine_signature(data))
    return evidence


# The hash alone misses crops of 10 % and more, a 2° turn and a phone frame: they move it as
# far as a stranger's (docs/screening.md, "Reuse index"); the keypoints find them.
@pytest.mark.parametrize(
    "transform",
    [
        resized,
        recompressed,
        bordered,
        rotated_one_degree,
        cropped(0.1),
        cropped(0.2),
        rotated_two_degrees,
        in_a_screenshot,
    ],
    ids=lambda t: t.__name__,
)
def test_a_photo_reused_by_another_buyer_of_another_shop_is_found(product, other_merchant, transform):
    other_shop = make_product(other_merchant, ref="sku-other")
    missed = []
    for name in PHOTOS:
        original = photo(name)
        earlier = stored_photo(product, encoded(original, quality=95), buyer_ref=f"honest-{name}")
        reused = transform(original)
        new = stored_photo(other_shop, reused, buyer_ref=f"abuser-{name}")
        matches = near_duplicates(evidence=new, **engine_signature(reused))
        if [m.evidence for m in matches] != [earlier]:
            missed.append(name)
    assert missed == []


def test_a_crop_found_by_its_keypoints_says_how_many_points_agree(product):
    original = photo("astronaut")
    stored_photo(product, encoded(original, quality=95), buyer_ref="honest")
    reused = cropped(0.2)(original)
    new = stored_photo(product, reused, buyer_ref="abuser")
    (match,) = near_duplicates(evidence=new, **engine_signature(reused))
    assert match.points >= core.keypoints.MATCHING_POINTS and match.distance > 6


def test_a_crop_of_a_photo_sent_many_times_is_one_answer_with_its_counts(product):
    data = encoded(photo("chelsea"), quality=95)
    first = stored_photo(product, data, buyer_ref="stock-0")
    for i in range(1, 30):
        stored_photo(product, data, buyer_ref=f"stock-{i}")
    assert ReuseKey.objects.values("group").distinct().count() == 1  # one picture, one set of keys
    reused = cropped(0.2)(photo("chelsea"))
    new = stored_photo(product, reused, buyer_ref="abuser")
    (match,) = near_duplicates(evidence=new, **engine_signature(reused))
    assert (match.evidence, match.images, match.applications) == (first, 30, 30) and match.points


def test_keypoints_stay_within_the_platform_even_when_it_shares_hashes(product, product_b, platform_a, platform_b):
    opt_in(platform_a, platform_b)
    original = photo("rocket")
    stored_photo(product_b, encoded(original, quality=95), buyer_ref="elsewhere")
    reused = cropped(0.2)(original)
    new = stored_photo(product, reused, buyer_ref="here")
    assert near_duplicates(evidence=new, **engine_signature(reused)) == []


UNRELATED = [
    "astronaut",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "camera",
    "chelsea",
    "coins",
    "moon",
    "page",
    "text",
    "clock",
    "retina",
    "cell",
    "brick",
    "grass",
    "gravel",
    "horse",
    "logo",
]


def test_unrelated_photographs_are_not_linked(product):
    for name in UNRELATED:
        data = encoded(photo(name))
        new = stored_photo(product, data, buyer_ref=name)
        assert near_duplicates(evidence=new, **engine_signature(data)) == [], name


def test_a_photo_is_never_linked_to_its_own_application(product):
    data = encoded(photo("astronaut"))
    crop = cropped(0.2)(photo("astronaut"))
    application = submit(product, evidence=[data, crop])
    for evidence, content in zip(application.evidence.order_by("position"), [data, crop], strict=True):
        fingerprint_store(evidence=evidence, **engine_signature(content))
    for evidence, content in zip(application.evidence.order_by("position"), [data, crop], strict=True):
        assert near_duplicates(evidence=evidence, **engine_signature(content)) == []


def test_the_same_file_is_told_apart_from_a_re_encoded_copy(product):
    data = encoded(photo("rocket"))
    earlier = submit(product, evidence=[data], buyer_ref="first").evidence.get()
    fingerprint_store(evidence=earlier, phash=engine_hash(data))
    same = submit(product, evidence=[data], buyer_ref="second").evidence.get()
    fingerprint_store(evidence=same, phash=engine_hash(data))
    copy = recompressed(photo("rocket"))
    re_encoded = submit(product, evidence=[copy], buyer_ref="third").evidence.get()
    assert near_duplicates(evidence=same, phash=engine_hash(data))[0].same_file is True
    assert near_duplicates(evidence=re_encoded, phash=engine_hash(copy))[0].same_file is False


# --- a stock photo seen a thousand times --------------------------------------------------------

STOCK = 0x0F1E2D3C4B5A6978


def seen_a_thousand_times(product, phash):
    """Store the stock photo as 1000 images of 50 earlier applications (10 buyers' worth of rows)."""
    applications = [submit(product, evidence=[jpeg(seed=i)], buyer_ref=f"stock-{i}") for i in range(50)]
    template = applications[0].evidence.get()
    Evidence.objects.bulk_create(
        [
            Evidence(application=application, position=position, **template.image_fields())
            for application in applications
            for position in range(1, 20)
        ]
    )
    evidence = list(Evidence.objects.filter(application__in=applications))
    assert len(evidence) == 1000
    EvidenceFingerprint.objects.bulk_create(
        [
            EvidenceFingerprint(
                evidence=item,
                platform_id=item.application.platform_id,
                application_id=item.application_id,
                phash=signed(phash),
                created_at=item.created_at,
            )
            for item in evidence
        ]
    )
    group_join(platform_id=product.merchant.platform_id, phash=phash, seen=min(item.created_at for item in evidence))
    return RefundApplication.objects.filter(pk__in=[a.pk for a in applications])


def test_a_stock_photo_seen_a_thousand_times_is_one_answer_and_hides_no_other_match(
    product, django_assert_max_num_queries
):
    stock = seen_a_thousand_times(product, STOCK)
    reused = stored(product, flip(HASH, 3), buyer_ref="abuser")
    new = unstored(product, buyer_ref="again")
    with django_assert_max_num_queries(12):
        matches = near_duplicates(evidence=new, phash=flip(HASH, 3))
    assert [m.evidence for m in matches] == [reused]
    with django_assert_max_num_queries(12):
        matches = near_duplicates(evidence=new, phash=flip(STOCK, 2))
    assert len(matches) == 1
    (match,) = matches
    assert (match.distance, match.images, match.applications) == (2, 1000, 50)
    assert match.evidence.application == stock.order_by("created_at").first()


def test_a_stock_photo_and_a_reused_photo_together_both_come_back(product):
    seen_a_thousand_times(product, STOCK)
    reused = stored(product, flip(STOCK, 5, seed=3), buyer_ref="abuser")
    new = unstored(product, buyer_ref="again")
    matches = near_duplicates(evidence=new, phash=flip(STOCK, 2, seed=9))
    assert len(matches) == 2
    assert reused in [m.evidence for m in matches]
    assert sorted(m.distance for m in matches) == [m.distance for m in matches]


# --- across platforms, for those that opted in --------------------------------------------------


def opt_in(*platforms):
    for platform in platforms:
        platform_reuse_sharing_set(platform=platform, shares=True, actor=settings_actor_for_command("test"))


def test_a_photo_used_on_another_sharing_platform_is_told_with_its_date_only(
    product, product_b, platform_a, platform_b
):
    opt_in(platform_a, platform_b)
    three_days_ago = timezone.now() - timedelta(days=3)
    with time_machine.travel(three_days_ago, tick=False):
        stored(product_b, HASH, buyer_ref="elsewhere")
    new = stored(product, flip(HASH, 2))
    (match,) = near_duplicates(evidence=new, phash=flip(HASH, 2))
    assert match.other_platform and match.distance == 2 and match.first_seen == three_days_ago
    assert match.evidence is None


def test_the_finding_of_another_platforms_use_names_no_application_image_or_buyer(
    product, product_b, platform_a, platform_b
):
    opt_in(platform_a, platform_b)
    elsewhere = stored(product_b, HASH, buyer_ref="elsewhere")
    new = stored(product, HASH)
    (finding,) = _other_platform_findings(near_duplicates(evidence=new, phash=HASH))
    assert finding.code == core.FindingCode.NEAR_DUPLICATE
    assert finding.params == {
        "other_platform": True,
        "first_seen": elsewhere.created_at.date().isoformat(),
        "distance": 0,
    }
    assert str(elsewhere.application.public_id) not in finding.detail


def test_a_platform_that_does_not_share_neither_sees_nor_is_seen(product, product_b, platform_a, platform_b):
    opt_in(platform_b)
    stored(product_b, HASH, buyer_ref="elsewhere")
    new = stored(product, HASH)
    assert near_duplicates(evidence=new, phash=HASH) == []
    later_on_b = stored(product_b, HASH, buyer_ref="later")
    stored(product, HASH, buyer_ref="on-a")
    assert [m.other_platform for m in near_duplicates(evidence=later_on_b, phash=HASH)] == [False]


def test_matches_on_the_own_platform_come_before_another_platforms_at_the_same_distance(
    product, product_b, platform_a, platform_b
):
    opt_in(platform_a, platform_b)
    stored(product_b, HASH, buyer_ref="elsewhere")
    own = stored(product, HASH, buyer_ref="here")
    new = stored(product, HASH)
    matches = near_duplicates(evidence=new, phash=HASH)
    assert [(m.evidence, m.other_platform) for m in matches] == [(own, False), (None, True)]


def test_screening_an_application_reports_another_sharing_platforms_earlier_use(
    product, product_b, platform_a, platform_b
):
    from screening.models import Finding
    from tests.factories import GENUINE_CUP, screen

    opt_in(platform_a, platform_b)
    elsewhere = screen(submit(product_b, evidence=[GENUINE_CUP], buyer_ref="elsewhere"))
    here = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="here"))
    (finding,) = Finding.objects.filter(result__evidence__application=here, code="near_duplicate")
    assert finding.params == {
        "other_platform": True,
        "first_seen": elsewhere.created_at.date().isoformat(),
        "distance": 0,
    }
    assert str(elsewhere.public_id) not in str(finding.params) + finding.detail
