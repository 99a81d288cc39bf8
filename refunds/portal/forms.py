"""Portal forms: input shapes only; the services check the rules and the uploads."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from refunds.errors import ErrorCode
from refunds.models import ReferenceImage
from refunds.notifications.models import NotificationPreference
from refunds.services.merchant import STATEMENT_MAX_LENGTH
from refunds.states import RebuttalReason
from refunds.vocab import AppealReason


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (the limit is the service's); an empty selection is allowed."""

    widget = MultipleFileInput

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: object, initial: object = None) -> list[object]:
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items if item]


def upload_limits() -> dict[str, int]:
    """The limits the upload checks apply, in the units the forms state them in."""
    return {
        "image_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        "video_mb": settings.UPLOAD_MAX_VIDEO_BYTES // (1024 * 1024),
        "files": settings.UPLOAD_MAX_FILES,
        "video_seconds": settings.VIDEO_MAX_SECONDS,
    }


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have checked the claim and accept the refund in full."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


class PartyStatementForm(forms.Form):
    """A party's reasons, statement and supporting files, confirmed before they are sent (a
    rebuttal, an appeal); each kind names its reasons and its words below."""

    reasons: type[models.TextChoices]
    reasons_label: Promise
    statement_help: Promise
    statement_required: Promise
    attachments_label: Promise
    confirm_label: Promise

    reason_codes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, error_messages={"required": _("Choose at least one reason.")}
    )
    statement = forms.CharField(
        label=_("Your statement"), max_length=STATEMENT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6})
    )
    attachments = MultipleFileField(
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,.heic,video/mp4"}),
    )
    confirm = forms.BooleanField(error_messages={"required": _("Tick the box to confirm.")})

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["reason_codes"].choices = self.reasons.choices
        fields["reason_codes"].label = self.reasons_label
        fields["statement"].help_text = self.statement_help
        fields["statement"].error_messages["required"] = self.statement_required
        fields["attachments"].label = self.attachments_label
        fields["confirm"].label = self.confirm_label


class ContestForm(PartyStatementForm):
    reasons = RebuttalReason
    reasons_label = _("Why do you contest?")
    statement_help = _("What happened, in your words. Reviewers read it beside the buyer's photos.")
    statement_required = ErrorCode.STATEMENT_REQUIRED.message
    attachments_label = _("Packing photos, packing video, shipping proof")
    confirm_label = _("I have checked my statement and files; once sent they cannot be changed.")


class AppealForm(PartyStatementForm):
    reasons = AppealReason
    reasons_label = _("Why do you appeal?")
    statement_help = _("What the decision got wrong, in your words. Another reviewer reads it with the whole file.")
    statement_required = ErrorCode.APPEAL_STATEMENT_REQUIRED.message
    attachments_label = _("Supporting photos, video or documents")
    confirm_label = _("I have checked my appeal; once sent it cannot be changed, only withdrawn.")


class ReferenceImageForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=ReferenceImage.Kind.choices, initial=ReferenceImage.Kind.CATALOGUE
    )
    image = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,.heic"}),
        error_messages={"required": _("Choose a photo to upload.")},
    )


class NotificationPreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["window_opened", "deadline_reminder", "decision", "language"]
        labels = {"language": _("Language of the e-mails")}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("The site's default language")), *settings.LANGUAGES]
