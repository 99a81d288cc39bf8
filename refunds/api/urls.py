from django.urls import path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from refunds.api import buyers, catalogue, events, settings_views, statistics, views
from refunds.api.schema import EnglishSchemaView

app_name = "api"
urlpatterns = [
    path("applications", views.ApplicationListView.as_view(), name="applications"),
    path("applications/<str:public_id>", views.ApplicationDetailView.as_view(), name="application"),
    path("applications/<str:public_id>/evidence", views.EvidenceAddView.as_view(), name="application-evidence"),
    path("applications/<str:public_id>/withdraw", views.WithdrawView.as_view(), name="application-withdraw"),
    path("applications/<str:public_id>/accept", views.AcceptView.as_view(), name="application-accept"),
    path("applications/<str:public_id>/contest", views.ContestView.as_view(), name="application-contest"),
    path("applications/<str:public_id>/audit-events", views.AuditEventListView.as_view(), name="application-audit"),
    path("applications/<str:public_id>/appeals", views.AppealListView.as_view(), name="application-appeals"),
    path(
        "applications/<str:public_id>/appeals/<str:appeal_id>",
        views.AppealDetailView.as_view(),
        name="application-appeal",
    ),
    path(
        "applications/<str:public_id>/appeals/<str:appeal_id>/withdraw",
        views.AppealWithdrawView.as_view(),
        name="application-appeal-withdraw",
    ),
    path(
        "applications/<str:public_id>/evidence-requests",
        views.EvidenceRequestListView.as_view(),
        name="application-evidence-requests",
    ),
    path(
        "applications/<str:public_id>/evidence-requests/<str:request_id>",
        views.EvidenceRequestDetailView.as_view(),
        name="application-evidence-request",
    ),
    path(
        "applications/<str:public_id>/evidence-requests/<str:request_id>/answer",
        views.EvidenceRequestAnswerView.as_view(),
        name="application-evidence-request-answer",
    ),
    path("applications/<str:public_id>/dossier", views.DossierView.as_view(), name="application-dossier"),
    path("buyers/<str:buyer_ref>", buyers.BuyerRiskView.as_view(), name="buyer"),
    path("claim-groups/<str:public_id>", buyers.ClaimGroupView.as_view(), name="claim-group"),
    path("events", events.EventListView.as_view(), name="events"),
    path("evidence-uploads", views.EvidenceUploadView.as_view(), name="evidence-uploads"),
    path("findings/<str:public_id>/heatmap", views.HeatmapView.as_view(), name="finding-heatmap"),
    path("merchants", catalogue.MerchantListView.as_view(), name="merchants"),
    path("merchants/<str:public_id>", catalogue.MerchantDetailView.as_view(), name="merchant"),
    path("products", catalogue.ProductListView.as_view(), name="products"),
    path("products/<str:public_id>", catalogue.ProductDetailView.as_view(), name="product"),
    path(
        "products/<str:public_id>/reference-images", catalogue.ReferenceImageListView.as_view(), name="reference-images"
    ),
    path("policy", settings_views.PolicyView.as_view(), name="policy"),
    path("statistics/reviewers", statistics.ReviewerStatisticsView.as_view(), name="statistics-reviewers"),
    path("webhook-endpoints", settings_views.WebhookEndpointListView.as_view(), name="webhook-endpoints"),
    path(
        "webhook-endpoints/<str:public_id>", settings_views.WebhookEndpointDetailView.as_view(), name="webhook-endpoint"
    ),
    path(
        "webhook-endpoints/<str:public_id>/rotate-secret",
        settings_views.WebhookEndpointRotateView.as_view(),
        name="webhook-endpoint-rotate",
    ),
    path("webhook-deliveries", settings_views.WebhookDeliveryListView.as_view(), name="webhook-deliveries"),
    path(
        "webhook-deliveries/<str:public_id>/redeliver",
        settings_views.WebhookDeliveryRedeliverView.as_view(),
        name="webhook-delivery-redeliver",
    ),
    path("schema/", EnglishSchemaView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[], template_name="refunds/redoc.html"
        ),
        name="redoc",
    ),
]
