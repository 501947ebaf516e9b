"""Pages of analytics, mounted at /analytics/."""

from __future__ import annotations

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("csat/<str:token>/", views.csat_page, name="csat"),
]
