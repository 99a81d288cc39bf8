"""The live API against its own OpenAPI schema, with the schemathesis command line as a client
would run it: every check, at least 100 examples per operation, the examples, fuzzing and
stateful phases (the last follows the schema's links from a new application through its
actions; the coverage phase is left out to keep the suite's time in bounds). No
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
ROOT = HERE.parents[2]
MAX_EXAMPLES = int(os.environ.get("SCHEMA_TEST_MAX_EXAMPLES", "100"))


def seed() -> str:
    """Create the objects the schema's examples name, so that every operation's example is a
    request that succeeds; return a key with every scope."""
    from refunds import services
    from refunds.api.schema import EXAMPLE_IDS
    from refunds.models import (
        Appeal,
        ClaimGroup,
        EvidenceRequest,
        Merchant,
        Product,
        RefundApplication,
        WebhookDelivery,
        WebhookEndpoint,
    )
    from refunds.services import platform as platform_services
    from refunds.services.platform import api_key_issue
    from refunds.states import ActorKind
    from screening.models import Finding
    from tests.factories import FORGED_CUP, GENUINE_CUP, make_product, make_staff, screen, submit
    from tests.refunds.appeal_builders import buyer_appeal, rejected_by
    from tests.refunds.evidence_request_builders import ask, claimed_by

    ops = platform_services.settings_actor_for_command("test")
    platform = platform_services.platform_create(name="Schema", slug="schema", actor=ops)
    merchant = Merchant.objects.create(
        platform=platform, external_ref="shop", name="Shop", public_id=EXAMPLE_IDS["merchant"]
    )
    product = make_product(merchant)
    Product.objects.filter(pk=product.pk).update(public_id=EXAMPLE_IDS["product"])
    product.refresh_from_db()
    endpoint = platform_services.webhook_endpoint_create(platform=platform, url="http://127.0.0.1:9/hooks", actor=ops)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(public_id=EXAMPLE_IDS["webhook_endpoint"])
    for n, name in enumerate(
        ["application", "application_to_accept", "application_to_contest", "application_to_withdraw"]
    ):
        application = screen(submit(product, evidence=[FORGED_CUP if n == 0 else GENUINE_CUP], order_ref=f"order-{n}"))
        RefundApplication.objects.filter(pk=application.pk).update(public_id=EXAMPLE_IDS[name])
    decided = screen(submit(product, evidence=[GENUINE_CUP], order_ref="order-decided"))
    services.application_accept(
        application_id=decided.public_id, actor=services.Actor(ActorKind.MERCHANT, None, "shop")
    )
    RefundApplication.objects.filter(pk=decided.pk).update(public_id=EXAMPLE_IDS["application_decided"])
    # The applications after the first sent the same photo: one group of linked claims.
    ClaimGroup.objects.update(public_id=EXAMPLE_IDS["claim_group"])
    finding = Finding.objects.exclude(artifact="").first()
    Finding.objects.filter(pk=finding.pk).update(public_id=EXAMPLE_IDS["finding"])
    delivery = WebhookDelivery.objects.first()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(public_id=EXAMPLE_IDS["webhook_delivery"])
    WebhookDelivery.objects.update(status="failed")
    # Two applications a reviewer rejected: one to appeal, one appealed for the buyer already.
    reviewer = make_staff("schema-reviewer", "Reviewers")
    for name in ("application_to_appeal", "application_appealed"):
        rejected = rejected_by(reviewer, product, evidence=[FORGED_CUP], order_ref=f"order-{name}")
        RefundApplication.objects.filter(pk=rejected.pk).update(public_id=EXAMPLE_IDS[name])
    appeal = buyer_appeal(RefundApplication.objects.get(public_id=EXAMPLE_IDS["application_appealed"]))
    Appeal.objects.filter(pk=appeal.pk).update(public_id=EXAMPLE_IDS["appeal"])
    # An application in review waiting for the buyer's second photo.
    asked = claimed_by(reviewer, product, evidence=[GENUINE_CUP], order_ref="order-asked")
    RefundApplication.objects.filter(pk=asked.pk).update(public_id=EXAMPLE_IDS["application_asked"])
    request = ask(RefundApplication.objects.get(pk=asked.pk), reviewer)
    EvidenceRequest.objects.filter(pk=request.pk).update(public_id=EXAMPLE_IDS["photo_request"])
    spare = platform_services.webhook_endpoint_create(platform=platform, url="http://127.0.0.1:9/spare", actor=ops)
    WebhookEndpoint.objects.filter(pk=spare.pk).update(public_id=EXAMPLE_IDS["webhook_endpoint_to_delete"])
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


def created_application_uses(har: Path, schema: dict) -> dict[str, set[int]]:
    """Statuses per operation of the requests that used the id of an application the run itself
    created (POST /applications): the links the stateful phase followed from it."""
    created: set[str] = set()
    used: dict[str, set[int]] = defaultdict(set)
    ops = operations(schema)
    for entry in json.loads(har.read_text())["log"]["entries"]:
        method, url, status = entry["request"]["method"], entry["request"]["url"], entry["response"]["status"]
        path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        if method == "POST" and path == "/api/v1/applications" and status == 201:
            text = entry["response"].get("content", {}).get("text") or "{}"
            try:
                created.add(json.loads(text)["id"])
            except (ValueError, KeyError, TypeError):
                pass
            continue
        if any(f"/{public_id}" in path for public_id in created):
            used.update(
                {label: used[label] | {status} for label, (m, p) in ops.items() if m == method and p.match(path)}
            )
    return used


def stateful_links(output: str) -> str:
    """The stateful phase's own count of links ("N covered / M selected / T total")."""
    found = re.findall(r"API Links:\s*([0-9]+ covered / [0-9]+ selected / [0-9]+ total)", output)
    return found[-1] if found else "not reported"


