"""Portal forms: input shapes only; the services check the rules and the uploads."""

from __future__ import annotations

from django import forms
from django.conf import settings
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


class ContestForm(forms.Form):
    reason_codes = forms.MultipleChoiceField(
        label=_("Why do you contest?"),
        choices=RebuttalReason.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one reason.")},
    )
    statement = forms.CharField(
        label=_("Your statement"),
        max_length=STATEMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, in your words. Reviewers read it beside the buyer's photos."),
        error_messages={"required": ErrorCode.STATEMENT_REQUIRED.message},
    )
    attachments = MultipleFileField(
        label=_("Packing photos, packing video, shipping proof"),
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,.heic,video/mp4"}),
    )
    confirm = forms.BooleanField(
        label=_("I have checked my statement and files; once sent they cannot be changed."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


class AppealForm(forms.Form):
    reason_codes = forms.MultipleChoiceField(
        label=_("Why do you appeal?"),
        choices=AppealReason.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one reason.")},
    )
    statement = forms.CharField(
        label=_("Your statement"),
        max_length=STATEMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What the decision got wrong, in your words. Another reviewer reads it with the whole file."),
        error_messages={"required": ErrorCode.APPEAL_STATEMENT_REQUIRED.message},
    )
    attachments = MultipleFileField(
        label=_("Supporting photos, video or documents"),
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,.heic,video/mp4"}),
    )
    confirm = forms.BooleanField(
        label=_("I have checked my appeal; once sent it cannot be changed, only withdrawn."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


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
