"""A screen showing a product with a coarse printed pattern of its own is called a screen: fringes far
stronger than the reference's own lattice are not that lattice beating with the sensor."""

from __future__ import annotations

from pathlib import Path

from screening.core import analyse_reference, screen_evidence
from screening.core.screen import _DISPLAY_FINE_LIMIT, _LATTICE_LIMIT


def _screened(case: str, tmp_path: Path):
    from bench import camera_path

    seed, index = int(case.split("-")[-4]), int(case.split("-")[-3])
    task = (seed, index, str(tmp_path), camera_path.PRODUCTS_PER_HALF)
    camera_path.write_reference(task)
    (evidence,) = [c["evidence"] for c in camera_path._task(task) if c.get("name") == case]
    (reference,) = tmp_path.glob("ref-*.jpg")
    return screen_evidence(
        Path(evidence).read_bytes(), references=[analyse_reference(reference.read_bytes())], with_artifacts=False
    )


# Source 3's tuning seed 7000, product 1: a gift box whose dotted paper reads as a lattice
# (3.4 times its limit, at 16 px a period), shown on a monitor and photographed. The finer
# plane's fringes reach the picture's border at one frequency and do not fade there; only
# the edge tiles' quarter-size parts stay below their limit, and the lattice once sent it
# to a person.
def test_a_screen_showing_a_gift_box_with_a_dotted_paper_is_derived_by_the_display(tmp_path):
    report = _screened("evasive-screen-giftbox-7000-1-0-scratch", tmp_path)
    derived = report.finding("derived_from_reference")
    assert report.verdict == "derived_from_reference" and derived is not None
    assert derived.params["decided_by"] == "display"
    signals = derived.params["signals"]
    assert signals["lattice"] >= 1.0 and signals["display_edge"] < 1.0
    assert signals["display_reach"] >= 1.0 and signals["display_border"] >= 1.0 and signals["frame"] >= 1.0
    # The fringes outshine the paper's pattern: it cannot have made them.
    assert signals["display_fine"] * _DISPLAY_FINE_LIMIT > 2 * signals["lattice"] * _LATTICE_LIMIT
