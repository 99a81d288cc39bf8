"""The admin's History of an application in the reader's language.

Django stores a LogEntry's change message as text, in the language of whoever acted; the
messages written here are stored as a code and its parameters instead, and put into words
when read. Messages stored as text before are recognised in either language and read in
the reader's, decision summaries included (their outcome and reasons read back to codes).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from django.utils import translation

from refunds.states import DecisionReason, Outcome
from refunds.vocab import ReviewLogMessage

_KEY = "reviewhub"


def log_message(message: ReviewLogMessage, **params: Any) -> str:
    """Return the change message to store for ``message`` with its parameters (codes, not words)."""
    return json.dumps([{_KEY: {"message": message.value, "params": params}}])


def _words(message: ReviewLogMessage, params: dict[str, Any]) -> str:
    if message != ReviewLogMessage.DECIDED:
        return str(message.label)
    outcomes, reasons = dict(Outcome.choices), dict(DecisionReason.choices)
    return str(ReviewLogMessage.DECIDED.label) % {
        "outcome": outcomes.get(params.get("outcome"), params.get("outcome")),
        "amount": Decimal(str(params.get("amount", "0"))).quantize(Decimal("0.01")),
        "currency": params.get("currency", ""),
        "reasons": "; ".join(str(reasons.get(code, code)) for code in params.get("reasons", [])),
    }


def _legacy(text: str) -> ReviewLogMessage | None:
    """Return the message a plain-text entry of either language says, if it is one without parameters."""
    for message in ReviewLogMessage:
        if message == ReviewLogMessage.DECIDED:
            continue
        for language in ("en", "zh-hans"):
            with translation.override(language):
                if text == str(message.label):
                    return message
    return None


def _legacy_decision(text: str) -> dict[str, Any] | None:
    """Return the parameters of a decision summary stored as text in either language, or None."""
    for language in ("en", "zh-hans"):
        with translation.override(language):
            template = str(ReviewLogMessage.DECIDED.label)
            outcomes = {str(label): code for code, label in Outcome.choices}
            reasons = {str(label): code for code, label in DecisionReason.choices}
        pattern = re.escape(template)
        for name, group in (
            ("outcome", r"(?P<outcome>.+?)"),
            ("amount", r"(?P<amount>-?[0-9]+(?:\.[0-9]+)?)"),
            ("currency", r"(?P<currency>[A-Z]{3})"),
            ("reasons", r"(?P<reasons>.*)"),
        ):
            pattern = pattern.replace(re.escape(f"%({name})s"), group, 1)
        found = re.fullmatch(pattern, text, re.DOTALL)
        if found is None or found["outcome"] not in outcomes:
            continue
        named = [part for part in found["reasons"].split("; ") if part]
        if any(part not in reasons for part in named):
            continue
        return {
            "outcome": outcomes[found["outcome"]],
            "amount": found["amount"],
            "currency": found["currency"],
            "reasons": [reasons[part] for part in named],
        }
    return None


def change_message_text(raw: str) -> str | None:
    """Return the stored change message in the reader's language, or None if it is not one of ours."""
    if raw.startswith("[") and _KEY in raw:
        try:
            entry = json.loads(raw)[0][_KEY]
            return _words(ReviewLogMessage(entry["message"]), entry.get("params") or {})
        except (ValueError, KeyError, IndexError, TypeError):
            return None
    legacy = _legacy(raw)
    if legacy is not None:
        return str(legacy.label)
    decision = _legacy_decision(raw)
    return _words(ReviewLogMessage.DECIDED, decision) if decision is not None else None


class ReadableLogEntry:
    """A LogEntry whose change message is put into the reader's language."""

    def __init__(self, entry: Any):
        self._entry = entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._entry, name)

    def get_change_message(self) -> str:
        return change_message_text(self._entry.change_message or "") or self._entry.get_change_message()
