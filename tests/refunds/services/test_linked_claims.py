"""Reused photos: what was reused, said honestly, and the applications they link, stored as groups."""

import io

import pytest
from django.utils import translation
from PIL import Image

from refunds import selectors
from refunds.models import ClaimGroup, ClaimGroupMember
from screening import core
from screening.index import near_duplicates
from screening.models import ReuseLink
from tests.factories import CUP, FORGED_CUP, GENUINE_CUP, jpeg, make_product, rephotographed, screen, submit

pytestmark = pytest.mark.django_db


def recompressed(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).resize((700, 525)).save(out, "JPEG", quality=70)
    return out.getvalue()


def reuse_of(application):
    finding = application.evidence.get().screening.findings.get(code="near_duplicate")
    return finding.params["kind"], finding


def test_the_same_file_sent_again_is_called_the_same_file(product):
    first = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="second"))
    kind, finding = reuse_of(second)
    assert kind == "same_file" and finding.score == 1.0
    assert finding.params["application"] == str(first.public_id)
    with translation.override("en"):
        assert "very file" in finding.explanation


def test_a_re_saved_copy_is_the_same_picture_re_encoded(product):
    screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[recompressed(GENUINE_CUP)], buyer_ref="second"))
    kind, finding = reuse_of(second)
    assert kind == "re_encoded" and not finding.regions
    with translation.override("en"):
        assert "re-encoded" in finding.explanation


def test_an_earlier_photo_sent_again_with_painted_damage_is_a_reuse_with_an_edit(product):
    # The catalogue photo was sent back with one claim; the next claim paints a crack into it.
    # Both hash alike, so "the same photo" would hide exactly what matters.
    screen(submit(product, evidence=[CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[FORGED_CUP], buyer_ref="second"))
    kind, finding = reuse_of(second)
    assert kind == "edited"
    assert finding.regions and all(len(box) == 4 for box in finding.regions)
    link = ReuseLink.objects.get(evidence=second.evidence.get())
    assert (link.kind, link.regions) == ("edited", finding.regions)


def test_a_reused_photo_links_claims_across_buyers_and_shops_in_one_stored_group(product, other_merchant):
    other_shop = make_product(other_merchant, ref="sku-9")
    first = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first", amount="10.00"))
    second = screen(submit(other_shop, evidence=[GENUINE_CUP], buyer_ref="second", amount="20.00"))
    group = selectors.linked_claims(second)
    assert [(m.application.pk, m.relation) for m in group.members] == [(first.pk, "same_file")]
    assert str(group.claimed["CNY"]) == "30.00"
    assert (
        ClaimGroupMember.objects.get(application=first).group == ClaimGroupMember.objects.get(application=second).group
    )


def test_unrelated_photos_link_nothing(product):
    first = screen(submit(product, evidence=[jpeg(seed=1)], buyer_ref="first"))
    second = screen(submit(product, evidence=[jpeg(seed=2)], buyer_ref="second"))
    assert selectors.linked_claims(first) is None and selectors.linked_claims(second) is None
    assert not ClaimGroup.objects.exists()


def test_an_application_that_reuses_photos_of_two_groups_merges_them(product):
    a = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="a"))
    b = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="b"))
    c = screen(submit(product, evidence=[jpeg(seed=7)], buyer_ref="c"))
    d = screen(submit(product, evidence=[jpeg(seed=7)], buyer_ref="d"))
    assert ClaimGroup.objects.count() == 2
    e = screen(submit(product, evidence=[GENUINE_CUP, jpeg(seed=7)], buyer_ref="e"))
    assert ClaimGroup.objects.count() == 1
    group = selectors.linked_claims(e)
    assert {m.application.pk for m in group.members} == {a.pk, b.pk, c.pk, d.pk}
    # e reused images of a and c directly (the closest earlier ones); b and d through the group.
    relations = {m.application.pk: m.relation for m in group.members}
    assert relations[a.pk] == relations[c.pk] == "same_file"
    # The index answers once per group of identical images (its earliest), so b, another copy
    # of a's photo, is reached through the group like d.
    assert relations[b.pk] == relations[d.pk] == "through_group"
    assert selectors.linked_claims(b).members


