"""Evidence files on the local disk, stored under their content hash, while several requests
store the same new photo at once (the same picture sent to two applications)."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.core.files.base import ContentFile

from refunds.storage import ContentAddressedStorage
from tests.factories import jpeg

NAME = "evidence/ab/cd/abcd.jpg"


@pytest.fixture
def storage(tmp_path) -> ContentAddressedStorage:
    return ContentAddressedStorage(location=tmp_path)


@pytest.mark.timeout(10)
def test_a_request_that_finds_its_photo_stored_meanwhile_keeps_the_stored_one(storage):
    photo = jpeg(seed=1)
    assert storage.save(NAME, ContentFile(photo)) == NAME
    # The second request looked before the first one's file appeared: Django's own save would
    # ask for another name, get the same one back and retry for ever.
    with mock.patch.object(ContentAddressedStorage, "exists", return_value=False):
        assert storage.save(NAME, ContentFile(photo)) == NAME
    assert storage.open(NAME).read() == photo


@pytest.mark.timeout(30)
def test_eight_requests_storing_one_new_photo_at_once_all_get_it_whole(storage, tmp_path):
    photo = jpeg(seed=2, size=(1600, 1200))
    barrier = threading.Barrier(8)
    names: list[str] = []
    seen_sizes: list[int] = []

    def store() -> None:
        barrier.wait()
        names.append(storage.save(NAME, ContentFile(photo)))
        # Whoever finds the name finds the whole photo, never a file still being written.
        seen_sizes.append(storage.size(NAME))

    threads = [threading.Thread(target=store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert names == [NAME] * 8 and seen_sizes == [len(photo)] * 8
    assert storage.open(NAME).read() == photo
    assert [path.name for path in (tmp_path / "evidence/ab/cd").iterdir()] == ["abcd.jpg"]  # no temporary left
