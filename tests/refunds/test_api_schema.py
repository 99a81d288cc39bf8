"""The live OpenAPI schema against the running API: no server error, nothing that contradicts it."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from refunds.apikeys import api_key_issue
from reviewhub.wsgi import application as wsgi_app
from tests.factories import screen, submit

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_app)


@pytest.fixture(autouse=True)
def keep_the_test_connection(db):
    # Like Django's test client: keep the test's connection (and its transaction) across requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def full_key(product):
    # Some real objects so that not every generated id is a miss.
    screen(submit(product))
    return api_key_issue(platform=product.merchant.platform, name="schemathesis",
                         scopes=["read", "write", "policy", "webhooks"])[1]


@schema.parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_the_api_keeps_to_its_schema(case, full_key):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {full_key}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
