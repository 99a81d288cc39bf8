"""The live API against its own OpenAPI schema, with the schemathesis command line as a client
would run it: every check, at least 100 examples per operation, the coverage and stateful
phases (which follow the schema's links from a new application through its actions). No
failure is allowed, and every operation must answer 2xx at least once; the test prints which
statuses each operation gave."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The ids of the schema's own examples, so that its example requests find real objects.
EXAMPLE_MERCHANT = "9a4e2b7c-5d61-4f3a-8e09-1c2d3e4f5a6b"
EXAMPLE_PRODUCT = "3c2b1a09-8f7e-4d6c-9b5a-0e1f2a3b4c5d"
MAX_EXAMPLES = int(os.environ.get("SCHEMA_TEST_MAX_EXAMPLES", "100"))


def seed() -> str:
    """Create what the run needs to reach every operation; return a key with every scope."""
    from refunds.apikeys import api_key_issue
    from refunds.models import Merchant, Product, WebhookDelivery
    from refunds.services import platform as platform_services
    from tests.factories import FORGED_CUP, make_product, screen, submit

    platform = platform_services.platform_create(name="Schema", slug="schema",
                                                 actor=platform_services.settings_actor_for_command("test"))
    merchant = Merchant.objects.create(platform=platform, external_ref="shop", name="Shop", public_id=EXAMPLE_MERCHANT)
    product = make_product(merchant)
    Product.objects.filter(pk=product.pk).update(public_id=EXAMPLE_PRODUCT)
    product.refresh_from_db()
    platform_services.webhook_endpoint_create(platform=platform, url="http://127.0.0.1:9/hooks",
                                              actor=platform_services.settings_actor_for_command("test"))
    screen(submit(product, evidence=[FORGED_CUP]))  # a finding with a heat-map
    WebhookDelivery.objects.update(status="failed")
    return api_key_issue(platform=platform, name="schemathesis", scopes=["read", "write", "policy", "webhooks"])[1]


def operations(schema: dict) -> dict[str, tuple[str, re.Pattern]]:
    found = {}
    for path, methods in schema["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method in methods:
            found[f"{method.upper()} {path}"] = (method.upper(), pattern)
    return found


def statuses_by_operation(har: Path, schema: dict) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = defaultdict(set)
    ops = operations(schema)
    for entry in json.loads(har.read_text())["log"]["entries"]:
        method, url, status = entry["request"]["method"], entry["request"]["url"], entry["response"]["status"]
        path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        for label, (op_method, pattern) in ops.items():
            if op_method == method and pattern.match(path):
                seen[label].add(status)
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_to_its_schema_under_schemathesis(live_server, settings, tmp_path, capsys):
    settings.API_RATE_LIMIT = "1000000/min"
    key = seed()
    schema_url = f"{live_server.url}/api/v1/schema/?format=json"
    har = tmp_path / "run.har"
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
        "run", schema_url,
        "--max-examples", str(MAX_EXAMPLES), "--phases", "examples,coverage,fuzzing,stateful",
        "--workers", "1", "--seed", "1",
        "--generation-deterministic", "--report", "har", "--report-har-path", str(har),
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.refunds.schemathesis_hooks", SCHEMATHESIS_API_KEY=key,
               PYTHONPATH=str(ROOT))
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert har.exists(), run.stdout[-5000:] + run.stderr[-5000:]
    from django.test import Client

    schema = json.loads(Client().get("/api/v1/schema/?format=json").content)
    seen = statuses_by_operation(har, schema)
    with capsys.disabled():
        print("\nschemathesis: statuses per operation")
        for label in sorted(operations(schema)):
            print(f"  {label:70} {' '.join(map(str, sorted(seen.get(label, ()))))}")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    never_2xx = [label for label in operations(schema) if not any(200 <= s < 300 for s in seen.get(label, ()))]
    assert never_2xx == [], f"operations never answered 2xx: {never_2xx}"