def test_another_platforms_application_never_joins_a_group(product, product_b):
    screen(submit(product_b, evidence=[GENUINE_CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="second"))
    assert selectors.linked_claims(second) is None


def cropped_and_turned(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    dx, dy = image.width // 10, image.height // 10
    out = io.BytesIO()
    image.crop((dx, dy, image.width - dx, image.height - dy)).rotate(2, resample=Image.BICUBIC).save(
        out, "JPEG", quality=85
    )
    return out.getvalue()


def test_a_cropped_and_turned_copy_is_the_same_picture_found_by_its_keypoints(product, other_merchant):
    first = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    other_shop = make_product(other_merchant, ref="sku-9")
    second = screen(submit(other_shop, evidence=[cropped_and_turned(GENUINE_CUP)], buyer_ref="second"))
    kind, finding = reuse_of(second)
    assert kind == "re_encoded" and not finding.regions
    assert finding.params["application"] == str(first.public_id) and finding.params["points"] >= 12
    assert finding.score > 0.5
    assert ReuseLink.objects.get(evidence=second.evidence.get()).points == finding.params["points"]
    with translation.override("en"):
        assert "points agree on one geometric transform" in finding.explanation
    with translation.override("zh-hans"):
        assert "几何变换" in finding.explanation


def test_a_cropped_and_turned_copy_with_painted_damage_is_a_reuse_with_an_edit(product):
    screen(submit(product, evidence=[CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[cropped_and_turned(FORGED_CUP)], buyer_ref="second"))
    kind, finding = reuse_of(second)
    assert kind == "edited" and finding.regions


def test_an_honest_photograph_of_the_same_printed_picture_is_not_a_reuse(product):
    # Printed and photographed anew in another scene: enough keypoints agree on one transform
    # for the index to offer it, but its pixels are not the earlier picture's.
    first = screen(submit(product, evidence=[CUP], buyer_ref="first")).evidence.get()
    honest = rephotographed("coffee", background="brick", seed=0)
    second = screen(submit(product, evidence=[honest], buyer_ref="second")).evidence.get()
    decoded = core.decode_image(honest)
    offered = near_duplicates(
        evidence=second, phash=core.perceptual_hash(decoded), features=core.evidence_reuse_features(decoded)
    )
    assert [(m.evidence, m.points >= 12) for m in offered] == [(first, True)]
    assert not second.screening.findings.filter(code="near_duplicate").exists()
    assert not ReuseLink.objects.filter(evidence=second).exists()


def test_an_earlier_photo_is_analysed_once_for_every_later_claim_compared_with_it(product, monkeypatch):
    from screening import services

    monkeypatch.setattr(services, "earlier_evidence_cache", services._AnalysisCache(16))
    analysed_earlier = []
    analyse = core.analyse_reference
    monkeypatch.setattr(
        core, "analyse_reference", lambda data: analysed_earlier.append(data == GENUINE_CUP) or analyse(data)
    )
    first = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    later = [screen(submit(product, evidence=[recompressed(GENUINE_CUP)], buyer_ref=f"later-{n}")) for n in range(2)]

    # Both later claims were compared with the first photo in pixels, which was analysed once.
    assert [reuse_of(application)[0] for application in later] == ["re_encoded", "re_encoded"]
    assert all(
        ReuseLink.objects.filter(evidence=application.evidence.get(), earlier=first.evidence.get()).exists()
        for application in later
    )
    assert analysed_earlier.count(True) == 1


def test_a_claim_compared_with_earlier_photos_is_decoded_once_for_its_screening_and_every_comparison(
    product, monkeypatch
):
    # Decoding a 12 MP photograph costs as much as a tenth of its screening; the reuse check
    # compares the image screening decoded instead of decoding the file again.
    from screening.core import screen as engine

    screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    screen(submit(product, evidence=[recompressed(GENUINE_CUP)], buyer_ref="second"))
    third = recompressed(recompressed(GENUINE_CUP))
    decoded_third = []
    for module in (core, engine):
        monkeypatch.setattr(
            module,
            "decode_image",
            lambda data, _real=module.decode_image, **limits: (
                decoded_third.append(data == third) or _real(data, **limits)
            ),
        )

    later = screen(submit(product, evidence=[third], buyer_ref="third"))

    # Compared in pixels with an earlier photo, and decoded once.
    assert ReuseLink.objects.filter(evidence=later.evidence.get()).exclude(kind="same_file").exists()
    assert decoded_third.count(True) == 1
