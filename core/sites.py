"""The supervisors' back office: Django's admin site, its index in the order supervisors work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse

from core import auth


class BackOfficeSite(AdminSite):
    site_title = "Back office"
    index_title = "Supervisors' back office"

    @property
    def site_header(self) -> str:  # type: ignore[override]
        return f"{settings.COMPANY_NAME} back office"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        from core.admin import order_app_list

        return order_app_list(super().get_app_list(request, app_label))

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The admin's login, with the same failed-login limits as the API's token endpoint (core/auth.py)."""
        if request.method != "POST":
            return super().login(request, extra_context)
        username = str(request.POST.get("username", ""))[:150]
        address = auth.client_address(request)
        wait = auth.login_retry_after(username, address)
        if wait is not None:
            response = HttpResponse(
                f"Too many failed logins; try again in {wait} s.", status=429, content_type="text/plain"
            )
            response["Retry-After"] = str(wait)
            return response
        response = super().login(request, extra_context)
        if request.user.is_authenticated:
            auth.login_succeeded(username)
        else:
            auth.login_failed(username, address)
        return response
