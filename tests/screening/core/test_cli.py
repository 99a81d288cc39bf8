"""The CLI contract of docs/design.md section 4: `python -m screening check|batch`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from screening.core.cli import main

ROOT = Path(__file__).resolve().parents[3]
KEYS = {"file", "verdict", "risk", "findings", "reference", "ms"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "screening", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_check_prints_one_contract_line_per_evidence_in_input_order(dev_set, tmp_path):
    forgery = next(s for s in dev_set.of_kind("forgery") if s.reference == 0)
    unrelated = dev_set.of_kind("unrelated")[0]
    bad = tmp_path / "not-an-image.png"
    bad.write_text("<html><body>hello</body></html>")
    ref0 = dev_set.directory / f"ref-{dev_set.references[0][0]}.jpg"
    ref1 = dev_set.directory / f"ref-{dev_set.references[1][0]}.jpg"
    evidence = [
        dev_set.directory / f"{forgery.name}.jpg",
        bad,
        dev_set.directory / f"{unrelated.name}.jpg",
        tmp_path / "missing.jpg",
    ]
    result = _run("check", "--reference", str(ref1), "--reference", str(ref0), *map(str, evidence))
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert [line["file"] for line in lines] == [str(p) for p in evidence]
    assert all(set(line) == KEYS for line in lines)
    assert lines[0]["verdict"] == "derived_from_reference" and lines[0]["reference"] == str(ref0)
    assert lines[1]["verdict"] == "unreadable" and lines[1]["findings"][0]["code"] == "unreadable"
    assert lines[2]["verdict"] == "consistent" and lines[2]["reference"] is None
    assert lines[3]["verdict"] == "unreadable"
    for line in lines:
        assert 0.0 <= line["risk"] <= 1.0 and line["ms"] >= 0
        for finding in line["findings"]:
            assert set(finding) == {"code", "score", "detail", "regions"}
            assert all(len(region) == 4 for region in finding["regions"])


def test_check_exits_with_2_for_a_missing_reference_and_writes_no_line(dev_set):
    result = _run(
        "check", "--reference", "/nonexistent/ref.jpg", str(dev_set.directory / f"{dev_set.samples[0].name}.jpg")
    )
    assert result.returncode == 2
    assert "reference" in result.stderr and result.stdout == ""


def test_check_exits_with_2_without_evidence(dev_set):
    result = _run("check", "--reference", str(dev_set.directory / f"ref-{dev_set.references[0][0]}.jpg"))
    assert result.returncode == 2 and "no evidence" in result.stderr


def test_batch_exits_with_2_for_an_unreadable_manifest_line(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"evidence": "a.jpg", "references": []}\nthis is not json\n')
    out, err = io.StringIO(), io.StringIO()
    assert main(["batch", str(manifest)], out=out, err=err) == 2
    assert ":2:" in err.getvalue() and out.getvalue() == ""


def test_batch_exits_with_2_for_a_missing_manifest(tmp_path):
    err = io.StringIO()
    assert main(["batch", str(tmp_path / "nope.jsonl")], out=io.StringIO(), err=err) == 2


def test_batch_screens_every_line_in_order_across_processes(dev_set, tmp_path):
    picked = (
        dev_set.of_kind("forgery")[:4]
        + dev_set.of_kind("rephoto")[:2]
        + dev_set.of_kind("reuse")[:2]
        + dev_set.of_kind("unrelated")[:2]
    )
    manifest = tmp_path / "m.jsonl"
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    rows = [
        {
            "evidence": str(dev_set.directory / f"{s.name}.jpg"),
            "references": [str(dev_set.directory / f"ref-{dev_set.references[i][0]}.jpg") for i in s.candidates],
        }
        for s in picked
    ]
    rows.insert(3, {"evidence": str(bad), "references": rows[0]["references"]})
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = io.StringIO()
    assert main(["batch", str(manifest), "--jobs", "2"], out=out) == 0
    lines = _lines(out.getvalue())
    assert [line["file"] for line in lines] == [r["evidence"] for r in rows]
    assert lines[3]["verdict"] == "unreadable"
    del lines[3]
    for s, line in zip(picked, lines):
        expected = dev_set.reports[s.name]
        assert line["verdict"] == expected.verdict, s.name
        if expected.reference_index is not None:
            assert line["reference"].endswith(
                f"ref-{dev_set.references[s.candidates[expected.reference_index]][0]}.jpg"
            )


def test_check_exits_with_2_for_a_reference_that_is_not_an_image(dev_set, tmp_path):
    fake = tmp_path / "ref.jpg"
    fake.write_text("not an image")
    err = io.StringIO()
    code = main(
        ["check", "--reference", str(fake), str(dev_set.directory / f"{dev_set.samples[0].name}.jpg")],
        out=io.StringIO(),
        err=err,
    )
    assert code == 2 and "not a readable image" in err.getvalue()


# --- views: the two-view check ----------------------------------------------------------------


def _stereo_pair(tmp_path: Path) -> tuple[Path, Path]:
    from bench import synthetic

    left, right = tmp_path / "left.jpg", tmp_path / "right.jpg"
    left.write_bytes(synthetic.jpeg(synthetic.photo("motorcycle")))
    right.write_bytes(synthetic.jpeg(synthetic.photo("motorcycle_right")))
    return left, right


def test_views_prints_one_json_object_for_two_photos_of_a_real_scene(tmp_path):
    left, right = _stereo_pair(tmp_path)
    result = _run("views", str(left), str(right), "--damage-box", "300,200,60,60")
    assert result.returncode == 0, result.stderr
    (line,) = _lines(result.stdout)
    assert line["first"] == str(left) and line["second"] == str(right)
    assert line["verdict"] == "consistent_3d" and line["matches"] > 0
    assert isinstance(line["damage_in_both"], bool) and line["ms"] >= 0
    assert set(line) == {
        "first",
        "second",
        "verdict",
        "matches",
        "homography_inlier_share",
        "parallax_px",
        "damage_in_both",
        "explanation",
        "ms",
    }


def test_views_reports_an_undecodable_photo_as_a_result_not_an_error(tmp_path):
    left, _ = _stereo_pair(tmp_path)
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_text("<html>hello</html>")
    out, err = io.StringIO(), io.StringIO()
    assert main(["views", str(left), str(bad)], out=out, err=err) == 0
    assert json.loads(out.getvalue())["verdict"] == "unreadable" and err.getvalue() == ""


@pytest.mark.parametrize("box", ["1,2,3", "a,b,c,d", "10,10,0,5", "-1,0,5,5", "1,2,3,4,5"])
def test_views_exits_with_2_for_a_malformed_damage_box_and_prints_nothing(tmp_path, box):
    left, right = _stereo_pair(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["views", str(left), str(right), f"--damage-box={box}"], out=out, err=err) == 2
    assert "--damage-box" in err.getvalue() and out.getvalue() == ""


def test_views_exits_with_2_for_a_missing_photo(tmp_path):
    left, _ = _stereo_pair(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["views", str(left), str(tmp_path / "nope.jpg")], out=out, err=err) == 2
    assert "nope.jpg" in err.getvalue() and out.getvalue() == ""


def test_views_exits_with_2_with_only_one_photo(tmp_path):
    left, _ = _stereo_pair(tmp_path)
    assert main(["views", str(left)], out=io.StringIO(), err=io.StringIO()) == 2
