"""The accuracy benchmark's own arithmetic and its split."""

from __future__ import annotations

import pytest

from bench import accuracy


def test_the_wilson_interval_of_none_in_fifty_reaches_about_seven_percent():
    lo, hi = accuracy.wilson(0, 50)
    assert lo == 0.0 and hi == pytest.approx(0.0713, abs=1e-3)


def test_the_wilson_interval_is_symmetric_in_successes_and_failures():
    lo, hi = accuracy.wilson(12, 50)
    lo2, hi2 = accuracy.wilson(38, 50)
    assert lo == pytest.approx(1 - hi2) and hi == pytest.approx(1 - lo2)


def test_the_two_halves_share_no_seed():
    seeds = {half: {part.seed for part in parts} for half, parts in accuracy.HALVES.items()}
    assert not seeds["tuning"] & seeds["holdout"]


def test_product_names_are_unique_across_the_parts_of_a_half():
    for parts in accuracy.HALVES.values():
        names = [name for part in parts for name, _ in accuracy.products(part)]
        assert len(names) == len(set(names))


def test_union_iou_of_a_box_with_itself_is_one_and_with_a_disjoint_box_zero():
    assert accuracy.union_iou([(10, 10, 20, 20)], [(10, 10, 20, 20)], 64, 64) == 1.0
    assert accuracy.union_iou([(0, 0, 10, 10)], [(30, 30, 10, 10)], 64, 64) == 0.0


def test_generator_labels_count_and_editor_names_do_not():
    line = {"findings": [{"code": "editing_software", "score": 0.4}]}
    assert not accuracy.is_label(line)
    line["findings"].append({"code": "editing_software", "score": 0.7})
    assert accuracy.is_label(line)


def test_the_first_source_holds_out_a_seed_other_than_the_development_set_s(tmp_path):
    from bench import source_devset

    assert source_devset.SEEDS["tuning"] != source_devset.SEEDS["holdout"]
    cases = source_devset.build_cases(source_devset.SEEDS["holdout"], tmp_path)
    classes = {case["cls"] for case in cases}
    assert {"forgery", "copy", "rephoto", "unrelated"} <= classes
    assert all(cls in accuracy.GOALS for cls in classes)
    derived = [case for case in cases if case["true_reference"]]
    assert derived and all(case["true_reference"] in case["references"] for case in derived)


@pytest.mark.parametrize(
    ("source", "half"),
    [("camera-path", "holdout"), ("camera-path", "tuning"), ("synthetic", "tuning"), ("devset", "tuning")],
)
def test_one_seed_of_a_tuning_half_may_be_built_alone_but_never_a_hold_out(source, half, monkeypatch, capsys):
    holdout = accuracy.half_seeds(source, "holdout")[0]
    monkeypatch.setattr("sys.argv", ["accuracy.py", "--source", source, "--half", half, "--seed", str(holdout)])
    with pytest.raises(SystemExit) as refused:
        accuracy.main()
    assert refused.value.code == 2
    assert "--seed takes a seed of the tuning half" in capsys.readouterr().err


def test_the_seeds_of_a_half_are_those_it_is_built_from():
    from bench import camera_path, source_devset

    assert accuracy.half_seeds("camera-path", "tuning") == camera_path.TUNING_SEEDS
    assert accuracy.half_seeds("devset", "holdout") == (source_devset.SEEDS["holdout"],)
    assert accuracy.half_seeds("synthetic", "holdout") == tuple(p.seed for p in accuracy.HALVES["holdout"])
