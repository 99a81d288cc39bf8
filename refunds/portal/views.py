"""Portal pages: each fetches within the member's shop, calls one service and renders."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from refunds import services
from refunds.errors import Conflict, DomainError, NotFound
from refunds.models import MerchantMember
from refunds.portal import selectors
from refunds.portal.forms import (
    AppealForm,
    ConfirmForm,
    ContestForm,
    NotificationPreferenceForm,
    ReferenceImageForm,
    upload_limits,
)
from refunds.portal.presenters import decision_summary, evidence_views, photo_requests, rebuttal_reasons, timeline
from refunds.services import notifications
from refunds.services.catalogue import reference_image_add, reference_image_remove
from refunds.services.dossier import Audience, application_dossier_generate
from refunds.services.merchant import merchant_may_respond
from refunds.states import ActorKind, AppealSide, ApplicationState
from refunds.views import attachment_views

View = Callable[..., HttpResponse]


SHOP_SESSION_KEY = "portal_shop"
LANGUAGE_SESSION_KEY = "portal_language_recorded"


def merchant_required(view: View) -> View:
    """Let shop members in with ``request.merchant`` set to their active shop (chosen with the
    switcher, or by ``?shop=`` in a link from an e-mail); send staff to the admin, others to a notice.

    Every lookup below goes through the active shop, so another shop's ids are simply not found."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        memberships = selectors.memberships_for_user(request.user)
        if not memberships:
            if request.user.is_staff:
                return redirect("admin:index")
            return render(request, "portal/no_shop.html", status=403)
        asked = request.GET.get("shop")
        membership = selectors.membership_choose(memberships, asked or request.session.get(SHOP_SESSION_KEY))
        if asked and str(membership.merchant.public_id) == asked:
            request.session[SHOP_SESSION_KEY] = asked
        request.memberships, request.membership, request.merchant = memberships, membership, membership.merchant
        language = translation.get_language()
        if request.session.get(LANGUAGE_SESSION_KEY) != language:
            # Once per change of language, not on every page: e-mails then speak it too.
            notifications.notification_interface_language_record(user=request.user, language=language)
            request.session[LANGUAGE_SESSION_KEY] = language
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapped


def _posted(request: HttpRequest) -> dict[str, Any]:
    """Bind a form on POST even when nothing was sent (an empty post is an error, not a blank
    form); leave it unbound on GET."""
    if request.method != "POST":
        return {}
    return {"data": request.POST, "files": request.FILES}


def _done(request: HttpRequest, url: str) -> HttpResponse:
    """Redirect after a successful post. The upload script posts with XMLHttpRequest, which would
    follow a redirect itself and use up the page's message; it gets the address to go to instead."""
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return HttpResponse(status=204, headers={"X-Location": url})
    return redirect(url)


def _actor(request: HttpRequest) -> services.Actor:
    return services.Actor.of_user(ActorKind.MERCHANT, request.user)


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/landing.html")


@require_GET
@merchant_required
def dashboard(request: HttpRequest) -> HttpResponse:
    board = selectors.dashboard_for_merchant(merchant=request.merchant)
    return render(request, "portal/dashboard.html", {"board": board, "now": timezone.now()})


@require_GET
@merchant_required
def application_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    applications = selectors.application_list_for_merchant(merchant=request.merchant).order_by("-created_at")
    if state in ApplicationState.values:
        applications = applications.filter(state=state)
    else:
        state = ""
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/application_list.html",
        {"applications": page.object_list, "page": page, "state": state, "states": ApplicationState.choices},
    )


def _application_context(request: HttpRequest, application_id: object, **extra: Any) -> dict[str, Any]:
    application = selectors.application_get_for_merchant(merchant=request.merchant, public_id=application_id)
    return {
        "application": application,
        "can_respond": merchant_may_respond(application),
        "appeal": services.appeal_rights(application=application, side=AppealSide.MERCHANT),
        "limits": upload_limits(),
        **extra,
    }


