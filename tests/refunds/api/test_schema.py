"""The live API against its own OpenAPI schema, with the schemathesis command line as a client
would run it: every check (`--checks all`), all four phases (examples, coverage, fuzzing,
stateful), authenticated through the schema's own security scheme, no check or operation left
out. No failure is allowed; every operation must answer 2xx at least once, and the stateful
phase must follow every link from a new application (POST /applications): a Celery worker
screens what the phase creates, so that its applications move on as a platform's would. Accept,
contest, withdraw and appeal each use up an application, and which one a scenario follows first
is the phase's random choice, so a link followed is counted whatever it answered (a 409 for an
application another link used up is the right answer); the test prints how many were followed
with a 2xx as well. It prints the statuses each operation gave and the links it followed.

SCHEMA_TEST_MAX_EXAMPLES sets the examples per operation of the fuzzing phase and the
scenarios of the stateful phase (the coverage phase makes every case the schema defines
whatever it says): 25 in the suite, 200 for the full run of the README."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MAX_EXAMPLES = int(os.environ.get("SCHEMA_TEST_MAX_EXAMPLES", "25"))


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


def scenarios(report: Path) -> Iterator[dict]:
    """The recorded scenarios of the run's NDJSON report: its cases, their links and answers."""
    with report.open() as lines:
        for line in lines:
            event = json.loads(line)
            if "ScenarioFinished" in event:
                yield event["ScenarioFinished"]["recorder"]


def statuses_by_operation(report: Path) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = defaultdict(set)
    for recorder in scenarios(report):
        for case_id, interaction in recorder.get("interactions", {}).items():
            if interaction.get("response"):
                # The method sent, which the coverage phase's unexpected-method cases change.
                label = f"{interaction['request']['method']} {recorder['cases'][case_id]['value']['path']}"
                seen[label].add(interaction["response"]["status_code"])
    return seen


# What every answer of the API carries, errors, 404s and 405s included (README "The API").
EVERY_ANSWER_HEADERS = ("Request-Id", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Content-Language")


def answers_without_headers(report: Path) -> dict[str, int]:
    """How many recorded answers lack each of EVERY_ANSWER_HEADERS."""
    missing: dict[str, int] = defaultdict(int)
    for recorder in scenarios(report):
        for interaction in recorder.get("interactions", {}).values():
            if interaction.get("response"):
                present = {name.lower() for name in interaction["response"]["headers"]}
                for name in EVERY_ANSWER_HEADERS:
                    missing[name] += name.lower() not in present
    return {name: count for name, count in missing.items() if count}


def links_followed(report: Path, source: str) -> dict[str, set[int]]:
    """Statuses per link of ``source`` the stateful phase followed, that is sent the request
    with the values the link took from the source's answer (schemathesis's own record)."""
    followed: dict[str, set[int]] = defaultdict(set)
    for recorder in scenarios(report):
        for case_id, node in recorder.get("cases", {}).items():
            transition, interaction = node.get("transition"), recorder.get("interactions", {}).get(case_id)
            if not (transition and node.get("is_transition_applied") and interaction and interaction.get("response")):
                continue
            # The link's id: "<source> -> [<status>] <link name> -> <target>".
            link_source, _, rest = transition["id"].partition(" -> [")
            if link_source == source:
                name = rest.split("] ", 1)[1].split(" -> ", 1)[0]
                followed[name].add(interaction["response"]["status_code"])
    return followed


def stateful_links(output: str) -> str:
    """The stateful phase's own count of links ("N covered / M selected / T total")."""
    found = re.findall(r"API Links:\s*([0-9]+ covered / [0-9]+ selected / [0-9]+ total)", output)
    return found[-1] if found else "not reported"


# The stateful phase starts from the seeded policy with the fast track on (the hooks set it
# again, since the fuzzing phase leaves it as its last PATCH made it): clean applications up to
# 50.00 are approved at once.
FAST_TRACK = {"fast_track_enabled": True, "fast_track_ceiling": "50.00"}
CREATE_APPLICATION = "POST /api/v1/applications"


class ServerErrors(logging.Handler):
    """The live server's errors with their tracebacks (Django logs every 500 on django.request
    with its exception), kept so that a failing run shows why the server failed."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s request_id=%(request_id)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.request_id = getattr(record, "request_id", "-")
        self.lines.append(self.format(record))


@pytest.fixture
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.mark.timeout(1800)
@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_to_its_schema_under_schemathesis(
    live_server, settings, tmp_path, capsys, celery_worker, server_errors
):
    from refunds.api.schema import EXAMPLE_IDS, LINKS

    # No limit is reached: the run sends thousands of requests, and hundreds with a bad key
    # (which would soon hold every request of the address, valid keys too, at 429).
    settings.API_RATE_LIMIT = settings.API_INVALID_KEY_LIMIT = "1000000/min"
    key = seed()
    from django.test import Client

    policy = Client().get("/api/v1/policy", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    stateful_policy = {name: value for name, value in policy.items() if name != "updated_at"} | FAST_TRACK
    schema_url = f"{live_server.url}/api/v1/schema/?format=json"
    report = tmp_path / "run.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        schema_url,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--workers",
        "1",
        "--seed",
        "1",
        "--generation-deterministic",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS="tests.refunds.api.schemathesis_hooks",
        SCHEMATHESIS_BASE_URL=live_server.url,
        SCHEMATHESIS_API_KEY=key,
        SCHEMATHESIS_SEEDED=json.dumps({"merchant": EXAMPLE_IDS["merchant"], "product": EXAMPLE_IDS["product"]}),
        SCHEMATHESIS_POLICY=json.dumps(stateful_policy),
        PYTHONPATH=str(ROOT),
    )
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert report.exists(), run.stdout[-5000:] + run.stderr[-5000:]
    schema = json.loads(Client().get("/api/v1/schema/?format=json").content)
    labels = sorted(f"{method.upper()} {path}" for path, methods in schema["paths"].items() for method in methods)
    seen = statuses_by_operation(report)
    links = sorted(LINKS[("applications_create", "201")])
    followed = links_followed(report, CREATE_APPLICATION)
    with capsys.disabled():
        print("\nschemathesis: statuses per operation")
        for label in labels:
            print(f"  {label:70} {' '.join(map(str, sorted(seen.get(label, ()))))}")
        print(f"schemathesis: stateful links {stateful_links(run.stdout)}")
        covered = [name for name in links if any(200 <= s < 300 for s in followed.get(name, ()))]
        print(f"schemathesis: links from {CREATE_APPLICATION} followed with a 2xx: {len(covered)} of {len(links)}")
        for name in links:
            print(f"  {name:70} {' '.join(map(str, sorted(followed.get(name, ()))))}")
        for line in server_errors.lines:
            print(f"server error: {line}")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert server_errors.lines == []
    # The schema itself is what the run loads first, outside the recorded calls.
    never_2xx = [
        label
        for label in labels
        if not label.endswith("/schema/") and not any(200 <= s < 300 for s in seen.get(label, ()))
    ]
    assert never_2xx == [], f"operations never answered 2xx: {never_2xx}"
    assert answers_without_headers(report) == {}
    assert set(links) - set(followed) == set(), f"links from {CREATE_APPLICATION} never followed"
