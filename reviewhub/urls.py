from django.contrib import admin
from django.urls import include, path

from refunds import views as refund_views
from refunds.portal import views as portal_views
from reviewhub import health, metrics

urlpatterns = [
    path("", portal_views.landing, name="landing"),
    path("accounts/", include("refunds.portal.accounts_urls")),
    path("portal/", include("refunds.portal.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("refunds.api.urls")),
    path("files/<str:kind>/<uuid:public_id>", refund_views.stored_file, name="stored-file"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]

# An outage met outside a view answers 503 (JSON under /api/), not Django's 500 page.
handler500 = "refunds.outage.server_error"
