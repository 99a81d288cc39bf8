"""Every finding code the engine owns is explained to reviewers, in both languages."""

from __future__ import annotations

from django.utils import translation

from screening.core import FINDING_CODES, FindingCode, ReuseKind
from screening.messages import EXPLAINERS, LABELS, explain, label, merchant_words


def test_every_finding_code_has_an_explanation():
    assert set(EXPLAINERS) == set(FINDING_CODES)


def test_every_finding_code_has_a_short_name_in_both_languages():
    assert set(LABELS) == set(FINDING_CODES)
    for code in FINDING_CODES:
        with translation.override("zh-hans"):
            chinese = label(code)
        with translation.override("en"):
            assert label(code) != code and chinese != label(code), code


def test_every_finding_code_has_a_merchants_words_in_both_languages():
    for code in FINDING_CODES:
        with translation.override("zh-hans"):
            chinese = merchant_words(code, {})
        with translation.override("en"):
            english = merchant_words(code, {})
        assert english and chinese and chinese != english, code


def test_a_reused_photo_is_told_apart_for_the_merchant():
    with translation.override("en"):
        edited = merchant_words(FindingCode.NEAR_DUPLICATE, {"kind": ReuseKind.EDITED})
        assert "changes" in edited and edited != merchant_words(FindingCode.NEAR_DUPLICATE, {})


def test_malformed_metadata_is_explained_in_chinese_and_english():
    params = {"problems": ["the EXIF IFD0 claims 65535 entries (786426 bytes) but only 60 bytes remain"]}
    with translation.override("zh-hans"):
        zh = explain(FindingCode.MALFORMED_METADATA, params, fallback="?")
    with translation.override("en"):
        en = explain(FindingCode.MALFORMED_METADATA, params, fallback="?")
    assert "元数据" in zh and "1" in zh
    assert en.startswith("The image's metadata is structurally damaged (1 problem(s) found)")


def test_an_unknown_code_falls_back_to_the_engine_detail():
    assert explain("something_new", {}, fallback="engine text") == "engine text"


def test_a_photographed_screen_is_explained_as_one_in_chinese_and_english():
    params = {"explained": 0.2, "decided_by": "display"}
    with translation.override("zh-hans"):
        zh = explain(FindingCode.DERIVED_FROM_REFERENCE, params, fallback="?")
    with translation.override("en"):
        en = explain(FindingCode.DERIVED_FROM_REFERENCE, params, fallback="?")
    assert "屏幕" in zh and "摩尔纹" in zh
    assert en.startswith("The image is a photograph of a screen")


def test_a_resemblance_is_explained_as_no_copy_in_chinese_and_english():
    params = {"explained": 0.31, "reference_index": 0, "signals": {"agreement": 0.31}}
    with translation.override("zh-hans"):
        zh = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    with translation.override("en"):
        en = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    assert "相似" in zh and "31%" in zh and "人工比对" in zh
    assert en.startswith("The image resembles a reference image") and "31%" in en and "person should compare" in en


def test_fine_fringes_are_explained_as_a_question_for_a_person_not_as_a_screen():
    params = {"reference_index": 0, "decided_by": "display_fine", "signals": {"display_fine": 1.4}}
    with translation.override("zh-hans"):
        zh = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    with translation.override("en"):
        en = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    assert "摩尔纹" in zh and "人工比对" in zh
    assert "moiré" in en and "weave" in en and "photograph of a screen showing" not in en


def test_a_product_on_a_table_is_explained_as_a_new_photograph_for_a_person():
    params = {"reference_index": 0, "decided_by": "on_a_table", "signals": {"surround": 0.8, "agreement": 0.9}}
    with translation.override("zh-hans"):
        zh = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    with translation.override("en"):
        en = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    assert "相似" in zh and "20%" in zh and "人工比对" in zh
    assert en.startswith("The image resembles a reference image") and "20%" in en and "lying on a table" in en
    assert "copy" not in en


def test_a_product_on_a_table_seen_at_an_angle_is_explained_by_its_angle_not_its_light():
    params = {
        "reference_index": 0,
        "decided_by": "on_a_table",
        "signals": {"surround": 0.86, "light": 0.26, "foreshortened": 0.13},
    }
    with translation.override("zh-hans"):
        zh = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    with translation.override("en"):
        en = explain(FindingCode.RESEMBLES_REFERENCE, params, fallback="?")
    assert "14%" in zh and "斜着拍摄" in zh and "人工比对" in zh
    assert "seen at an angle" in en and "14%" in en and "light" not in en


def test_every_two_view_verdict_has_words_in_both_languages():
    from screening.core import VIEW_PAIR_VERDICTS
    from screening.messages import VIEW_PAIR_WORDS, view_pair_words

    assert set(VIEW_PAIR_WORDS) == set(VIEW_PAIR_VERDICTS)
    for verdict in VIEW_PAIR_VERDICTS:
        result = {"verdict": verdict.value, "damage_in_both": None, "explanation": "engine"}
        with translation.override("zh-hans"):
            chinese = view_pair_words(result)
        with translation.override("en"):
            english = view_pair_words(result)
        assert english != "engine" and chinese != english, verdict


def test_the_two_view_words_say_whether_the_damage_is_in_both_photos():
    from screening.messages import view_pair_words

    with translation.override("zh-hans"):
        missing = view_pair_words({"verdict": "flat", "damage_in_both": False})
    with translation.override("en"):
        present = view_pair_words({"verdict": "consistent_3d", "damage_in_both": True})
        unknown = view_pair_words({"verdict": "from_a_later_engine", "explanation": "engine words"})
    assert "平面" in missing and "不存在" in missing
    assert present.endswith("The damage appears in both photos at the same place.")
    assert unknown == "engine words"
