"""Media on S3-compatible storage: a real S3 server on loopback (moto's server mode), the
worker screening from it, reviewers and merchants downloading through the application, the
dossier copying from it, and readiness noticing when it goes away."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings
from moto.server import ThreadedMotoServer

from refunds.models import Evidence, MerchantMember, RefundApplication
from refunds.services import Actor
from refunds.services.dossier import Audience, application_dossier_generate
from refunds.states import ActorKind, ApplicationState, RiskLevel
from reviewhub.media import s3_storage
from screening.models import Finding
from tests.conftest import wait_for
from tests.factories import FORGED_CUP, GENUINE_CUP, upload
from tests.refunds.api.test_applications import client_with, form, post
from tests.refunds.services.test_dossier import rejected

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class S3:
    server: ThreadedMotoServer
    client: object
    bucket: str
    stopped: bool = False

    def keys(self, prefix: str = "") -> set[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return {item["Key"] for item in listing.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def stop(self) -> None:
        self.server.stop()
        # shutdown() leaves the socket listening: close it so clients are refused at once.
        self.server._server.server_close()
        self.stopped = True


@pytest.fixture
def s3(monkeypatch, tmp_path) -> object:
    """A private bucket on an S3 server of this test's own, the media storage while the test runs."""
    # The S3 server's access log would drown the test's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # Credentials come from the standard AWS variables, as in production; moto takes any.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "reviewhub-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "reviewhub-test-secret")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    # moto keeps its buckets per process, not per server: a bucket of each test's own.
    bucket = f"reviewhub-media-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    storage = s3_storage(bucket=bucket, endpoint_url=endpoint, region="us-east-1", connect_timeout=1, read_timeout=2)
    handle = S3(server, client, bucket)
    try:
        # A local media folder of its own, to show that nothing lands on this host's disk.
        local = tmp_path / "media"
        with override_settings(STORAGES={**settings.STORAGES, "default": storage}, MEDIA_ROOT=local):
            yield handle
    finally:
        if not handle.stopped:
            handle.stop()


def submitted_through_the_api(product, key_a, *images: bytes) -> RefundApplication:
    response = post(client_with(key_a), form(product, *(upload(image) for image in images)))
    assert response.status_code == 201, response.json()
    return RefundApplication.objects.get(public_id=response.json()["id"])


def screened(application: RefundApplication) -> RefundApplication:
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).state != ApplicationState.SUBMITTED)
    return RefundApplication.objects.get(pk=application.pk)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_evidence_uploaded_through_the_api_is_screened_by_the_worker_from_the_bucket(s3, celery_worker, product, key_a):
    application = screened(submitted_through_the_api(product, key_a, GENUINE_CUP, FORGED_CUP))
    assert application.state == ApplicationState.AWAITING_MERCHANT
    assert application.risk_level == RiskLevel.FORGED
    evidence = list(application.evidence.order_by("position"))
    assert all(item.screening.completed for item in evidence)
    # The files live in the bucket under their content hash, and not on this host's disk.
    for item in evidence:
        assert item.file.name.startswith("evidence/") and item.file.name in s3.keys("evidence/")
    assert s3.read(evidence[0].file.name) == GENUINE_CUP
    assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]
    heatmaps = Finding.objects.filter(result__evidence__application=application).exclude(artifact="")
    assert heatmaps and all(finding.artifact.name in s3.keys() for finding in heatmaps)


def test_the_same_bytes_sent_twice_are_one_object(s3, celery_worker, product, key_a):
    first = screened(submitted_through_the_api(product, key_a, GENUINE_CUP))
    second = screened(submitted_through_the_api(product, key_a, GENUINE_CUP))
    assert first.evidence.get().file.name == second.evidence.get().file.name
    assert len(s3.keys("evidence/")) == 1


def test_reviewers_and_the_owning_shop_download_files_streamed_from_the_bucket_with_safe_headers(
    s3, celery_worker, product, key_a, client, reviewer, merchant_owner, other_merchant
):
    application = screened(submitted_through_the_api(product, key_a, FORGED_CUP))
    evidence = application.evidence.get()
    heatmap = Finding.objects.filter(result__evidence=evidence).exclude(artifact="").first()
    assert heatmap is not None

    client.force_login(reviewer)
    for url, expected in (
        (f"/files/evidence/{evidence.public_id}", FORGED_CUP),
        (f"/files/heatmap/{heatmap.public_id}", s3.read(heatmap.artifact.name)),
    ):
        response = client.get(url)
        assert response.status_code == 200
        # Streamed by the application, not a redirect to the bucket.
        assert response.streaming and body(response) == expected
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"

    client.force_login(merchant_owner)
    response = client.get(f"/files/evidence/{evidence.public_id}")
    assert response.status_code == 200 and body(response) == FORGED_CUP

    stranger = User.objects.create_user("stranger", password="pw-stranger")
    MerchantMember.objects.create(user=stranger, merchant=other_merchant, role=MerchantMember.Role.OWNER)
    client.force_login(stranger)
    assert client.get(f"/files/evidence/{evidence.public_id}").status_code == 404
    assert client.get(f"/files/heatmap/{heatmap.public_id}").status_code == 404


def test_the_dossier_carries_the_files_from_the_bucket_byte_for_byte(
    s3, celery_worker, product, key_a, reviewer, tmp_path
):
    from refunds import services
    from tests.factories import jpeg

    application = screened(submitted_through_the_api(product, key_a, FORGED_CUP))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="The cup left intact.",
        reason_codes=["evidence_edited"],
        attachments=[upload(jpeg(seed=7), "packing.jpg")],
    )
    application = rejected(RefundApplication.objects.get(pk=application.pk), reviewer)
    assert s3.keys("rebuttals/")

    dossier = application_dossier_generate(
        application_id=application.public_id,
        actor=Actor(ActorKind.REVIEWER, None, "reviewer"),
        audience=Audience.REVIEWER,
    )
    try:
        data = dossier.handle.read()
    finally:
        dossier.close()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
        names = archive.namelist()
    (root,) = {name.split("/")[0] for name in names}
    evidence = Evidence.objects.get(application=application)
    (copied,) = [name for name in names if "/files/evidence/" in name]
    assert (tmp_path / copied).read_bytes() == s3.read(evidence.file.name) == FORGED_CUP
    assert any("/files/heatmaps/" in name for name in names)
    assert any("/files/references/" in name for name in names)
    verified = subprocess.run(
        [sys.executable, "verify.py"], cwd=tmp_path / root, capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_readiness_reports_the_storage_down_when_the_s3_server_stops(s3, client):
    checks = client.get("/readyz").json()["checks"]
    assert checks["storage"]["status"] == "ok"
    assert not s3.keys("health/")  # the probe cleans up after itself

    s3.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "storage" in response.json()["failing"]
    assert response.json()["checks"]["storage"]["status"] == "failing"
