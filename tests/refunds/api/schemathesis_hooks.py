"""Hooks for the schemathesis run of ``test_api_schema``: the schema says "a binary file",
and a random byte string is refused as not being a photo (rightly, 415), so every generated
file is replaced by a real JPEG before the call. Loaded through SCHEMATHESIS_HOOKS, in the
schemathesis process, which has no Django."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import schemathesis
from PIL import Image

_counter = [0]


def _photo() -> bytes:
    # A different small photo each time, so that uploads are not all one image.
    _counter[0] += 1
    n = _counter[0]
    image = Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
    image.paste((n % 256, 255 - n % 256, 128), (8 + n % 20, 8, 40, 30))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


FILE_FIELDS = {"evidence", "attachments", "file", "image"}
# The merchant and product the test seeded (SCHEMATHESIS_SEEDED): random UUIDs name nothing, so
# without them the stateful phase would seldom create an application to follow its links from.
SEEDED = json.loads(os.environ.get("SCHEMATHESIS_SEEDED", "{}"))
APPLICATION_FIELDS = {"buyer_ref", "order_ref", "amount", "currency", "reason_code", "description", "delivered_at"}


IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _replace_files(value: Any) -> Any:
    if isinstance(value, list):
        return [_replace_files(item) for item in value]
    data = getattr(value, "data", value)  # schemathesis wraps generated files in a Binary
    if isinstance(data, bytes) and data.startswith(IMAGE_MAGIC):
        return value  # an image already (schemathesis makes small PNGs itself)
    return _photo()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any = None) -> None:
    # An Idempotency-Key meant to be invalid by being null would be dropped by the HTTP client,
    # and the request would arrive valid; send it empty, which is as invalid and does arrive.
    if case.headers and "Idempotency-Key" in case.headers and case.headers["Idempotency-Key"] is None:
        case.headers = {**case.headers, "Idempotency-Key": ""}
    negative = case.meta is not None and not case.meta.generation.mode.is_positive
    stateful = case.meta is not None and case.meta.phase.name == "stateful"
    key = (case.headers or {}).get("Idempotency-Key")
    if stateful and not negative and key:
        # Each step of a scenario is a new intent: a key the generator happens to repeat with
        # the same body would be answered with the first object, rightly (a replay), though a
        # scenario before may have deleted it since.
        _counter[0] += 1
        case.headers = {**case.headers, "Idempotency-Key": f"{key[:240]}-{_counter[0]}"}
    if stateful and not negative and case.method == "POST" and case.path == "/api/v1/applications":
        if isinstance(case.body, dict) and case.media_type == "application/json":
            # A JSON body's evidence_ids name uploads the run never made: the phase sends the
            # same application with its photo instead, as the multipart body does.
            fields = {name: value for name, value in case.body.items() if name in APPLICATION_FIELDS}
            case.body, case.media_type = {**fields, "evidence": [_photo()]}, "multipart/form-data"
        if isinstance(case.body, dict):
            case.body = {**case.body, **SEEDED}
    if not (isinstance(case.body, dict) and case.media_type and case.media_type.startswith("multipart/")):
        return
    # In a request meant to be valid every file field is a photo, whatever placeholder the
    # schema's example put there; one meant to be invalid is sent as it was generated.
    if negative:
        return
    case.body = {name: _replace_files(value) if name in FILE_FIELDS else value for name, value in case.body.items()}
