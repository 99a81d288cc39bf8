"""A mesh photographed honestly is not called a screen showing another product printed with the same artwork:
fringes that vanish against the mesh's own reference are its lattice, not a display's grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screening.core import analyse_reference, screen_evidence
from screening.core.display import Fringes, shared_fringes


def _screened(case: str, *, seed: int, product: int, references: tuple[int, ...], tmp_path: Path):
    """Screen source 3's `case` (of `product` on `seed`) against the references of the products `references`."""
    from bench import camera_path

    analysed = []
    for other in references:
        camera_path.write_reference((seed, other, str(tmp_path), camera_path.PRODUCTS_PER_HALF))
        (path,) = tmp_path.glob(f"ref-*-{seed}-{other}.jpg")
        analysed.append(analyse_reference(path.read_bytes()))
    task = (seed, product, str(tmp_path), camera_path.PRODUCTS_PER_HALF)
    (evidence,) = [c["evidence"] for c in camera_path._task(task) if c.get("name") == case]
    return screen_evidence(Path(evidence).read_bytes(), references=analysed, with_artifacts=False)


# Source 3's tuning seed 9100: meshes 13 and 21 are printed with one artwork at different
# pitches. The honest photograph of mesh 21 aligns with both references; against mesh 13's
# its own lattice reads 58 times the finer plane's limit and reaches the border, as a screen's
# grid does, and was called a photograph of a screen showing mesh 13's catalogue photo.
# Against its own reference none of those fringes shows.
def test_a_mesh_photographed_honestly_is_not_a_screen_showing_a_mesh_of_the_same_artwork(tmp_path):
    report = _screened("textured-mesh-9100-21-0", seed=9100, product=21, references=(13, 21), tmp_path=tmp_path)
    assert report.verdict != "derived_from_reference"
    assert report.finding("derived_from_reference") is None


# A reference with a lattice of its own explains nothing where it is called a screen itself:
# a screen showing mesh 13's forgery, aligned with a picture printed with the same artwork and
# with mesh 13's own reference, shows a screen's fringes against both, and stays derived.
def test_a_screen_showing_a_mesh_forgery_stays_derived_beside_a_picture_of_the_same_artwork(tmp_path):
    report = _screened(
        "evasive-screen-mesh-9100-13-0-scratch", seed=9100, product=13, references=(13, 0), tmp_path=tmp_path
    )
    derived = report.finding("derived_from_reference")
    assert report.verdict == "derived_from_reference" and derived is not None
    assert derived.params["decided_by"] == "display"


def _fringes(*tiles: tuple[int, int, int, int]) -> Fringes:
    cells = np.array([t[:2] for t in tiles], int).reshape(-1, 2)
    freq = np.array([t[2:] for t in tiles], int).reshape(-1, 2)
    return Fringes(cells, freq, 2)


def test_fringes_share_themselves_wholly_and_nothing_with_a_reading_without_fringes():
    fringes = _fringes((3, 4, 5, -7), (3, 5, 5, -6), (4, 4, -5, 7))
    assert shared_fringes(fringes, fringes) == 1.0
    assert shared_fringes(fringes, None) == 0.0
    assert np.isnan(shared_fringes(_fringes(), fringes))


def test_fringes_elsewhere_or_at_another_frequency_are_not_shared():
    fringes = _fringes((3, 4, 5, -7), (3, 5, 5, -6))
    # The same frequency negated is the same fringe; a tile elsewhere, or far off in frequency, is not.
    assert shared_fringes(fringes, _fringes((3, 4, -5, 7), (9, 9, 5, -6))) == 0.5
    assert shared_fringes(fringes, _fringes((3, 4, 12, -7), (3, 5, 5, 3))) == 0.0
