"""The decision panel's form: the shape of a decision; the review service judges it."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from refunds.models import RefundApplication
from refunds.services.evidence_requests import INSTRUCTIONS_MAX_LENGTH, default_instructions
from refunds.states import REVIEWER_REASONS, DecisionReason, Outcome

_REASON_LABELS = dict(DecisionReason.choices)


# The decision panel's keyboard shortcuts: one letter per outcome (its initial in English,
# kept in every language so that a reviewer's hands learn one set).
OUTCOME_KEYS = {Outcome.APPROVED: "a", Outcome.PARTIALLY_APPROVED: "p", Outcome.REJECTED: "r"}


def outcome_options() -> list[tuple[str, str, str]]:
    """Return each outcome, its label and its shortcut key."""
    return [(str(value), str(label), OUTCOME_KEYS[Outcome(value)]) for value, label in Outcome.choices]


def shortcut_help() -> list[tuple[str, str]]:
    """Return the decision panel's shortcuts as (key, what it does), in the reader's language."""
    labels = dict(Outcome.choices)
    return [
        *((key, str(labels[outcome])) for outcome, key in OUTCOME_KEYS.items()),
        ("n", gettext("Write the note")),
        ("d", gettext("Review and confirm the decision")),
        ("c", gettext("Claim the application, or renew the claim")),
        ("?", gettext("Show or hide these shortcuts")),
    ]


def reason_options() -> list[tuple[str, str, list[str]]]:
    """Return each reason a reviewer may give, its label and the outcomes it fits."""
    fits: dict[str, list[str]] = {}
    for outcome, codes in REVIEWER_REASONS.items():
        for code in codes:
            fits.setdefault(str(code), []).append(str(outcome))
    return [(code, str(_REASON_LABELS[code]), outcomes) for code, outcomes in fits.items()]


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(label=_("outcome"), choices=Outcome.choices, widget=forms.RadioSelect)
    approved_amount = forms.DecimalField(label=_("amount to refund"), required=False, max_digits=12, decimal_places=2)
    reason_codes = forms.MultipleChoiceField(label=_("reasons"), widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)

    def __init__(self, *args: object, application: RefundApplication, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.application = application
        self.fields["reason_codes"].choices = [(code, label) for code, label, _fits in reason_options()]
        self.fields["approved_amount"].widget.attrs.update(
            {"min": "0.01", "step": "0.01", "max": str(application.amount)}
        )

    def clean(self) -> dict[str, object]:
        data = super().clean()
        # Only a partial approval names an amount; which amounts and reasons fit is the review
        # service's to say (application_decision_check), mapped back onto these fields.
        if data.get("outcome") != Outcome.PARTIALLY_APPROVED:
            data["approved_amount"] = None
        return data

    def reason_labels(self) -> list[str]:
        return [str(_REASON_LABELS[code]) for code in self.cleaned_data["reason_codes"]]


class EvidenceRequestForm(forms.Form):
    """Ask the buyer for another photo: which photo to take again, and what to tell the buyer in
    which language (the default instructions when left empty)."""

    evidence = forms.ChoiceField(label=_("photo to take again"))
    language = forms.ChoiceField(label=_("buyer's language"), choices=settings.LANGUAGES)
    instructions = forms.CharField(
        label=_("instructions for the buyer"),
        required=False,
        max_length=INSTRUCTIONS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Leave empty to send the standard instructions in the buyer's language."),
    )

    def __init__(self, *args: object, application: RefundApplication, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        photos = list(application.evidence.all())
        self.fields["evidence"].choices = [
            (str(photo.public_id), gettext("Evidence %(n)d") % {"n": n}) for n, photo in enumerate(photos, start=1)
        ]
        self.fields["language"].initial = settings.LANGUAGE_CODE
        self.fields["instructions"].widget.attrs["placeholder"] = default_instructions(settings.LANGUAGE_CODE)


class EvidenceRequestCancelForm(forms.Form):
    reason = forms.CharField(label=_("why no photo is needed any more"), required=False, max_length=500)
