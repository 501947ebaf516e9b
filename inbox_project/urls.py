from django.conf import settings
from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from core import views as core_views

admin.site.site_header = f"{settings.COMPANY_NAME} back office"
admin.site.site_title = "Back office"
admin.site.index_title = "Supervisors' back office"

urlpatterns = [
    # Until the agent inbox has its own pages, the back office is the front door.
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("healthz/", core_views.healthz, name="healthz"),
    path("ops/worker-ping/", core_views.worker_ping, name="worker-ping"),
    path("ops/worker-ping/<str:name>/", core_views.worker_ping_status, name="worker-ping-status"),
]
