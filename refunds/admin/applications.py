"""The reviewers' queue and application page. Nothing here changes an application except
through the review services; deciding happens one application at a time, on its page."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import BooleanField, Case, Exists, OuterRef, QuerySet, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from refunds import selectors, services
from refunds.admin.alignment import aligned_overlay
from refunds.admin.filters import (
    VIEW_LABELS,
    AgeFilter,
    AmountBandFilter,
    FindingFilter,
    MerchantFilter,
    QueueViewFilter,
)
from refunds.admin.forms import (
    DecisionForm,
    EvidenceRequestCancelForm,
    EvidenceRequestForm,
    outcome_options,
    reason_options,
    shortcut_help,
)
from refunds.admin.history import ReadableLogEntry, change_message_text, log_message
from refunds.admin.statistics import statistics_context
from refunds.admin.workspace import workspace_context
from refunds.errors import DomainError
from refunds.models import Evidence, EvidenceRequest, RefundApplication
from refunds.roles import CLAIM, DECIDE, DOWNLOAD_DOSSIER
from refunds.services import Actor
from refunds.services.dossier import Audience, application_dossier_generate
from refunds.states import ActorKind, ApplicationState, EvidenceRequestState
from refunds.views import safe_file_response
from refunds.vocab import ReviewLogMessage


def _local(moment: object) -> str:
    return formats.date_format(timezone.localtime(moment), "m-d H:i") if moment else "—"


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes < 60:
        return gettext("%(n)d min") % {"n": minutes}
    if minutes < 48 * 60:
        return gettext("%(n)d h") % {"n": minutes // 60}
    return gettext("%(n)d d") % {"n": minutes // (24 * 60)}


@admin.register(RefundApplication)
class RefundApplicationAdmin(admin.ModelAdmin):
    list_display = ["reference", "shop", "claimed_amount", "risk", "due", "claim", "state_badge", "age"]
    list_display_links = None
    list_filter = [
        QueueViewFilter,
        "risk_level",
        FindingFilter,
        AmountBandFilter,
        AgeFilter,
        ("merchant", MerchantFilter),
    ]
    list_select_related = ["merchant", "claimed_by"]
    # Prefixes: a reviewer types the first characters of an id they were read over the phone;
    # a prefix still uses the references' indexes, where "contains" would scan every row.
    search_fields = ["^public_id", "^order_ref", "^buyer_ref"]
    search_help_text = _("The start of an application id, order reference or buyer reference.")
    list_per_page = 50
    # The filtered count is enough; the unfiltered total would cost another count of every row.
    show_full_result_count = False
    actions = None
    change_list_template = "admin/refunds/refundapplication/queue.html"

    def get_ordering(self, request: HttpRequest) -> list[object]:
        return selectors.queue_ordering()

    # --- nobody edits, adds or deletes applications here, a superuser neither -----------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    # --- the queue's columns -----------------------------------------------------------

    @admin.display(description=_("application"))
    def reference(self, obj: RefundApplication) -> str:
        url = reverse("admin:refunds_refundapplication_change", args=[obj.pk])
        return format_html(
            '<a href="{}" class="rh-id" title="{}">{}</a><div class="rh-sub">{}</div>',
            url,
            obj.public_id,
            str(obj.public_id)[:8],
            obj.order_ref,
        )

    @admin.display(description=_("merchant"), ordering="merchant__name")
    def shop(self, obj: RefundApplication) -> str:
        return obj.merchant.name

    @admin.display(description=_("amount"), ordering="amount")
    def claimed_amount(self, obj: RefundApplication) -> str:
        return format_html('<span class="rh-amount">{} {}</span>', obj.amount, obj.currency)

    @admin.display(description=_("risk"), ordering="-risk_score")
    def risk(self, obj: RefundApplication) -> str:
        return risk_badge(obj)

    @admin.display(description=_("review due"), ordering="review_due_at")
    def due(self, obj: RefundApplication) -> str:
        if getattr(obj, "waits_for_photo", False) and obj.state == ApplicationState.IN_REVIEW:
            # The review clock is paused: no due date runs until the photo comes or its time is up.
            return format_html('<span class="rh-waiting">{}</span>', gettext("waiting for the buyer's second photo"))
        if obj.review_due_at is None or obj.state != ApplicationState.IN_REVIEW:
            return "—"
        delta = obj.review_due_at - timezone.now()
        if delta.total_seconds() < 0:
            return format_html(
                '<span class="rh-overdue">{}</span><div class="rh-sub">{}</div>',
                gettext("overdue %(span)s") % {"span": _span(delta)},
                _local(obj.review_due_at),
            )
        return format_html(
            '{}<div class="rh-sub">{}</div>', gettext("in %(span)s") % {"span": _span(delta)}, _local(obj.review_due_at)
        )

    @admin.display(description=_("claim"))
    def claim(self, obj: RefundApplication) -> str:
        if obj.claimed_by_id is None or obj.has_no_live_claim():
            return "—"
        mine = getattr(obj, "claim_is_mine", False)
        holder = gettext("you") if mine else obj.claimed_by.get_username()
        return format_html(
            '<span class="rh-claim{}">{}</span><div class="rh-sub">{}</div>',
            " rh-claim-mine" if mine else "",
            holder,
            gettext("until %(time)s") % {"time": _local(obj.claim_expires_at)},
        )

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj: RefundApplication) -> str:
        return format_html('<span class="rh-state rh-state-{}">{}</span>', obj.state, obj.get_state_display())

    @admin.display(description=_("age"), ordering="created_at")
    def age(self, obj: RefundApplication) -> str:
        return _span(timezone.now() - obj.created_at)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        # The history names the decision ("Decided: approved …"): as blind as the page.
        if object_id.isdigit() and selectors.decision_hidden_from(application_pk=int(object_id), user=request.user):
            return self._decision_hidden(request, get_object_or_404(RefundApplication, pk=object_id))
        response = super().history_view(request, object_id, extra_context)
        page = getattr(response, "context_data", {}).get("action_list")
        if page is not None:
            page.object_list = [ReadableLogEntry(entry) for entry in page.object_list]
        return response

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        counts = selectors.queue_counts(user=request.user, now=timezone.now())
        current = request.GET.get("view") or selectors.DEFAULT_QUEUE_VIEW
        tabs = [
            {
                "key": key,
                "label": label,
                "count": counts[key],
                "active": key == current,
                "url": "?" + urlencode({"view": key}),
            }
            for key, label in VIEW_LABELS.items()
        ]
        context = {
            "queue_tabs": tabs,
            "can_claim": request.user.has_perm(CLAIM),
            "statistics_url": reverse("admin:refunds_refundapplication_statistics"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # --- the application page and its actions -------------------------------------------

    def get_urls(self) -> list[object]:
        wrap = self.admin_site.admin_view
        return [
            path("claim-next/", wrap(self.claim_next_view), name="refunds_refundapplication_claim_next"),
            path("statistics/", wrap(self.statistics_view), name="refunds_refundapplication_statistics"),
            path("<int:object_id>/claim/", wrap(self.claim_view), name="refunds_refundapplication_claim"),
            path("<int:object_id>/release/", wrap(self.release_view), name="refunds_refundapplication_release"),
            path("<int:object_id>/decide/", wrap(self.decide_view), name="refunds_refundapplication_decide"),
            path("<int:object_id>/dossier/", wrap(self.dossier_view), name="refunds_refundapplication_dossier"),
            path(
                "<int:object_id>/request-photo/",
                wrap(self.request_photo_view),
                name="refunds_refundapplication_request_photo",
            ),
            path(
                "<int:object_id>/cancel-photo-request/",
                wrap(self.cancel_photo_request_view),
                name="refunds_refundapplication_cancel_photo_request",
            ),
            path(
                "<int:object_id>/aligned/<uuid:evidence_id>/",
                wrap(self.aligned_view),
                name="refunds_refundapplication_aligned",
            ),
            *super().get_urls(),
        ]

    def _page_url(self, application: RefundApplication) -> str:
        return reverse("admin:refunds_refundapplication_change", args=[application.pk])

    def _get_viewable(self, request: HttpRequest, object_id: object) -> RefundApplication:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(RefundApplication, pk=object_id)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied  # the page has no form that writes: decisions have their own view
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            application = selectors.application_for_review(pk=int(object_id))
        except (RefundApplication.DoesNotExist, ValueError):
            raise Http404 from None
        if selectors.decision_hidden_from(application_pk=application.pk, user=request.user):
            return self._decision_hidden(request, application)
        return self._render_page(request, application, DecisionForm(application=application))

    def _decision_hidden(self, request: HttpRequest, application: RefundApplication) -> HttpResponse:
        """The page a possible blind second reviewer gets instead of a sampled application's: it
        says why, and shows nothing of the decision, its decider, its timeline or its history."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Application %(id)s") % {"id": str(application.public_id)[:8]},
            "queue_url": reverse("admin:refunds_refundapplication_changelist"),
            "second_reviews_url": reverse("admin:refunds_qareview_changelist"),
        }
        return TemplateResponse(request, "admin/refunds/refundapplication/decision_hidden.html", context)

    def _render_page(
        self,
        request: HttpRequest,
        application: RefundApplication,
        form: DecisionForm,
        photo_form: EvidenceRequestForm | None = None,
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            **workspace_context(application, request.user),
            "opts": self.model._meta,
            "title": gettext("Application %(id)s") % {"id": str(application.public_id)[:8]},
            "form": form,
            "reason_options": reason_options(),
            "outcome_options": outcome_options(),
            "shortcuts": shortcut_help(),
            "queue_url": reverse("admin:refunds_refundapplication_changelist"),
            "history_url": reverse("admin:refunds_refundapplication_history", args=[application.pk]),
            "photo_form": photo_form or EvidenceRequestForm(application=application),
            "cancel_photo_form": EvidenceRequestCancelForm(),
        }
        return TemplateResponse(request, "admin/refunds/refundapplication/workspace.html", context)

    @staticmethod
    def _refused(request: HttpRequest, error: DomainError) -> None:
        messages.error(request, str(error.message))

    def _refused_decision(
        self, request: HttpRequest, application: RefundApplication, form: DecisionForm, error: DomainError
    ) -> HttpResponse:
        """Show the refusal on the page, and on the field it names, with the decision panel as the
        reviewer filled it in."""
        self._refused(request, error)
        error.add_to_form(form)
        return self._render_page(request, selectors.application_for_review(pk=application.pk), form)

    @staticmethod
    def _reviewer(request: HttpRequest) -> Actor:
        return Actor.of_user(ActorKind.REVIEWER, request.user)

    @staticmethod
    def _until(application: RefundApplication) -> str:
        return formats.date_format(timezone.localtime(application.claim_expires_at), "H:i")

    def claim_next_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:refunds_refundapplication_changelist"))
        try:
            application = services.application_claim_next(reviewer=request.user)
        except DomainError as error:
            self._refused(request, error)
            return HttpResponseRedirect(reverse("admin:refunds_refundapplication_changelist"))
        if application is None:
            messages.info(request, gettext("No unclaimed application is waiting for review."))
            return HttpResponseRedirect(reverse("admin:refunds_refundapplication_changelist"))
        self.log_change(request, application, log_message(ReviewLogMessage.CLAIMED_NEXT))
        messages.success(
            request, gettext("You hold this application until %(time)s.") % {"time": self._until(application)}
        )
        return HttpResponseRedirect(self._page_url(application))

    def claim_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        application = self._get_viewable(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(application))
        renewing = application.claimed_by_id == request.user.pk and not application.has_no_live_claim()
        try:
            application = services.application_claim(application_id=application.public_id, reviewer=request.user)
        except DomainError as error:
            self._refused(request, error)
            return HttpResponseRedirect(self._page_url(application))
        if renewing:
            messages.info(
                request,
                gettext("You already hold this application; your claim now runs until %(time)s.")
                % {"time": self._until(application)},
            )
        else:
            self.log_change(request, application, log_message(ReviewLogMessage.CLAIMED))
            messages.success(
                request, gettext("You hold this application until %(time)s.") % {"time": self._until(application)}
            )
        return HttpResponseRedirect(self._page_url(application))

    def release_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        application = self._get_viewable(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(application))
        if not request.user.has_perm(CLAIM):
            raise PermissionDenied
        try:
            released = services.application_release_claim(
                application_id=application.public_id, actor=self._reviewer(request)
            )
        except DomainError as error:
            self._refused(request, error)
            return HttpResponseRedirect(self._page_url(application))
        if released is not None:
            self.log_change(request, application, log_message(ReviewLogMessage.CLAIM_RELEASED))
            messages.success(request, gettext("The application is back in the queue."))
        return HttpResponseRedirect(reverse("admin:refunds_refundapplication_changelist"))

    def decide_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """First POST: check the form and show the confirmation; second POST (``confirm``): decide."""
        application = self._get_viewable(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(application))
        if not request.user.has_perm(DECIDE):
            raise PermissionDenied
        form = DecisionForm(request.POST, application=application)
        if not form.is_valid():
            messages.error(request, gettext("The decision is incomplete; see the panel."))
            return self._render_page(request, selectors.application_for_review(pk=application.pk), form)
        if "back" in request.POST:
            return self._render_page(request, selectors.application_for_review(pk=application.pk), form)
        data = form.cleaned_data
        decision = {
            "reviewer": request.user,
            "outcome": data["outcome"],
            "reason_codes": data["reason_codes"],
            "note": data["note"],
            "approved_amount": data["approved_amount"],
        }
        if "confirm" not in request.POST:
            # Refused before the confirmation, with the panel as it was typed.
            try:
                services.application_decision_check(application=application, **decision)
            except DomainError as error:
                return self._refused_decision(request, application, form, error)
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "application": application,
                "title": gettext("Confirm the decision"),
                "form": form,
                "amount": services.decision_amount(application, data["outcome"], data["approved_amount"]),
                "outcome_label": dict(form.fields["outcome"].choices)[form.cleaned_data["outcome"]],
                "reasons": form.reason_labels(),
                "page_url": self._page_url(application),
                "may_claim": request.user.has_perm(CLAIM),
            }
            return TemplateResponse(request, "admin/refunds/refundapplication/confirm_decision.html", context)
        try:
            services.application_decide(application_id=application.public_id, **decision)
        except DomainError as error:
            return self._refused_decision(request, application, form, error)
        stored = log_message(
            ReviewLogMessage.DECIDED,
            outcome=data["outcome"],
            amount=str(services.decision_amount(application, data["outcome"], data["approved_amount"])),
            currency=application.currency,
            reasons=list(data["reason_codes"]),
        )
        self.log_change(request, application, stored)
        messages.success(request, change_message_text(stored) or "")
        if request.POST.get("confirm") == "next":
            # The reviewer's next application: the one due first, claimed as "Claim next" would.
            return self.claim_next_view(request)
        return HttpResponseRedirect(self._page_url(application))

    def request_photo_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Ask the buyer, through the platform, for another photo of the damage (the service judges who may)."""
        application = self._get_viewable(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(application))
        if not request.user.has_perm(DECIDE):
            raise PermissionDenied
        form = EvidenceRequestForm(request.POST, application=application)
        page = selectors.application_for_review(pk=application.pk)
        if not form.is_valid():
            messages.error(request, gettext("The request for another photo is incomplete; see the form."))
            return self._render_page(request, page, DecisionForm(application=page), form)
        try:
            asked = services.evidence_request_create(
                application_id=application.public_id,
                actor=self._reviewer(request),
                instructions=form.cleaned_data["instructions"],
                language=form.cleaned_data["language"],
                first_evidence_id=form.cleaned_data["evidence"],
            )
        except DomainError as error:
            self._refused(request, error)
            error.add_to_form(form)
            return self._render_page(request, page, DecisionForm(application=page), form)
        messages.success(
            request,
            gettext("The buyer is asked for another photo until %(time)s; the review clock is paused.")
            % {"time": _local(asked.deadline)},
        )
        return HttpResponseRedirect(self._page_url(application))

    def cancel_photo_request_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Cancel the open request for another photo: the review goes on without it."""
        application = self._get_viewable(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(application))
        if not request.user.has_perm(DECIDE):
            raise PermissionDenied
        form = EvidenceRequestCancelForm(request.POST)
        open_request = application.evidence_requests.filter(state=EvidenceRequestState.OPEN).first()
        if open_request is None or not form.is_valid():
            messages.error(request, gettext("No request for another photo is open."))
            return HttpResponseRedirect(self._page_url(application))
        try:
            services.evidence_request_cancel(
                request_id=open_request.public_id, actor=self._reviewer(request), reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            self._refused(request, error)
            return HttpResponseRedirect(self._page_url(application))
        messages.success(request, gettext("The request for another photo is cancelled; the review clock runs again."))
        return HttpResponseRedirect(self._page_url(application))

    def dossier_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Download the evidence dossier of a decided application (its generation is audited)."""
        application = self._get_viewable(request, object_id)
        if not request.user.has_perm(DOWNLOAD_DOSSIER):
            raise PermissionDenied
        if selectors.decision_hidden_from(application_pk=application.pk, user=request.user):
            return HttpResponseRedirect(self._page_url(application))
        try:
            dossier = application_dossier_generate(
                application_id=application.public_id, actor=self._reviewer(request), audience=Audience.REVIEWER
            )
        except DomainError as error:
            self._refused(request, error)
            return HttpResponseRedirect(self._page_url(application))
        return FileResponse(
            dossier.handle, as_attachment=True, filename=dossier.filename, content_type="application/zip"
        )

    def aligned_view(self, request: HttpRequest, object_id: int, evidence_id: object) -> FileResponse:
        self._get_viewable(request, object_id)
        evidence = get_object_or_404(
            Evidence.objects.select_related("screening__matched_reference"),
            application_id=object_id,
            public_id=evidence_id,
        )
        result = getattr(evidence, "screening", None)
        if result is None or result.matched_reference is None:
            raise Http404
        name = aligned_overlay(evidence, result.matched_reference)
        if name is None:
            raise Http404
        return safe_file_response(default_storage.open(name, "rb"), "image/png")

    def statistics_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("refunds.view_decision"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Review statistics"),
            **statistics_context(),
        }
        return TemplateResponse(request, "admin/refunds/refundapplication/statistics.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[RefundApplication]:
        # The claim column says "you" for the viewer's own claims; the admin object is shared
        # between requests, so the viewer travels with the rows. A sampled decision's application
        # is left out for whoever may still review it blind: searching the queue must not find it.
        return (
            super()
            .get_queryset(request)
            .exclude(pk__in=selectors.blind_application_ids(user=request.user))
            .annotate(
                claim_is_mine=Case(
                    When(claimed_by_id=request.user.pk, then=True), default=False, output_field=BooleanField()
                ),
                waits_for_photo=Exists(
                    EvidenceRequest.objects.filter(application=OuterRef("pk"), state=EvidenceRequestState.OPEN)
                ),
            )
        )


def risk_badge(obj: RefundApplication) -> str:
    if not obj.risk_level:
        return format_html('<span class="rh-risk rh-risk-none">{}</span>', gettext("not screened"))
    score = f" {obj.risk_score:.2f}" if obj.risk_score is not None else ""
    flag = format_html(' <span class="rh-flag">{}</span>', gettext("unscreened")) if obj.unscreened else ""
    return format_html(
        '<span class="rh-risk rh-risk-{}">{}{}</span>{}', obj.risk_level, obj.get_risk_level_display(), score, flag
    )
