"""Who may do what. Objects outside a user's reach are filtered out of querysets (a 404, not a 403);
these classes only decide between reading and writing what a user can see."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from conversations.selectors import is_supervisor


class IsSupervisorOrReadOnly(BasePermission):
    """Configuration (teams, SLA policies, routing rules, inboxes, ...): agents read, supervisors write."""

    message = "Only supervisors may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or is_supervisor(request.user)


class IsSupervisor(BasePermission):
    message = "Only supervisors may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and is_supervisor(request.user))
