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

WEBHOOK_SCHEMA = {
    "type": "object",
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
