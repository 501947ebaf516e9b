"""The agent inbox's pages: the inbox itself, and signing in and out.

Thin on purpose: the page is a shell that its JavaScript fills from the REST API; no view here
changes a conversation (that is the API's job, through the services).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from conversations.ui.selectors import inbox_page_data
from core import auth


@never_cache
@ensure_csrf_cookie
@login_required
def inbox(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    data = inbox_page_data(request.user)
    data["open_conversation_id"] = conversation_id
    return render(request, "inbox/inbox.html", {"page_data": data})


def home(request: HttpRequest) -> HttpResponse:
    """Signed-in agents go to their inbox; everyone else signs in first."""
    return redirect("inbox:inbox" if request.user.is_authenticated else "inbox:login")


class ThrottledAuthenticationForm(AuthenticationForm):
    """The same failed-login limits as the API's token endpoint (per username and per address)."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = auth.client_address(self.request) if self.request is not None else ""
        wait = auth.login_retry_after(username, address)
        if wait is not None:
            raise ValidationError(f"Too many failed sign-ins; try again in {int(wait) + 1} seconds.", code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            auth.login_failed(username, address)
            raise
        auth.login_succeeded(username)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "inbox/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "inbox:login"
