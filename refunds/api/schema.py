"""Additions to the generated OpenAPI schema: the one error shape on every operation, and webhooks."""

from __future__ import annotations

from typing import Any

ERROR_STATUSES = {
    "400": "Invalid request: the field is named in `details`.",
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
    "example": {"error": {"code": "deadline_passed", "message": "The merchant response window closed at 2026-12-02 18:44.",
                          "details": {"deadline": "2026-12-02T10:44:38.698631+00:00"}}},
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "invalid_state"},
                "message": {"type": "string", "example": "This is not possible while the application is Decided."},
                "details": {"type": "object", "additionalProperties": True},
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
        "from_state": "awaiting_merchant",
        "state": "decided",
        "action": "merchant_accept",
        "risk_level": "clean",
        "unscreened": False,
        "merchant_deadline": "2026-12-02T10:44:38.698631+00:00",
        "decision": {"outcome": "approved", "approved_amount": "39.90", "currency": "CNY", "actor_kind": "merchant",
                     "reason_codes": ["merchant_accepted"]},
    },
}

WEBHOOK_SCHEMA = {
    "type": "object",
    "example": WEBHOOK_EXAMPLE,
    "required": ["id", "type", "sequence", "created_at", "data"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Event id; use it to drop duplicates."},
        "type": {"type": "string", "enum": ["application.state_changed"]},
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
            },
        },
    },
}


def add_errors_and_webhooks(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    result["components"]["schemas"]["WebhookEvent"] = WEBHOOK_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if path.endswith("/schema/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {"description": description, "content": error})
    result["webhooks"] = {
        "applicationStateChanged": {
            "post": {
                "summary": "An application changed state",
                "description": "Signed: `Reviewhub-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`.",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}}},
                "responses": {"2XX": {"description": "Received; anything else is retried with back-off."}},
            }
        }
    }
    return result