@require_GET
@merchant_required
def application_detail(request: HttpRequest, application_id: object) -> HttpResponse:
    context = _application_context(request, application_id)
    application = context["application"]
    context.update(
        evidence=evidence_views(application),
        timeline=timeline(application),
        reason_labels=rebuttal_reasons(application),
        attachments=attachment_views(getattr(application, "rebuttal", None)),
        decision_summary=decision_summary(application),
        photo_requests=photo_requests(application),
    )
    return render(request, "portal/application_detail.html", context)


def _refused(
    request: HttpRequest, template: str, context: dict[str, Any], form: Any, error: DomainError
) -> HttpResponse:
    error.add_to_form(form)
    status = error.status if isinstance(error, Conflict) else 400
    return render(request, template, {**context, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@merchant_required
def application_accept(request: HttpRequest, application_id: object) -> HttpResponse:
    context = _application_context(request, application_id)
    form = ConfirmForm(**_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.application_accept(application_id=context["application"].public_id, actor=_actor(request))
        except DomainError as error:
            return _refused(request, "portal/application_accept.html", context, form, error)
        messages.success(request, _("You accepted the refund. The buyer will be refunded."))
        return redirect("portal:application", application_id=context["application"].public_id)
    status = 400 if form.is_bound else 200
    return render(request, "portal/application_accept.html", {**context, "form": form}, status=status)


def _party_statement(
    request: HttpRequest,
    application_id: object,
    *,
    form_class: type[ContestForm | AppealForm],
    template: str,
    send: Callable[..., object],
    sent: str,
) -> HttpResponse:
    """Show a statement form with reasons and files, and send it through `send` (a service
    taking application_id, actor, statement, reason_codes and attachments)."""
    context = _application_context(request, application_id)
    form = form_class(**_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            send(
                application_id=context["application"].public_id,
                actor=_actor(request),
                statement=form.cleaned_data["statement"],
                reason_codes=form.cleaned_data["reason_codes"],
                attachments=form.cleaned_data["attachments"],
            )
        except DomainError as error:
            return _refused(request, template, context, form, error)
        messages.success(request, sent)
        return _done(
            request, reverse("portal:application", kwargs={"application_id": context["application"].public_id})
        )
    status = 400 if form.is_bound else 200
    return render(request, template, {**context, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@merchant_required
def application_contest(request: HttpRequest, application_id: object) -> HttpResponse:
    return _party_statement(
        request,
        application_id,
        form_class=ContestForm,
        template="portal/application_contest.html",
        send=services.application_contest,
        sent=_("Your rebuttal was sent. A reviewer will decide."),
    )


@require_http_methods(["GET", "POST"])
@merchant_required
def application_appeal(request: HttpRequest, application_id: object) -> HttpResponse:
    """Appeal a decision that went against the shop, within the policy's window."""
    return _party_statement(
        request,
        application_id,
        form_class=AppealForm,
        template="portal/application_appeal.html",
        send=partial(services.appeal_file, side=AppealSide.MERCHANT),
        sent=_("Your appeal was sent. Another reviewer will decide it."),
    )


@require_POST
@merchant_required
def appeal_withdraw(request: HttpRequest, application_id: object, appeal_id: object) -> HttpResponse:
    """Withdraw the shop's own open appeal of one of its applications."""
    application = selectors.application_get_for_merchant(merchant=request.merchant, public_id=application_id)
    appeal = application.appeals.filter(public_id=appeal_id).first()
    if appeal is None:
        raise Http404
    try:
        services.appeal_withdraw(appeal_id=appeal.public_id, actor=_actor(request), side=AppealSide.MERCHANT)
    except Conflict as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Your appeal was withdrawn."))
    return redirect("portal:application", application_id=application.public_id)


@require_GET
@merchant_required
def application_dossier(request: HttpRequest, application_id: object) -> HttpResponse:
    """Download the evidence dossier of one of the shop's decided applications."""
    application = selectors.application_get_for_merchant(merchant=request.merchant, public_id=application_id)
    try:
        dossier = application_dossier_generate(
            application_id=application.public_id, actor=_actor(request), audience=Audience.MERCHANT
        )
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect("portal:application", application_id=application.public_id)
    return FileResponse(dossier.handle, as_attachment=True, filename=dossier.filename, content_type="application/zip")


@require_GET
@merchant_required
def product_list(request: HttpRequest) -> HttpResponse:
    products = selectors.product_list_for_merchant(merchant=request.merchant)
    return render(request, "portal/product_list.html", {"products": products})


@require_http_methods(["GET", "POST"])
@merchant_required
def product_detail(request: HttpRequest, product_id: object) -> HttpResponse:
    product = selectors.product_get_for_merchant(merchant=request.merchant, public_id=product_id)
    form = ReferenceImageForm(**_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            reference_image_add(product=product, image=form.cleaned_data["image"], kind=form.cleaned_data["kind"])
        except DomainError as error:
            error.add_to_form(form)
        else:
            messages.success(request, _("The photo was added; screening compares new claims with it."))
            return redirect("portal:product", product_id=product.public_id)
    references = sorted(product.reference_images.all(), key=lambda r: r.pk)
    status = 400 if form.is_bound else 200
    return render(
        request,
        "portal/product_detail.html",
        {"product": product, "references": references, "form": form, "limits": upload_limits()},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@merchant_required
def reference_remove(request: HttpRequest, product_id: object, reference_id: object) -> HttpResponse:
    """GET: ask, showing the photo (a removed reference no longer protects new claims); POST: remove."""
    product = selectors.product_get_for_merchant(merchant=request.merchant, public_id=product_id)
    if request.membership.role != MerchantMember.Role.OWNER:
        # The button is not shown to staff; this answers a hand-made request.
        return render(request, "portal/owners_only.html", {"product": product}, status=403)
    if request.method == "GET":
        reference = product.reference_images.filter(public_id=reference_id).first()
        if reference is None:
            raise Http404
        return render(request, "portal/reference_remove.html", {"product": product, "reference": reference})
    reference_image_remove(product=product, public_id=reference_id)
    messages.success(request, _("The photo was removed."))
    return redirect(reverse("portal:product", kwargs={"product_id": product.public_id}))


@require_POST
@merchant_required
def shop_switch(request: HttpRequest) -> HttpResponse:
    chosen = selectors.membership_choose(request.memberships, request.POST.get("shop", ""))
    if str(chosen.merchant.public_id) != request.POST.get("shop", ""):
        raise Http404
    request.session[SHOP_SESSION_KEY] = str(chosen.merchant.public_id)
    return redirect("portal:dashboard")


@require_http_methods(["GET", "POST"])
@merchant_required
def notification_list(request: HttpRequest) -> HttpResponse:
    preference = notifications.preference_for(request.user)
    form = NotificationPreferenceForm(**_posted(request), instance=preference)
    if request.method == "POST" and form.is_valid():
        notifications.notification_preferences_update(user=request.user, **form.cleaned_data)
        messages.success(request, _("Your e-mail settings were saved."))
        return redirect("portal:notifications")
    events = (
        request.user.notifications.filter(application__merchant=request.merchant)
        .select_related("application")
        .order_by("-created_at")[:100]
    )
    return render(
        request, "portal/notifications.html", {"form": form, "events": events}, status=400 if form.is_bound else 200
    )


# Mail clients send the one-click unsubscribe (RFC 8058) as a POST without a session or CSRF
# token; the signed token in the URL is the authorisation. A GET only asks: mail scanners open
# every link in a message, and must not unsubscribe anyone by doing so.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            user, kind = notifications.notification_unsubscribe(token=token)
            return render(request, "portal/unsubscribed.html", {"kind": kind, "subscriber": user, "done": True})
        user, kind = notifications.unsubscribe_token_read(token=token)
    except DomainError as error:
        return render(request, "portal/unsubscribed.html", {"error": error.message}, status=400)
    return render(request, "portal/unsubscribed.html", {"kind": kind, "subscriber": user, "done": False})
