from django.urls import path

from refunds.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("applications/", views.application_list, name="applications"),
    path("applications/<uuid:application_id>/", views.application_detail, name="application"),
    path("applications/<uuid:application_id>/accept/", views.application_accept, name="accept"),
    path("applications/<uuid:application_id>/contest/", views.application_contest, name="contest"),
    path("applications/<uuid:application_id>/appeal/", views.application_appeal, name="appeal"),
    path(
        "applications/<uuid:application_id>/appeals/<uuid:appeal_id>/withdraw/",
        views.appeal_withdraw,
        name="appeal-withdraw",
    ),
    path("applications/<uuid:application_id>/dossier/", views.application_dossier, name="dossier"),
    path("products/", views.product_list, name="products"),
    path("products/<uuid:product_id>/", views.product_detail, name="product"),
    path(
        "products/<uuid:product_id>/references/<uuid:reference_id>/remove/",
        views.reference_remove,
        name="reference-remove",
    ),
    path("shop/", views.shop_switch, name="shop-switch"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