@pytest.mark.timeout(900)
@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_to_its_schema_under_schemathesis(live_server, settings, tmp_path, capsys):
    from refunds.api.schema import EXAMPLE_IDS

    settings.API_RATE_LIMIT = "1000000/min"
    key = seed()
    schema_url = f"{live_server.url}/api/v1/schema/?format=json"
    har = tmp_path / "run.har"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        schema_url,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,fuzzing,stateful",
        "--workers",
        "1",
        "--seed",
        "1",
        "--generation-deterministic",
        "--report",
        "har",
        "--report-har-path",
        str(har),
    ]
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS="tests.refunds.api.schemathesis_hooks",
        SCHEMATHESIS_API_KEY=key,
        SCHEMATHESIS_SEEDED=json.dumps({"merchant": EXAMPLE_IDS["merchant"], "product": EXAMPLE_IDS["product"]}),
        PYTHONPATH=str(ROOT),
    )
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert har.exists(), run.stdout[-5000:] + run.stderr[-5000:]
    from django.test import Client

    schema = json.loads(Client().get("/api/v1/schema/?format=json").content)
    seen = statuses_by_operation(har, schema)
    followed = created_application_uses(har, schema)
    with capsys.disabled():
        print("\nschemathesis: statuses per operation")
        for label in sorted(operations(schema)):
            print(f"  {label:70} {' '.join(map(str, sorted(seen.get(label, ()))))}")
        print(f"schemathesis: stateful links {stateful_links(run.stdout)}")
        print("schemathesis: operations reached with the id of an application the run created")
        for label in sorted(followed):
            print(f"  {label:70} {' '.join(map(str, sorted(followed[label])))}")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    # The schema itself is what the run loads first, outside the recorded calls.
    never_2xx = [
        label
        for label in operations(schema)
        if not label.endswith("/schema/") and not any(200 <= s < 300 for s in seen.get(label, ()))
    ]
    assert never_2xx == [], f"operations never answered 2xx: {never_2xx}"
