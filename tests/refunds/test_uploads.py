"""Upload validation decodes every byte of a JPEG even at reduced scale: damage is still refused."""

import pytest

from bench.api import one_megabyte_jpeg
from refunds.errors import UploadRejected
from refunds.integration.uploads import validate_image
from tests.factories import upload


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9, 0.99])
def test_a_truncated_jpeg_is_refused(cut):
    data = one_megabyte_jpeg()
    with pytest.raises(UploadRejected):
        validate_image(upload(data[: int(len(data) * cut)]))


def test_a_jpeg_with_corrupt_entropy_coded_data_is_refused():
    data = bytearray(one_megabyte_jpeg())
    start = data.find(b"\xff\xda")
    for i in range(start + 600, start + 5000, 7):
        data[i] = 0xFF if data[i] != 0xFF else 0x00
    with pytest.raises(UploadRejected):
        validate_image(upload(bytes(data)))
