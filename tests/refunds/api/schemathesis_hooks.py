"""Hooks for the schemathesis run of ``test_api_schema``. Loaded through SCHEMATHESIS_HOOKS, in
the schemathesis process, which has no Django; the test passes what they need in the
environment (SCHEMATHESIS_BASE_URL, SCHEMATHESIS_API_KEY, SCHEMATHESIS_SEEDED,
SCHEMATHESIS_POLICY).

- The schema says "a binary file", and a random byte string is refused as not being a photo
  (rightly, 415), so every file of a request meant to be valid is replaced by a real JPEG.
- Every request meant to be valid carries an Idempotency-Key of its own.
- The stateful phase acts on the applications it creates as a platform would: it waits until
  screening has routed a new application (the platform's webhook) before following its links.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import schemathesis
from PIL import Image

_counter = [0]
_created = [0]


def _next() -> int:
    _counter[0] += 1
    return _counter[0]


def _photo() -> bytes:
    # A different photo each time, to the eye of the reuse index too: a grid of random blocks,
    # so that no two uploads are near-duplicates (linked claims, never fast-tracked).
    rng = random.Random(_next())
    small = Image.new("RGB", (8, 6))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(8 * 6)])
    buffer = io.BytesIO()
    small.resize((64, 48), Image.Resampling.NEAREST).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


FILE_FIELDS = {"evidence", "attachments", "file", "image"}
# The merchant and product the test seeded: random UUIDs name nothing, so without them the
# stateful phase would seldom create an application to follow its links from.
SEEDED = json.loads(os.environ.get("SCHEMATHESIS_SEEDED", "{}"))
# The policy the stateful phase starts from: the fuzzing phase leaves it as its last PATCH
# made it (fast track off, thresholds that flag everything...).
POLICY = json.loads(os.environ.get("SCHEMATHESIS_POLICY", "{}"))
APPLICATION_FIELDS = {"buyer_ref", "order_ref", "amount", "currency", "reason_code", "description", "delivered_at"}
# Amounts on either side of the policy's fast-track ceiling, in turn: a third of the
# applications the stateful phase creates are approved at once (their dossier, an appeal), two
# thirds wait for the merchant, where accept, contest and withdraw each end what the others
# could have done (more evidence leaves it waiting).
STATEFUL_AMOUNTS = ("10.00", "100.00", "100.00")
# How long screening may take to route a new application (it takes well under a second).
SCREENING_WAIT = 30.0


IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _replace_files(value: Any) -> Any:
    if isinstance(value, list):
        return [_replace_files(item) for item in value]
    data = getattr(value, "data", value)  # schemathesis wraps generated files in a Binary
    if isinstance(data, bytes) and data.startswith(IMAGE_MAGIC):
        return value  # an image already (schemathesis makes small PNGs itself)
    return _photo()


def _delivered_in_the_past(body: dict) -> dict:
    """The body with its delivery time moved into the past, where the API wants it (a rule the
    schema can state only in words): a generated time may lie centuries ahead."""
    try:
        delivered = datetime.fromisoformat(body["delivered_at"])
    except (KeyError, TypeError, ValueError):
        return body
    now = datetime.now(UTC)
    if delivered.tzinfo is None or delivered <= now:
        return body
    return {**body, "delivered_at": (now - timedelta(days=1)).isoformat()}


def _api(method: str, path: str, **kwargs: Any) -> requests.Response:
    base = os.environ["SCHEMATHESIS_BASE_URL"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['SCHEMATHESIS_API_KEY']}"}
    return requests.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def _is_negative(case: Any) -> bool:
    return case.meta is not None and not case.meta.generation.mode.is_positive


def _mutates_headers(case: Any) -> bool:
    """Whether the case was made invalid through its headers (the Idempotency-Key among them)."""
    if not _is_negative(case):
        return False
    components = case.meta.components
    header = next(
        (info for location, info in components.items() if getattr(location, "value", location) == "header"), None
    )
    return header is not None and not header.mode.is_positive


_policy_restored = [False]
# The applications the stateful phase created, by case id: after_call must not read a case's
# metadata, which schemathesis would revalidate against the schema and find changed by
# before_call (a body holding file bytes never validates), turning the case negative.
_stateful_creates: set[str] = set()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any = None) -> None:
    # What the generator meant, read before anything is changed (see _stateful_creates).
    stateful = case.meta is not None and case.meta.phase.name == "stateful"
    negative = _is_negative(case)
    keep_key = _mutates_headers(case)
    if stateful and POLICY and not _policy_restored[0]:
        _policy_restored[0] = True
        _api("PATCH", "/policy", json=POLICY).raise_for_status()
    key = (case.headers or {}).get("Idempotency-Key")
    if key is None and case.headers and "Idempotency-Key" in case.headers:
        # A key meant to be invalid by being null would be dropped by the HTTP client, and the
        # request would arrive valid; send it empty, which is as invalid and does arrive.
        case.headers = {**case.headers, "Idempotency-Key": ""}
    elif key and not keep_key:
        # Each request is a new intent. The generators repeat keys (the coverage phase sends
        # "0" with every body), and a key repeated with another request is rightly refused
        # with 422: a state the schema cannot express, and one that would hide how the
        # request itself is answered.
        case.headers = {**case.headers, "Idempotency-Key": f"{key[:240]}-{_next()}"}
    if stateful and not negative and case.method == "POST" and case.path == "/api/v1/applications":
        _stateful_creates.add(case.id)
        if isinstance(case.body, dict) and case.media_type == "application/json":
            # A JSON body's evidence_ids name uploads the run never made: the phase sends the
            # same application with its photo instead, as the multipart body does.
            # (A JSON null, "not known", is a field left out of a form.)
            fields = {
                name: value for name, value in case.body.items() if name in APPLICATION_FIELDS and value is not None
            }
            case.body, case.media_type = {**fields, "evidence": [_photo()]}, "multipart/form-data"
        if isinstance(case.body, dict):
            _created[0] += 1
            amount = STATEFUL_AMOUNTS[_created[0] % len(STATEFUL_AMOUNTS)]
            case.body = {**case.body, **SEEDED, "amount": amount}
    if not negative and case.method == "POST" and case.path == "/api/v1/applications" and isinstance(case.body, dict):
        case.body = _delivered_in_the_past(case.body)
    if isinstance(case.body, dict) and case.media_type and case.media_type.startswith("multipart/") and not negative:
        # In a request meant to be valid every file field is a photo, whatever placeholder the
        # schema's example put there; one meant to be invalid is sent as it was generated.
        case.body = {name: _replace_files(value) if name in FILE_FIELDS else value for name, value in case.body.items()}
    if not negative:
        # Schemathesis judges again what a before_call hook changed, and holds any body with
        # file bytes in it invalid (jsonschema cannot read bytes): each photo put in would turn
        # the valid case into an "invalid" one that the API is then faulted for accepting.
        # The changes above keep a valid case valid, so they count as generated.
        case._record_starting_state()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if case.id not in _stateful_creates or response.status_code != 201:
        return
    # A platform acts on a new application once its webhook says screening has routed it
    # (to the merchant, or approved by the fast track); so does the phase, by polling.
    public_id = response.json()["id"]
    deadline = time.monotonic() + SCREENING_WAIT
    while time.monotonic() < deadline:
        if _api("GET", f"/applications/{public_id}").json().get("state") != "submitted":
            return
        time.sleep(0.05)
    raise AssertionError(f"application {public_id} was not screened within {SCREENING_WAIT:.0f}s")
