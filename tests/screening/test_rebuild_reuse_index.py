"""manage.py rebuild_reuse_index hashes stored evidence as screening does, resumes where it
stopped, redoes everything on --restart and refuses bad arguments with exit code 2."""

import io
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from PIL import Image

from screening import core
from screening.index import SCHEME, near_duplicates, signed
from screening.models import EvidenceFingerprint, ReuseGroup, ReuseKey
from tests.factories import GENUINE_CUP, jpeg, submit

pytestmark = pytest.mark.django_db


def rebuild(*args):
    out, err = StringIO(), StringIO()
    with translation.override("en"):
        call_command("rebuild_reuse_index", *args, stdout=out, stderr=err)
    return out.getvalue()


def engine_hash(evidence):
    with evidence.file.open("rb") as handle:
        return core.perceptual_hash(core.decode_image(handle.read()))


def test_stored_evidence_is_hashed_as_screening_hashes_it(product):
    evidence = submit(product, evidence=[jpeg(seed=1), jpeg(seed=2)]).evidence.all()
    assert "2 images hashed" in rebuild()
    for item in evidence:
        fingerprint = EvidenceFingerprint.objects.get(evidence=item)
        assert (fingerprint.phash, fingerprint.scheme) == (signed(engine_hash(item)), SCHEME)
    assert ReuseGroup.objects.count() == 2


def test_a_rebuilt_index_finds_a_reused_photo(product):
    earlier = submit(product, evidence=[jpeg(seed=7)], buyer_ref="first").evidence.get()
    later = submit(product, evidence=[jpeg(seed=7)], buyer_ref="second").evidence.get()
    rebuild()
    assert [m.evidence for m in near_duplicates(evidence=later, phash=engine_hash(later))] == [earlier]


def cropped(data):
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    image.crop((image.width // 10, image.height // 10, image.width, image.height)).save(out, "JPEG", quality=85)
    return out.getvalue()


def test_a_rebuilt_index_finds_a_cropped_photo_by_its_keypoints(product):
    earlier = submit(product, evidence=[GENUINE_CUP], buyer_ref="first").evidence.get()
    later = submit(product, evidence=[cropped(GENUINE_CUP)], buyer_ref="second").evidence.get()
    rebuild()
    assert ReuseKey.objects.filter(group__phash=signed(engine_hash(earlier))).exists()
    with later.file.open("rb") as handle:
        features = core.evidence_reuse_features(core.decode_image(handle.read()))
    (match,) = near_duplicates(evidence=later, phash=engine_hash(later), features=features)
    assert match.evidence == earlier and match.points >= 12


def test_restart_gives_the_groups_their_keypoints_again(product):
    submit(product, evidence=[GENUINE_CUP])
    rebuild()
    keys = set(ReuseKey.objects.values_list("key", flat=True))
    rebuild("--restart")
    assert set(ReuseKey.objects.values_list("key", flat=True)) == keys and keys
    assert ReuseGroup.objects.exclude(keypoints=b"").count() == 1


def test_a_second_run_skips_what_is_current(product):
    submit(product, evidence=[jpeg(seed=1)])
    rebuild()
    assert "0 images hashed" in rebuild()


def test_images_of_an_older_scheme_are_redone_and_their_stale_groups_dropped(product):
    evidence = submit(product, evidence=[jpeg(seed=3)]).evidence.get()
    rebuild()
    EvidenceFingerprint.objects.filter(evidence=evidence).update(scheme=1, phash=12345)
    ReuseGroup.objects.create(
        platform=product.merchant.platform,
        phash=12345,
        band0=0,
        band1=0,
        band2=0,
        band3=0,
        first_seen=evidence.created_at,
    )
    output = rebuild()
    assert "1 images hashed" in output and "1 empty groups removed" in output
    assert EvidenceFingerprint.objects.get(evidence=evidence).phash == signed(engine_hash(evidence))


def test_restart_redoes_every_image(product):
    submit(product, evidence=[jpeg(seed=1), jpeg(seed=2)])
    rebuild()
    assert "2 images hashed" in rebuild("--restart")


def test_an_unreadable_file_is_counted_and_the_run_goes_on(product):
    application = submit(product, evidence=[jpeg(seed=1), jpeg(seed=2)])
    broken = application.evidence.first()
    # A file of its own (stored files are shared by content with other tests), removed after.
    broken.file.save(f"broken-{broken.public_id}.jpg", ContentFile(b"not an image"), save=True)
    try:
        output = rebuild()
    finally:
        broken.file.delete(save=False)
    assert "1 images hashed, 1 unreadable" in output


def test_the_summary_is_in_the_operators_language(product):
    submit(product, evidence=[jpeg(seed=1)])
    out = StringIO()
    with translation.override("zh-hans"):
        call_command("rebuild_reuse_index", stdout=out, stderr=StringIO())
    assert "已计算 1 张图片的哈希" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--platform", "nowhere"], "No platform with the slug nowhere"),
    ],
)
def test_bad_arguments_are_refused_with_exit_code_2(args, message):
    with pytest.raises(CommandError, match=message) as raised, translation.override("en"):
        rebuild(*args)
    assert raised.value.returncode == 2


def test_its_help_is_in_the_operators_language():
    from screening.management.commands.rebuild_reuse_index import Command

    with translation.override("en"):
        assert "reuse index" in Command().create_parser("manage.py", "rebuild_reuse_index").format_help()
    with translation.override("zh-hans"):
        assert "复用索引" in Command().create_parser("manage.py", "rebuild_reuse_index").format_help()
