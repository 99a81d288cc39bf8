"""Forgeries of a mesh product whose lattice the working plane's resampling keeps on one
plane only: the second, low-passed comparison finds the copy the plain one missed.

Source 3's tuning-half mesh (seed 8600, product 5) has a period of about 2 pixels on the
working plane. Enlarged, painted and recompressed as that source's forgers do, its crack and
tear forgeries read as new photographs to the plain comparison (the fine detail unreadable,
the light unmeasurable) although they align; low-passed below the lattice, they are copies.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import camera_path, synthetic
from screening.core import analyse_reference, screen_evidence


@pytest.fixture(scope="module")
def mesh_forgeries() -> dict[str, bytes]:
    """The product's forgeries drawn from its own stream 3, one kind after another."""
    product = camera_path.make_product(8600, 5)
    rng = np.random.default_rng([8600, 5, 3])
    files = {}
    for kind in ("scratch", "stain", "crack", "tear"):
        edited, mask = camera_path.forged(product, kind, rng)
        image, _ = camera_path._crop_keep(edited, mask, rng, 0.02)
        files[kind], _, _ = camera_path.encode(image, rng, (82, 95))
    return files


@pytest.fixture(scope="module")
def mesh_reference():
    return analyse_reference(synthetic.jpeg(camera_path.make_product(8600, 5).image, 92))


@pytest.mark.parametrize("kind", ["crack", "tear"])
def test_a_forgery_of_a_fine_mesh_is_found_derived(mesh_forgeries, mesh_reference, kind):
    report = screen_evidence(mesh_forgeries[kind], references=[mesh_reference])
    assert report.verdict == "derived_from_reference"
