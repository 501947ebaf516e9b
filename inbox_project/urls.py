from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from conversations.ui import views as inbox_views
from core import views as core_views

urlpatterns = [
    path("", inbox_views.home, name="home"),
    path("", include("conversations.ui.urls")),
    path("admin/", admin.site.urls),
    path("channels/webchat/", include("channels_app.webchat.urls")),
    path("channels/twilio/", include("channels_app.twilio.urls")),
    path("channels/email/", include("channels_app.email.urls")),
    path("channels/api/", include("channels_app.api.urls")),
    path("api/v1/analytics/", include("analytics.api_urls")),  # before api/v1/: its last route takes the rest
    path("api/v1/", include("conversations.api.urls")),
    path("analytics/", include("analytics.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz/", core_views.healthz, name="healthz"),
    path("ops/worker-ping/", core_views.worker_ping, name="worker-ping"),
    path("ops/worker-ping/<str:name>/", core_views.worker_ping_status, name="worker-ping-status"),
]
