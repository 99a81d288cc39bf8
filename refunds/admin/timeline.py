"""The audit log in words: who did what, when, from which state to which."""

from __future__ import annotations

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from refunds.models import AuditEvent
from refunds.states import ApplicationState, BuyerRiskReason, DecisionReason, Outcome
from refunds.vocab import CLAIM_EXPIRED_REASON, AuditAction

_STATES = dict(ApplicationState.choices)
_OUTCOMES = dict(Outcome.choices)
_REASONS = dict(DecisionReason.choices)
_BUYER_REASONS = dict(BuyerRiskReason.choices)


def _when(value: str | None) -> str:
    moment = parse_datetime(value or "")
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else "?"


def _state(code: str) -> str:
    return str(_STATES.get(code, code or "∅"))


def _sentence(event: AuditEvent) -> str:
    p = event.payload or {}
    actor = event.actor_label or event.get_actor_kind_display()
    sentences = {
        AuditAction.SUBMIT: lambda: _("%(actor)s submitted the application.") % {"actor": actor},
        AuditAction.SCREEN: lambda: _("Screening finished."),
        AuditAction.RESCREEN: lambda: _("The new evidence was screened and the risk updated."),
        AuditAction.UNSCREENED: lambda: _(
            "Screening failed after its retries; the application goes to people, flagged unscreened."
        ),
        AuditAction.FAST_TRACK: lambda: _("Approved automatically: clean screening below the fast-track ceiling."),
        AuditAction.OPEN_WINDOW: lambda: _("The merchant's response window opened."),
        AuditAction.ADD_EVIDENCE: lambda: _("%(actor)s added evidence.") % {"actor": actor},
        AuditAction.MERCHANT_ACCEPT: lambda: _("The merchant (%(actor)s) accepted the refund.") % {"actor": actor},
        AuditAction.MERCHANT_CONTEST: lambda: (
            _("The merchant (%(actor)s) contested the refund with a rebuttal.") % {"actor": actor}
        ),
        AuditAction.WINDOW_EXPIRED_APPROVE: lambda: _(
            "The merchant's window closed; approved automatically on clean screening."
        ),
        AuditAction.WINDOW_EXPIRED_REVIEW: lambda: _("The merchant's window closed; sent to human review."),
        AuditAction.CLAIM: lambda: (
            _("%(actor)s claimed the application until %(until)s.") % {"actor": actor, "until": _when(p.get("until"))}
        ),
        AuditAction.RELEASE_CLAIM: lambda: (
            _("The claim of %(holder)s expired and was released.") % {"holder": p.get("holder") or "?"}
            if event.reason == CLAIM_EXPIRED_REASON
            else _("%(actor)s released the claim.") % {"actor": actor}
        ),
        AuditAction.DECIDE: lambda: (
            _("%(actor)s decided: %(outcome)s, %(amount)s; reasons: %(reasons)s.")
            % {
                "actor": actor,
                "outcome": _OUTCOMES.get(p.get("outcome"), p.get("outcome")),
                "amount": p.get("amount"),
                "reasons": "; ".join(
                    str(_REASONS.get(code, code))
                    for code in p.get("reason_codes") or [c.strip() for c in event.reason.split(",") if c.strip()]
                ),
            }
        ),
        AuditAction.WITHDRAW: lambda: _("%(actor)s withdrew the application.") % {"actor": actor},
        AuditAction.DOSSIER_GENERATED: lambda: _("%(actor)s downloaded the evidence dossier.") % {"actor": actor},
    }
    make = sentences.get(event.action)
    sentence = make() if make else _("%(actor)s: %(action)s.") % {"actor": actor, "action": event.get_action_display()}
    if p.get("overrode_claim_of"):
        sentence += " " + _("A senior reviewer's override of the claim held by %(holder)s.") % {
            "holder": p["overrode_claim_of"]
        }
    if p.get("buyer_risk"):
        sentence += " " + _("Not approved automatically because of the buyer's record: %(reasons)s.") % {
            "reasons": "; ".join(str(_BUYER_REASONS.get(code, code)) for code in p["buyer_risk"])
        }
    return sentence


def describe(event: AuditEvent) -> str:
    """Return the event as a sentence in the active language, with the change of state if any."""
    sentence = _sentence(event)
    if event.from_state != event.to_state:
        sentence = _("%(sentence)s (%(from)s → %(to)s)") % {
            "sentence": sentence,
            "from": _state(event.from_state),
            "to": _state(event.to_state),
        }
    return sentence
