"""Routes of the analytics API, mounted at /api/v1/analytics/."""

from __future__ import annotations

from django.urls import path

from analytics import api

urlpatterns = [
    path("summary/", api.SummaryView.as_view(), name="analytics-summary"),
    path("timeseries/", api.TimeseriesView.as_view(), name="analytics-timeseries"),
    path("metrics/", api.MetricListView.as_view(), name="analytics-metrics"),
    path("metrics/<str:name>/", api.MetricDetailView.as_view(), name="analytics-metric"),
    path("agents/", api.BreakdownView.as_view(by="agent"), name="analytics-agents"),
    path("teams/", api.BreakdownView.as_view(by="team"), name="analytics-teams"),
    path("inboxes/", api.BreakdownView.as_view(by="inbox"), name="analytics-inboxes"),
    path("channels/", api.BreakdownView.as_view(by="channel"), name="analytics-channels"),
    path("export.csv", api.ExportView.as_view(), name="analytics-export"),
]
