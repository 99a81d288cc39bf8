"""A copy of a picture in a few flat colours is derived from its catalogue JPEG: the colour map keeps its rare colours."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bench import camera_path
from screening.core import FindingCode, analyse_reference, screen_evidence


# Source 3's tuning seed 9000: the phantom (four flat colours, a yellow rim) and the horse
# silhouette, each copied as the catalogue picture itself (a PNG) beside its catalogue JPEG.
@pytest.mark.parametrize("index", [32, 16])
def test_a_copy_of_a_flat_shaded_picture_is_derived_from_its_catalogue_jpeg(index):
    product = camera_path.make_product(9000, index)
    reference = io.BytesIO()
    Image.fromarray(product.image).save(reference, "JPEG", quality=92)
    copy = io.BytesIO()
    Image.fromarray(product.image).save(copy, "PNG")
    report = screen_evidence(
        copy.getvalue(), references=[analyse_reference(reference.getvalue())], with_artifacts=False
    )
    assert report.verdict == "derived_from_reference"
    assert report.finding(FindingCode.DERIVED_FROM_REFERENCE).score >= 0.9
