"""Additions to the generated OpenAPI schema: the one error shape on every operation, and webhooks."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

from refunds.errors import ErrorCode
from refunds.states import ApplicationState
from refunds.vocab import AuditAction, WebhookEventType

ERROR_STATUSES = {
    "400": "Invalid request: `details.param` names the offending input.",
    "401": "Missing, invalid or revoked API key.",
    "403": "The API key lacks the scope this operation needs.",
    "404": "No such object for this platform.",
    "409": "Not possible in the application's current state, or a lost race.",
    "413": "The request or one of its files is too large.",
    "415": "Unsupported media type (of the request or of an uploaded file).",
    "422": "Idempotency-Key reused with a different request.",
    "429": "Rate limit exceeded; see Retry-After.",
}

ERROR_SCHEMA = {
    "type": "object",
    "example": {
        "error": {
            "code": ErrorCode.DEADLINE_PASSED.value,
            "message": "The merchant response window closed at 2026-12-02 18:44.",
            "details": {"deadline": "2026-12-02T10:44:38.698631+00:00"},
        }
    },
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": ErrorCode.INVALID_STATE.value},
                "message": {"type": "string", "example": "This is not possible while the application is Decided."},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "properties": {
                        "param": {
                            "type": ["string", "null"],
                            "description": "The offending input (field, query parameter or header), when one is.",
                        }
                    },
                },
            },
        }
    },
}

WEBHOOK_EXAMPLE = {
    "id": "5b0f3c1e-8f0a-4d43-9d0e-2f6f3a1f7c11",
    "type": "application.state_changed",
    "sequence": 4,
    "created_at": "2026-12-02T10:44:38.698631+00:00",
    "data": {
        "application": "0f8d3c9a-31b4-4c1e-a7c2-7f1d2b9e6a55",
        "merchant": "9a4e2b7c-5d61-4f3a-8e09-1c2d3e4f5a6b",
        "from_state": ApplicationState.AWAITING_MERCHANT.value,
        "state": ApplicationState.DECIDED.value,
        "action": AuditAction.MERCHANT_ACCEPT.value,
        "risk_level": "clean",
        "unscreened": False,
        "merchant_deadline": "2026-12-02T10:44:38.698631+00:00",
        "decision": {
            "outcome": "approved",
            "approved_amount": "39.90",
            "currency": "CNY",
            "actor_kind": "merchant",
            "reason_codes": ["merchant_accepted"],
        },
    },
}

WEBHOOK_SCHEMA = {
    "type": "object",
    "example": WEBHOOK_EXAMPLE,
    "required": ["id", "type", "sequence", "created_at", "data"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Event id; use it to drop duplicates."},
        "type": {
            "type": "string",
            "enum": list(WebhookEventType.values),
            "description": "`application.state_changed` for the application's own transitions; "
            "`application.appeal_*` for an appeal's, with `data.appeal`; `application.evidence_request*` for a "
            "request for another photo's, with `data.evidence_request`.",
        },
        "sequence": {"type": "integer", "description": "1, 2, 3… per application, in delivery order."},
        "created_at": {"type": "string", "format": "date-time"},
        "data": {
            "type": "object",
            "properties": {
                "application": {"type": "string", "format": "uuid"},
                "merchant": {"type": "string", "format": "uuid"},
                "from_state": {"type": "string"},
                "state": {"type": "string"},
                "action": {"type": "string"},
                "risk_level": {"type": "string", "nullable": True},
                "unscreened": {"type": "boolean"},
                "merchant_deadline": {"type": "string", "format": "date-time", "nullable": True},
                "decision": {"type": "object", "nullable": True},
                "appeal": {
                    "type": "object",
                    "description": "Appeal events: the appeal's id, side, `from_state` and `state`, the decision "
                    "appealed, and once decided its `appeal_decision` (verdict; an overturn's new outcome and amount).",
                },
                "evidence_request": {
                    "type": "object",
                    "description": "Request events: the request's id, `from_state` and `state`, the `instructions` to "
                    "show the buyer in its `language`, the `deadline`, the `first_evidence` whose damage to photograph "
                    "again, and the `answer_url` to POST the buyer's photo to.",
                },
            },
        },
    },
}


# Example ids, one per object the examples talk about. The schema test creates objects with
# these ids, so that the examples of every operation are requests that succeed.
EXAMPLE_IDS = {
    "merchant": "9a4e2b7c-5d61-4f3a-8e09-1c2d3e4f5a6b",
    "product": "3c2b1a09-8f7e-4d6c-9b5a-0e1f2a3b4c5d",
    "application": "0f8d3c9a-31b4-4c1e-a7c2-7f1d2b9e6a55",  # awaiting the merchant; read, evidence added
    "application_to_accept": "5e1d7c3b-2a94-4f08-b6e1-3c9d8a7f6b21",
    "application_to_contest": "8b4f2e6a-1c73-4d95-a0b8-7e6d5c4b3a29",
    "application_to_withdraw": "2d9c8b7a-6e5f-4a3b-9c1d-0e2f3a4b5c6d",
    "application_decided": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",  # accepted by the merchant; its dossier
    "finding": "6a5b4c3d-2e1f-4a0b-8c9d-1e2f3a4b5c6e",  # a local edit with its heat-map
    "webhook_delivery": "4c3b2a19-0f8e-4d7c-b6a5-948372615e0d",
    "webhook_endpoint": "7d6c5b4a-3928-4170-a6b5-c4d3e2f1a0b9",
    "webhook_endpoint_to_delete": "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4",
    "claim_group": "3f2e1d0c-9b8a-4765-8432-10fedcba9876",  # applications sharing a photo
    "application_to_appeal": "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e",  # rejected by a reviewer
    "application_appealed": "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",  # rejected, and appealed for the buyer
    "appeal": "8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1a",
    "application_asked": "9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b",  # in review, waiting for the buyer's second photo
    "photo_request": "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
}
# Per operation: the example of its path's public id, and of its request body where it has one.
_PATH_EXAMPLES = {
    "applications_retrieve": "application",
    "applications_audit_events_list": "application",
    "applications_evidence_create": "application",
    "applications_accept_create": "application_to_accept",
    "applications_contest_create": "application_to_contest",
    "applications_withdraw_create": "application_to_withdraw",
    "applications_dossier_retrieve": "application_decided",
    "findings_heatmap_retrieve": "finding",
    "products_retrieve": "product",
    "products_reference_images_list": "product",
    "products_reference_images_create": "product",
    "merchants_retrieve": "merchant",
    "webhook_deliveries_redeliver_create": "webhook_delivery",
    "webhook_endpoints_retrieve": "webhook_endpoint",
    "webhook_endpoints_partial_update": "webhook_endpoint",
    "webhook_endpoints_rotate_secret_create": "webhook_endpoint",
    "webhook_endpoints_destroy": "webhook_endpoint_to_delete",
    "claim_groups_retrieve": "claim_group",
    "applications_appeals_list": "application_appealed",
    "applications_appeals_create": "application_to_appeal",
    "applications_appeals_retrieve": "application_appealed",
    "applications_appeals_withdraw_create": "application_appealed",
    "applications_evidence_requests_list": "application_asked",
    "applications_evidence_requests_retrieve": "application_asked",
    "applications_evidence_requests_answer_create": "application_asked",
}
# The example of the path's appeal id.
_APPEAL_EXAMPLES = {
    "applications_appeals_retrieve": "appeal",
    "applications_appeals_withdraw_create": "appeal",
}
# The example of the path's request id.
_EVIDENCE_REQUEST_EXAMPLES = {
    "applications_evidence_requests_retrieve": "photo_request",
    "applications_evidence_requests_answer_create": "photo_request",
}
_BODY_EXAMPLES = {
    ("products_create", "application/json"): {
        "merchant": EXAMPLE_IDS["merchant"],
        "external_ref": "sku-cup-02",
        "title": "Ceramic cup, large",
    },
    ("applications_contest_create", "application/json"): {
        "statement": "The cup left our warehouse intact; see the packing photos."
    },
    ("applications_withdraw_create", "application/json"): {"reason": "The buyer found the missing part."},
    ("applications_appeals_create", "application/json"): {
        "side": "buyer",
        "statement": "The crack is on the delivery photo the courier took; attached.",
        "reason_codes": ["new_evidence"],
    },
    ("applications_appeals_withdraw_create", "application/json"): {"reason": "Settled with the merchant."},
    ("applications_evidence_create", "multipart/form-data"): {"evidence": ["<photo.jpg>"]},
    ("applications_evidence_requests_answer_create", "multipart/form-data"): {"evidence": ["<second-photo.jpg>"]},
    ("applications_evidence_requests_answer_create", "application/json"): {
        "evidence_ids": ["4f3e2d1c-0b9a-4876-a5b4-c3d2e1f0a9b8"]
    },
    ("products_reference_images_create", "multipart/form-data"): {"kind": "catalogue", "image": "<catalogue.jpg>"},
}


def _add_examples(operation: dict[str, Any]) -> None:
    operation_id = operation.get("operationId")
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") == "public_id" and operation_id in _PATH_EXAMPLES:
            parameter["example"] = EXAMPLE_IDS[_PATH_EXAMPLES[operation_id]]
        if parameter.get("in") == "path" and parameter.get("name") == "appeal_id" and operation_id in _APPEAL_EXAMPLES:
            parameter["example"] = EXAMPLE_IDS[_APPEAL_EXAMPLES[operation_id]]
        if (
            parameter.get("in") == "path"
            and parameter.get("name") == "request_id"
            and operation_id in _EVIDENCE_REQUEST_EXAMPLES
        ):
            parameter["example"] = EXAMPLE_IDS[_EVIDENCE_REQUEST_EXAMPLES[operation_id]]
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        example = _BODY_EXAMPLES.get((operation_id, media_type))
        if example is not None and "examples" not in content:
            content["example"] = example


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe key: a repeat returns the first response (kept 48 h); the same key with another "
    "request is refused with 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


_APPLICATION = "$response.body#/id"
_APPLICATION_LINKS = {
    "GetApplication": _link("applications_retrieve", "Read the application.", public_id=_APPLICATION),
    "WithdrawApplication": _link("applications_withdraw_create", "Withdraw it.", public_id=_APPLICATION),
    "AcceptApplication": _link("applications_accept_create", "Accept it for the merchant.", public_id=_APPLICATION),
    "ContestApplication": _link("applications_contest_create", "Contest it for the merchant.", public_id=_APPLICATION),
    "AddEvidence": _link("applications_evidence_create", "Add evidence.", public_id=_APPLICATION),
    "ReadAuditEvents": _link("applications_audit_events_list", "Read its audit log.", public_id=_APPLICATION),
    "GetDossier": _link("applications_dossier_retrieve", "Its evidence dossier, once decided.", public_id=_APPLICATION),
    "GetBuyer": _link("buyers_retrieve", "The buyer's record.", buyer_ref="$response.body#/buyer_ref"),
    "ListAppeals": _link("applications_appeals_list", "Its appeals, once decided.", public_id=_APPLICATION),
    "AppealApplication": _link("applications_appeals_create", "Appeal its decision.", public_id=_APPLICATION),
    "ListEvidenceRequests": _link(
        "applications_evidence_requests_list", "Its requests for another photo.", public_id=_APPLICATION
    ),
}
_APPEAL_LINKS = {
    "GetAppeal": _link(
        "applications_appeals_retrieve",
        "Read the appeal.",
        public_id="$response.body#/application",
        appeal_id="$response.body#/id",
    ),
    "WithdrawAppeal": _link(
        "applications_appeals_withdraw_create",
        "Withdraw it.",
        public_id="$response.body#/application",
        appeal_id="$response.body#/id",
    ),
}
_EVIDENCE_REQUEST_LINKS = {
    "GetEvidenceRequest": _link(
        "applications_evidence_requests_retrieve",
        "Read the request.",
        public_id="$response.body#/application",
        request_id="$response.body#/id",
    ),
    "GetApplication": _link(
        "applications_retrieve", "Read the application it asked for.", public_id="$response.body#/application"
    ),
}
_ENDPOINT = "$response.body#/id"
# OpenAPI links: how the answer of one operation feeds the next, for generated clients and for
# the stateful phase of the schema tests (create an application, then follow it through).
LINKS: dict[tuple[str, str], dict[str, Any]] = {
    ("applications_create", "201"): _APPLICATION_LINKS,
    ("applications_retrieve", "200"): {
        **{name: link for name, link in _APPLICATION_LINKS.items() if name != "GetApplication"},
        "GetLinkedClaims": _link(
            "claim_groups_retrieve",
            "Its group of linked claims, when it shares an image.",
            public_id="$response.body#/linked_claims",
        ),
        "GetHeatmap": _link(
            "findings_heatmap_retrieve",
            "The heat-map of its first finding.",
            public_id="$response.body#/evidence/0/findings/0/id",
        ),
    },
    ("applications_withdraw_create", "200"): {"GetApplication": _APPLICATION_LINKS["GetApplication"]},
    ("applications_contest_create", "200"): {"GetApplication": _APPLICATION_LINKS["GetApplication"]},
    ("applications_accept_create", "200"): {"GetApplication": _APPLICATION_LINKS["GetApplication"]},
    ("applications_evidence_create", "201"): {"GetApplication": _APPLICATION_LINKS["GetApplication"]},
    ("applications_appeals_create", "201"): _APPEAL_LINKS,
    ("applications_evidence_requests_answer_create", "201"): _EVIDENCE_REQUEST_LINKS,
    ("applications_list", "200"): {
        "GetFirstApplication": _link(
            "applications_retrieve", "Read the first application of the page.", public_id="$response.body#/results/0/id"
        ),
    },
    ("merchants_create", "201"): {
        "GetMerchant": _link("merchants_retrieve", "Read the merchant.", public_id="$response.body#/id"),
        "ListProducts": _link("products_list", "List the merchant's products.", merchant="$response.body#/id"),
        "ListApplications": _link(
            "applications_list", "List the merchant's applications.", merchant="$response.body#/id"
        ),
    },
    ("products_create", "201"): {
        "GetProduct": _link("products_retrieve", "Read the product.", public_id="$response.body#/id"),
        "ListReferenceImages": _link(
            "products_reference_images_list", "Its reference images.", public_id="$response.body#/id"
        ),
        "AddReferenceImage": _link(
            "products_reference_images_create", "Add a reference image.", public_id="$response.body#/id"
        ),
    },
    ("webhook_endpoints_create", "201"): {
        "GetEndpoint": _link("webhook_endpoints_retrieve", "Read the endpoint.", public_id=_ENDPOINT),
        "ChangeEndpoint": _link("webhook_endpoints_partial_update", "Change it.", public_id=_ENDPOINT),
        "RotateSecret": _link("webhook_endpoints_rotate_secret_create", "Rotate its secret.", public_id=_ENDPOINT),
        "DeleteEndpoint": _link("webhook_endpoints_destroy", "Remove it.", public_id=_ENDPOINT),
    },
    ("webhook_deliveries_list", "200"): {
        "Redeliver": _link(
            "webhook_deliveries_redeliver_create",
            "Send the first delivery of the page again.",
            public_id="$response.body#/results/0/id",
        ),
    },
}


# No text holds a NUL character: PostgreSQL cannot store one, and the API refuses it in every
# string it takes (body, query or path), so the schema's patterns say so.
NO_NUL = r"^[^\x00]*$"
# Text fields trim surrounding white space (what Python's str.strip removes) before checking
# that they are not blank: a required text must hold at least one other character (and no NUL).
_BLANK = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"
# What every accepted time starts with (the format alone lets some generators send "").
DATE_TIME_START = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"
# Request bodies whose serializers refuse fields they do not know.
CLOSED_REQUESTS = (
    "PatchedPolicyRequest",
    "WebhookEndpointRequest",
    "PatchedWebhookEndpointRequest",
    "RotateSecretRequest",
)


def _tighten_requests(schemas: dict[str, Any]) -> None:
    for name, component in schemas.items():
        if not name.endswith("Request"):
            continue
        for prop in component.get("properties", {}).values():
            if prop.get("type") == "string" and not ({"format", "enum", "pattern"} & set(prop)):
                prop["pattern"] = NOT_BLANK if prop.get("minLength", 0) >= 1 else NO_NUL
            if prop.get("format") == "date-time":
                prop["pattern"] = DATE_TIME_START
            if isinstance(prop.get("additionalProperties"), dict):  # finding codes: never empty
                prop["propertyNames"] = {"minLength": 1}
        if name in CLOSED_REQUESTS:
            component["additionalProperties"] = False


def add_errors_and_webhooks(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: errors, the Idempotency-Key header, links, webhooks."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    _tighten_requests(result["components"]["schemas"])
    result["components"]["schemas"]["WebhookEvent"] = WEBHOOK_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if path.endswith("/schema/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {"description": description, "content": error})
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("format") == "date-time":
                    schema["pattern"] = DATE_TIME_START
                elif (
                    parameter.get("in") != "header"
                    and schema.get("type") == "string"
                    and not ({"format", "enum", "pattern"} & set(schema))
                ):
                    schema["pattern"] = NO_NUL
            _add_examples(operation)
            if method == "post":
                parameters = [p for p in operation.get("parameters", []) if p.get("name") != IDEMPOTENCY_HEADER["name"]]
                operation["parameters"] = [*parameters, IDEMPOTENCY_HEADER]
            for (operation_id, code), links in LINKS.items():
                if operation.get("operationId") == operation_id and code in responses:
                    responses[code]["links"] = links
    result["webhooks"] = {
        "applicationStateChanged": {
            "post": {
                "summary": "An application changed state",
                "description": 'Signed: `Reviewhub-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, '
                "one `v1=` per signing secret (two during a secret rotation's overlap); accept any that matches.",
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}}
                },
                "responses": {"2XX": {"description": "Received; anything else is retried with back-off."}},
            }
        }
    }
    return result


class EnglishSchemaView(SpectacularAPIView):
    """The schema in English whatever language the request asks for (or ``?lang=``): clients
    generated from it take their names from it, and one API has one schema."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """The OpenAPI schema of this API (YAML, or JSON with `Accept: application/vnd.oai.openapi+json`)."""
        # Not through the parent's get, which would switch to the language of ``?lang=``.
        with translation.override("en"):
            return self._get_schema_response(request)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        with translation.override("en"):
            response = super().finalize_response(request, response, *args, **kwargs)
            # Lazy translations would otherwise be rendered later, in the request's language.
            response.render()
        response["Content-Language"] = "en"
        return response
