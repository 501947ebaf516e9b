"""The supervisors' back office: Django's admin site, its index in the order supervisors work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest


class BackOfficeSite(AdminSite):
    site_title = "Back office"
    index_title = "Supervisors' back office"

    @property
    def site_header(self) -> str:  # type: ignore[override]
        return f"{settings.COMPANY_NAME} back office"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        from core.admin import order_app_list

        return order_app_list(super().get_app_list(request, app_label))
