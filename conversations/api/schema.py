"""OpenAPI generation: every operation documents the API's error shape for the errors it can give."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        from conversations.api.serializers import ErrorSerializer

        responses = super()._get_response_bodies(direction)
        errors = {
            "400": "Invalid input: the message says what is wrong, `fields` says where.",
            "401": "Not authenticated, or the token is invalid, revoked or expired.",
            "403": "Authenticated, but not allowed to do this.",
            "404": "No such object, or not yours to see.",
            "429": "Too many requests; see Retry-After.",
        }
        if self.method == "DELETE":
            errors["409"] = "Still in use by other records."
        if self.method == "GET":
            errors.pop("429")
        if self.method == "GET" and not self._is_list_view():
            errors.pop("400")
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code)
                response["description"] = description
                responses[code] = response
        return responses
