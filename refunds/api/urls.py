from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from refunds.api import views

app_name = "api"
urlpatterns = [
    path("applications", views.ApplicationListView.as_view(), name="applications"),
    path("applications/<str:public_id>", views.ApplicationDetailView.as_view(), name="application"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
]
