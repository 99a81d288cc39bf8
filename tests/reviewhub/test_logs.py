"""Structured logs: every line JSON, the same request id from the web request to its task."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from rest_framework.test import APIClient

from refunds.models import RefundApplication
from refunds.states import ApplicationState
from reviewhub.logs import logging_config, redact
from tests.conftest import wait_for
from tests.factories import GENUINE_CUP, upload


@pytest.fixture
def json_lines():
    """Route every log record through the production (JSON) configuration into a buffer."""
    config = logging_config("json", "INFO")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    logging.config.dictConfig(config)
    root.handlers[0].setStream(buffer)
    try:
        yield lambda: [line for line in buffer.getvalue().splitlines() if line.strip()]
    finally:
        root.handlers[:], root.level = saved


def _screening_finished(json_lines) -> bool:
    # The task's line is written after it returns; the application moves on inside it, a
    # moment earlier (longer on a busy machine).
    lines = [json.loads(line) for line in json_lines()]
    return any(
        line["logger"] == "reviewhub.tasks" and line.get("task") == "screening.screen_application" for line in lines
    )


@pytest.mark.django_db(transaction=True)
def test_a_request_and_the_task_it_enqueued_log_json_lines_with_the_same_ids(
    json_lines, settings, celery_worker, product, key_a
):
    settings.LOG_REQUESTS = True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key_a}")
    response = client.post(
        "/api/v1/applications",
        {
            "merchant": str(product.merchant.public_id),
            "product": str(product.public_id),
            "buyer_ref": "buyer@example.com",
            "order_ref": "order-logs",
            "amount": "59.00",
            "currency": "CNY",
            "reason_code": "damaged",
            "evidence": [upload(GENUINE_CUP)],
        },
        format="multipart",
        HTTP_REQUEST_ID="req-logs-1",
    )
    assert response.status_code == 201
    application_id = response.json()["id"]
    wait_for(
        lambda: RefundApplication.objects.get(public_id=application_id).state == ApplicationState.AWAITING_MERCHANT
    )
    wait_for(lambda: _screening_finished(json_lines))

    lines = [json.loads(line) for line in json_lines()]  # every line parses as JSON

    web = [line for line in lines if line["logger"] == "reviewhub.requests"]
    assert [line["request_id"] for line in web] == ["req-logs-1"]
    assert web[0]["application_id"] == application_id
    assert web[0]["actor"].startswith("platform:key:")
    task = [
        line for line in lines if line["logger"] == "reviewhub.tasks" and line["task"] == "screening.screen_application"
    ]
    assert task, lines
    assert {line["request_id"] for line in task} == {"req-logs-1"}
    assert {line["application_id"] for line in task} == {application_id}
    assert all(line["task_id"] != "-" for line in task)
    # Lines written after the task's transition name its actor (by kind, never a user name).
    assert task[-1]["actor"] == "system:screening"
    assert "buyer@example.com" not in "\n".join(json_lines())
    assert key_a not in "\n".join(json_lines())


def test_e_mail_addresses_keys_and_secrets_are_masked():
    text = redact("mail owner@shop.example with Bearer rh_abc123_SECRETxyz, password=hunter2 key rh_0f_abc")
    assert "owner@shop.example" not in text
    assert "SECRETxyz" not in text
    assert "hunter2" not in text
    assert "rh_0f_abc" not in text


def test_a_log_line_of_an_e_mail_address_is_masked_in_either_format(json_lines):
    logging.getLogger("reviewhub.test").warning("notified %s", "merchant@example.com")
    assert "merchant@example.com" not in "\n".join(json_lines())
    assert json.loads(json_lines()[-1])["message"] == "notified [redacted]"


def test_production_logs_json_and_the_demo_logs_text():
    from tests.reviewhub.test_settings import PRODUCTION, run_manage

    show = ["shell", "-c", "from django.conf import settings; print(settings.LOG_FORMAT)"]
    assert run_manage(*show, **PRODUCTION).stdout.split()[-1] == "json"
    assert run_manage(*show).stdout.split()[-1] == "text"


def test_an_unknown_log_format_stops_start_up():
    from tests.reviewhub.test_settings import run_manage

    result = run_manage("check", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT" in result.stderr


@pytest.mark.django_db
def test_tokens_in_urls_stay_out_of_the_request_log(json_lines, client, settings):
    settings.LOG_REQUESTS = True
    client.get("/portal/notifications/unsubscribe/abc.SECRET-token-value/")
    client.get("/accounts/reset/MQ/set-SECRET-token/")
    requests = [json.loads(line) for line in json_lines() if '"reviewhub.requests"' in line]
    assert len(requests) == 2
    assert all("SECRET" not in line["message"] and "[redacted]" in line["message"] for line in requests)


@pytest.mark.django_db(transaction=True)
def test_a_task_the_outbox_sends_after_a_broker_outage_logs_under_the_request_that_caused_it(
    json_lines, celery_worker, product, key_a, monkeypatch
):
    from datetime import timedelta

    from refunds.integration import outbox
    from reviewhub.celery import app
    from tests.refunds.api.test_applications import client_with, form, post

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broker_down)
    response = post(client_with(key_a), form(product))
    assert response.status_code == 201
    application_id = response.json()["id"]
    request_id = response["Request-Id"]
    assert outbox.pending() == 1
    monkeypatch.undo()

    assert outbox.relay(min_age=timedelta(0)) == 1
    wait_for(
        lambda: RefundApplication.objects.get(public_id=application_id).state == ApplicationState.AWAITING_MERCHANT
    )
    wait_for(lambda: _screening_finished(json_lines))
    task = [json.loads(line) for line in json_lines()]
    task = [line for line in task if line["logger"] == "reviewhub.tasks"]
    assert task and {line["request_id"] for line in task} == {request_id}
    assert {line["application_id"] for line in task} == {application_id}
