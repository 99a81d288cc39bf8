"""The reviewers' appeals queue and an appeal's page. Nothing here changes an appeal except
through the appeal services: claiming and deciding are their own POST views."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from refunds import services
from refunds.admin.base import ReadOnlyAdmin, file_url
from refunds.admin.forms import reason_options
from refunds.errors import DomainError
from refunds.models import Appeal
from refunds.roles import CLAIM, DECIDE
from refunds.states import OPEN_APPEAL_STATES, AppealVerdict, Outcome
from refunds.vocab import AppealReason


class AppealDecisionForm(forms.Form):
    """The shape of an appeal's decision; the appeal service judges it."""

    verdict = forms.ChoiceField(label=_("verdict"), choices=AppealVerdict.choices, widget=forms.RadioSelect)
    outcome = forms.ChoiceField(
        label=_("new outcome (overturn only)"), choices=[("", "—"), *Outcome.choices], required=False
    )
    approved_amount = forms.DecimalField(
        label=_("amount to refund (partial approval only)"), required=False, max_digits=12, decimal_places=2
    )
    reason_codes = forms.MultipleChoiceField(
        label=_("reasons (overturn only)"), required=False, widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(
        label=_("note to the parties"),
        help_text=_("The merchant and the platform read it with the verdict."),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason_codes"].choices = [(code, label) for code, label, _fits in reason_options()]


class AppealStatusFilter(admin.SimpleListFilter):
    """Open appeals by default: the queue is what waits for a reviewer."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("open", gettext("Open")), ("closed", gettext("Closed")), ("all", gettext("All"))]

    def choices(self, changelist: object):  # noqa: ANN201
        # No "All" entry of Django's own: its "all" is ours, and the default is "open".
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "open") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Appeal]) -> QuerySet[Appeal]:
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(state__in=OPEN_APPEAL_STATES)
        if value == "closed":
            return queryset.exclude(state__in=OPEN_APPEAL_STATES)
        return queryset


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    """Nobody edits, adds or deletes appeals here, a superuser neither."""

    list_display = ["reference", "application_link", "side", "state", "filed_at", "claim"]
    list_display_links = None
    list_filter = [AppealStatusFilter, "side", "state"]
    list_select_related = ["application", "claimed_by"]
    search_fields = ["^public_id", "^application__public_id", "^application__order_ref"]
    # Oldest first: appeals are answered in the order they came (the index appeal_queue).
    ordering = ["filed_at", "pk"]
    change_form_template = "admin/refunds/appeal/change_form.html"
    fields = [
        "public_id",
        "application_link",
        "side",
        "state",
        "reasons",
        "statement",
        "files",
        "appealed_decision",
        "filed_by_label",
        "filed_at",
        "claimed_by",
        "claim_expires_at",
        "appeal_decision_text",
        "closed_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return list(self.fields)

    # --- what the queue and the page show ----------------------------------------------

    @admin.display(description=_("appeal"))
    def reference(self, obj: Appeal) -> str:
        url = reverse("admin:refunds_appeal_change", args=[obj.pk])
        return format_html('<a href="{}" class="rh-id" title="{}">{}</a>', url, obj.public_id, str(obj.public_id)[:8])

    @admin.display(description=_("application"))
    def application_link(self, obj: Appeal) -> str:
        url = reverse("admin:refunds_refundapplication_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.order_ref)

    @admin.display(description=_("claim"))
    def claim(self, obj: Appeal) -> str:
        if obj.claimed_by_id is None or obj.has_no_live_claim():
            return "—"
        return obj.claimed_by.get_username()

    @admin.display(description=_("reasons"))
    def reasons(self, obj: Appeal) -> str:
        labels = dict(AppealReason.choices)
        return ", ".join(str(labels.get(code, code)) for code in obj.reason_codes) or "—"

    @admin.display(description=_("files"))
    def files(self, obj: Appeal) -> str:
        return (
            format_html_join(
                ", ", '<a href="{}" target="_blank">{}</a>', ((file_url("appeal", f), f) for f in obj.attachments.all())
            )
            or "—"
        )

    @admin.display(description=_("decision appealed"))
    def appealed_decision(self, obj: Appeal) -> str:
        decision = obj.decision
        who = decision.actor.get_username() if decision.actor else decision.get_actor_kind_display()
        return gettext("%(outcome)s, %(amount)s %(currency)s, by %(who)s") % {
            "outcome": decision.get_outcome_display(),
            "amount": decision.approved_amount,
            "currency": decision.currency,
            "who": who,
        }

    @admin.display(description=_("appeal decision"))
    def appeal_decision_text(self, obj: Appeal) -> str:
        ruling = getattr(obj, "appeal_decision", None)
        if ruling is None:
            return "—"
        if ruling.verdict == AppealVerdict.OVERTURNED:
            text = gettext("Overturned by %(who)s: %(outcome)s, %(amount)s %(currency)s. %(note)s")
        else:
            text = gettext("Upheld by %(who)s. %(note)s")
        return text % {
            "who": ruling.reviewer.get_username(),
            "outcome": ruling.get_outcome_display(),
            "amount": ruling.approved_amount,
            "currency": ruling.currency,
            "note": ruling.note,
        }

    # --- claiming and deciding, through the services ------------------------------------

    def get_urls(self) -> list[object]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:object_id>/claim/", wrap(self.claim_view), name="refunds_appeal_claim"),
            path("<int:object_id>/decide/", wrap(self.decide_view), name="refunds_appeal_decide"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return self._page(request, object_id, AppealDecisionForm(), extra_context)

    def _page(
        self, request: HttpRequest, object_id: str, form: AppealDecisionForm, extra_context: dict | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "decision_form": form,
            "may_claim": request.user.has_perm(CLAIM),
            "may_decide": request.user.has_perm(DECIDE),
        }
        # A refused decision is shown on the page as its GET draws it, with the panel as the
        # reviewer filled it in (Django's change view would take a POST for its own form).
        request.method = "GET"
        return super().change_view(request, object_id, extra_context=context)

    def _appeal(self, request: HttpRequest, object_id: int) -> Appeal:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Appeal, pk=object_id)

    def _back(self, appeal: Appeal) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:refunds_appeal_change", args=[appeal.pk]))

    def claim_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        appeal = self._appeal(request, object_id)
        if request.method == "POST":
            try:
                services.appeal_claim(appeal_id=appeal.public_id, reviewer=request.user)
            except DomainError as error:
                messages.error(request, str(error.message))
            else:
                messages.success(request, gettext("You hold this appeal."))
        return self._back(appeal)

    def decide_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        appeal = self._appeal(request, object_id)
        if request.method != "POST":
            return self._back(appeal)
        form = AppealDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, gettext("The decision is incomplete; see the panel."))
            return self._page(request, str(appeal.pk), form)
        data = form.cleaned_data
        try:
            services.appeal_decide(
                appeal_id=appeal.public_id,
                reviewer=request.user,
                verdict=data["verdict"],
                note=data["note"],
                outcome=data["outcome"],
                reason_codes=data["reason_codes"],
                approved_amount=data["approved_amount"],
            )
        except DomainError as error:
            messages.error(request, str(error.message))
            error.add_to_form(form)
            return self._page(request, str(appeal.pk), form)
        messages.success(request, gettext("The appeal is decided."))
        return self._back(appeal)
