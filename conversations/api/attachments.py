"""Attachments for agents: only through the API, only to someone who may see the conversation.

Stored files live under MEDIA_ROOT, which no URL serves: a download goes through this view,
which checks the agent (session or token), then answers with the file as a download. Only plain
raster images are shown inline; anything else (HTML, SVG, scripts, unknown types) is
``application/octet-stream`` with ``Content-Disposition: attachment``, ``nosniff`` and a sandboxing
Content-Security-Policy, so a file a customer sent can never run as a page of ours.
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from conversations.api import serializers as s
from conversations.models import Attachment
from conversations.selectors import conversations_visible_to

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class AttachmentDownloadView(APIView):
    @extend_schema(
        summary="Download an attachment",
        description="The file, as a download (raster images inline), for agents who can see its conversation.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            404: s.ErrorSerializer,
        },
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        attachment = (
            Attachment.objects.filter(pk=pk, message__conversation__in=conversations_visible_to(request.user))
            .only("file", "filename", "content_type")
            .first()
        )
        if attachment is None:
            raise exceptions.NotFound("No such attachment.")
        inline = attachment.content_type in INLINE_TYPES
        response = FileResponse(attachment.file.open("rb"), as_attachment=not inline, filename=attachment.filename)
        response["Content-Type"] = attachment.content_type if inline else "application/octet-stream"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response
