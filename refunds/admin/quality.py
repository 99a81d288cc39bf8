"""The second-review queue and a second review's page. The page is blind: until the second
reviewer has recorded an outcome it shows the case (the claim, the evidence and its screening,
the merchant's rebuttal) but nothing of the decision, nor a link to the application's page,
which shows it. Claiming, recording and resolving are POST views over the quality services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from refunds import services
from refunds.admin.base import ReadOnlyAdmin, thumbnail
from refunds.admin.forms import reason_options
from refunds.errors import DomainError
from refunds.models import QAReview
from refunds.states import Outcome, QAResolution, QAReviewState, RebuttalReason
from screening.messages import label as finding_label


class QARecordForm(forms.Form):
    """The shape of a second reviewer's outcome; the quality service judges it."""

    outcome = forms.ChoiceField(label=_("your outcome"), choices=Outcome.choices, widget=forms.RadioSelect)
    approved_amount = forms.DecimalField(
        label=_("amount to refund (partial approval only)"), required=False, max_digits=12, decimal_places=2
    )
    reason_codes = forms.MultipleChoiceField(label=_("reasons"), widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason_codes"].choices = [(code, label) for code, label, _fits in reason_options()]

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if data.get("outcome") != Outcome.PARTIALLY_APPROVED:
            data["approved_amount"] = None
        return data


class QAResolveForm(forms.Form):
    resolution = forms.ChoiceField(label=_("which was right"), choices=QAResolution.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class QAStatusFilter(admin.SimpleListFilter):
    """Waiting second reviews by default; seniors pick the disagreements."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("waiting", gettext("Waiting for a second reviewer")),
            ("disagreed", gettext("Disagreements for a senior reviewer")),
            ("closed", gettext("Closed")),
            ("all", gettext("All")),
        ]

    def choices(self, changelist: object):  # noqa: ANN201
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "waiting") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[QAReview]) -> QuerySet[QAReview]:
        value = self.value() or "waiting"
        if value == "waiting":
            return queryset.filter(state__in=[QAReviewState.OPEN, QAReviewState.CLAIMED])
        if value == "disagreed":
            return queryset.filter(state=QAReviewState.DISAGREED)
        if value == "closed":
            return queryset.filter(state__in=[QAReviewState.AGREED, QAReviewState.RESOLVED])
        return queryset


@admin.register(QAReview)
class QAReviewAdmin(ReadOnlyAdmin):
    """Nobody edits, adds or deletes second reviews here, a superuser neither."""

    # No application, order or decider column: the queue is as blind as the page.
    list_display = ["reference", "state", "sampled_at", "claim"]
    list_display_links = None
    list_filter = [QAStatusFilter]
    list_select_related = ["claimed_by"]
    search_fields = ["^public_id"]
    ordering = ["sampled_at", "pk"]
    change_form_template = "admin/refunds/qareview/change_form.html"
    fields = [
        "public_id",
        "state",
        "sampled_at",
        "claim",
        "case",
        "evidence_shown",
        "rebuttal_shown",
        "second_outcome",
        "comparison",
        "resolution_text",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return list(self.fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[QAReview]:
        return super().get_queryset(request).select_related("application__product", "claimed_by")

    # --- what the queue and the page show ----------------------------------------------

    @admin.display(description=_("second review"))
    def reference(self, obj: QAReview) -> str:
        url = reverse("admin:refunds_qareview_change", args=[obj.pk])
        return format_html('<a href="{}" class="rh-id" title="{}">{}</a>', url, obj.public_id, str(obj.public_id)[:8])

    @admin.display(description=_("claim"))
    def claim(self, obj: QAReview) -> str:
        if obj.claimed_by_id is None or obj.has_no_live_claim():
            return "—"
        return obj.claimed_by.get_username()

    @admin.display(description=_("what the buyer asks"))
    def case(self, obj: QAReview) -> str:
        application = obj.application
        return format_html(
            "<div>{}</div><div>{}: {} {}</div><div>{}: {}</div><div>{}: {}</div><div>{}</div>",
            application.product.title,
            gettext("amount claimed"),
            application.amount,
            application.currency,
            gettext("reason"),
            application.get_reason_code_display(),
            gettext("risk"),
            application.get_risk_level_display() or "—",
            application.description or "",
        )

    @admin.display(description=_("evidence"))
    def evidence_shown(self, obj: QAReview) -> str:
        rows = []
        for evidence in obj.application.evidence.select_related("screening").prefetch_related("screening__findings"):
            result = getattr(evidence, "screening", None)
            findings = (
                ", ".join(f"{finding_label(f.code)} ({f.score:.2f})" for f in result.findings.all())
                if result is not None
                else ""
            )
            rows.append((thumbnail("evidence", evidence), findings or "—"))
        return format_html_join("", "<div>{} {}</div>", rows) or "—"

    @admin.display(description=_("rebuttal"))
    def rebuttal_shown(self, obj: QAReview) -> str:
        rebuttal = getattr(obj.application, "rebuttal", None)
        if rebuttal is None:
            return "—"
        labels = dict(RebuttalReason.choices)
        reasons = ", ".join(str(labels.get(code, code)) for code in rebuttal.reason_codes)
        files = format_html_join(" ", "{}", ((thumbnail("rebuttal", item),) for item in rebuttal.attachments.all()))
        return format_html("<div>{}</div><div>{}</div><div>{}</div>", reasons, rebuttal.statement, files)

    @admin.display(description=_("second outcome"))
    def second_outcome(self, obj: QAReview) -> str:
        if not obj.is_recorded:
            return "—"
        return gettext("%(outcome)s, %(amount)s %(currency)s, by %(who)s. %(note)s") % {
            "outcome": obj.get_outcome_display(),
            "amount": obj.approved_amount,
            "currency": obj.currency,
            "who": obj.reviewer.get_username() if obj.reviewer else "",
            "note": obj.note,
        }

    @admin.display(description=_("decision reviewed"))
    def comparison(self, obj: QAReview) -> str:
        # The blind rule: nothing of the decision before the second outcome is recorded.
        if not obj.is_recorded:
            return gettext("Hidden until the second review is recorded.")
        decision = obj.decision
        url = reverse("admin:refunds_refundapplication_change", args=[obj.application_id])
        return format_html(
            '{} <a href="{}">{}</a>',
            gettext("%(outcome)s, %(amount)s %(currency)s, by %(who)s. %(note)s")
            % {
                "outcome": decision.get_outcome_display(),
                "amount": decision.approved_amount,
                "currency": decision.currency,
                "who": decision.actor.get_username() if decision.actor else decision.get_actor_kind_display(),
                "note": decision.note,
            },
            url,
            obj.application.order_ref,
        )

    @admin.display(description=_("resolution"))
    def resolution_text(self, obj: QAReview) -> str:
        if obj.state != QAReviewState.RESOLVED:
            return "—"
        return gettext("%(resolution)s (%(who)s). %(note)s") % {
            "resolution": obj.get_resolution_display(),
            "who": obj.resolved_by.get_username() if obj.resolved_by else "",
            "note": obj.resolution_note,
        }

    # --- claiming, recording and resolving, through the services -----------------------

    def get_urls(self) -> list[object]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:object_id>/claim/", wrap(self.claim_view), name="refunds_qareview_claim"),
            path("<int:object_id>/record/", wrap(self.record_view), name="refunds_qareview_record"),
            path("<int:object_id>/resolve/", wrap(self.resolve_view), name="refunds_qareview_resolve"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return self._page(request, object_id, QARecordForm(), QAResolveForm(), extra_context)

    def _page(
        self,
        request: HttpRequest,
        object_id: str,
        record_form: QARecordForm,
        resolve_form: QAResolveForm,
        extra_context: dict | None = None,
    ) -> HttpResponse:
        # Not a number: a relative address a client resolved against this page (axe-core does so
        # with the admin's stylesheets' @import) is not found, not a server error.
        if not str(object_id).isdigit():
            raise Http404
        review = get_object_or_404(QAReview.objects.select_related("decision"), pk=object_id)
        context = {
            **(extra_context or {}),
            "record_form": record_form,
            "resolve_form": resolve_form,
            "rights": services.qa_review_rights(review=review, user=request.user),
        }
        # A refused step is shown on the page as its GET draws it, with the form as it was filled in.
        request.method = "GET"
        return super().change_view(request, object_id, extra_context=context)

    def _review(self, request: HttpRequest, object_id: int) -> QAReview:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(QAReview, pk=object_id)

    def _back(self, review: QAReview) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:refunds_qareview_change", args=[review.pk]))

    def claim_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        review = self._review(request, object_id)
        if request.method == "POST":
            try:
                services.qa_review_claim(qa_review_id=review.public_id, reviewer=request.user)
            except DomainError as error:
                messages.error(request, str(error.message))
            else:
                messages.success(request, gettext("You hold this second review."))
        return self._back(review)

    def record_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        review = self._review(request, object_id)
        if request.method != "POST":
            return self._back(review)
        form = QARecordForm(request.POST)
        if not form.is_valid():
            messages.error(request, gettext("The second review is incomplete; see the panel."))
            return self._page(request, str(review.pk), form, QAResolveForm())
        data = form.cleaned_data
        try:
            services.qa_review_record(
                qa_review_id=review.public_id,
                reviewer=request.user,
                outcome=data["outcome"],
                reason_codes=data["reason_codes"],
                note=data["note"],
                approved_amount=data["approved_amount"],
            )
        except DomainError as error:
            messages.error(request, str(error.message))
            error.add_to_form(form)
            return self._page(request, str(review.pk), form, QAResolveForm())
        messages.success(request, gettext("The second review is recorded."))
        return self._back(review)

    def resolve_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        review = self._review(request, object_id)
        if request.method != "POST":
            return self._back(review)
        form = QAResolveForm(request.POST)
        if not form.is_valid():
            messages.error(request, gettext("The resolution is incomplete; see the panel."))
            return self._page(request, str(review.pk), QARecordForm(), form)
        try:
            services.qa_review_resolve(
                qa_review_id=review.public_id,
                senior=request.user,
                resolution=form.cleaned_data["resolution"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            messages.error(request, str(error.message))
            error.add_to_form(form)
            return self._page(request, str(review.pk), QARecordForm(), form)
        messages.success(request, gettext("The disagreement is resolved; the decision stays as it was."))
        return self._back(review)
