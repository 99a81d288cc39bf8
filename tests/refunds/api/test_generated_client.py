"""A client generated from the schema by openapi-python-client works: it creates, lists, contests and withdraws."""

import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from refunds.models import RefundApplication
from tests.factories import GENUINE_CUP, screen

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def sdk(tmp_path, monkeypatch):
    """The package openapi-python-client generates from the schema the API serves."""
    schema = Client().get("/api/v1/schema/?format=json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert schema.status_code == 200
    (tmp_path / "openapi.json").write_bytes(schema.content)
    # No post-hooks: the generated code is used as generated, not reformatted.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            "openapi.json",
            "--output-path",
            "reviewhub_client",
            "--meta",
            "none",
            "--config",
            "config.yaml",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert all(name.isascii() for name in (p.name for p in (tmp_path / "reviewhub_client").rglob("*.py")))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("reviewhub_client")
    for name in [m for m in sys.modules if m.startswith("reviewhub_client")]:
        del sys.modules[name]


def test_a_generated_client_creates_lists_contests_and_withdraws(sdk, live_server, product, key_a):
    from reviewhub_client.api.applications import (
        applications_contest_create,
        applications_create,
        applications_list,
        applications_withdraw_create,
    )
    from reviewhub_client.models import (
        ApplicationCreateRequest,
        ContestJsonRequest,
        CurrencyEnum,
        ReasonCodeEnum,
        WithdrawRequest,
    )
    from reviewhub_client.types import File

    api = sdk.AuthenticatedClient(base_url=live_server.url, token=key_a)
    created = applications_create.sync_detailed(
        client=api,
        body=ApplicationCreateRequest(
            merchant=product.merchant.public_id,
            product=product.public_id,
            buyer_ref="buyer-sdk",
            order_ref="order-sdk",
            amount="39.90",
            currency=CurrencyEnum.CNY,
            reason_code=ReasonCodeEnum.DAMAGED,
            evidence=[File(payload=io.BytesIO(GENUINE_CUP), file_name="photo.jpg", mime_type="image/jpeg")],
        ),
    )
    assert created.status_code == 201, created.content
    application = created.parsed
    assert application.state.value == "submitted"

    listed = applications_list.sync(client=api)
    assert [a.id for a in listed.results] == [application.id]

    screen(RefundApplication.objects.get(public_id=application.id))  # the worker's part, done here
    contested = applications_contest_create.sync_detailed(
        client=api,
        public_id=str(application.id),
        body=ContestJsonRequest(statement="Packed with care; see the photos."),
    )
    assert contested.status_code == 200, contested.content
    assert contested.parsed.state.value == "in_review"

    withdrawn = applications_withdraw_create.sync_detailed(
        client=api, public_id=str(application.id), body=WithdrawRequest(reason="The buyer found the parcel.")
    )
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.parsed.state.value == "withdrawn"
