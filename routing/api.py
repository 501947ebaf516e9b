"""The API of the assistant's drafts (email draft mode), under a conversation.

    GET  /api/v1/conversations/{id}/drafts/[?status=pending]
    POST /api/v1/conversations/{id}/drafts/{draft_id}/send/      {"body": "edited text"} (optional)
    POST /api/v1/conversations/{id}/drafts/{draft_id}/discard/

Who may see the conversation may review its drafts; anyone else gets a 404. Each change goes
through its service in ``routing.services``; sending is the agent's normal reply.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.errors import Conflict
from conversations.api.selectors import message_queryset
from conversations.api.serializers import ErrorSerializer, MessageSerializer
from conversations.models import Conversation, Message
from conversations.selectors import conversations_visible_to
from routing import services
from routing.selectors import assistant_drafts

DRAFT_STATUSES = (services.DRAFT_PENDING, services.DRAFT_SENT, services.DRAFT_DISCARDED)


class DraftSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=DRAFT_STATUSES)
    body = serializers.CharField(help_text="The assistant's text, as it would be sent.")
    confidence = serializers.FloatField(allow_null=True)
    for_message_id = serializers.IntegerField(allow_null=True, help_text="The customer message it answers.")
    sent_message_id = serializers.IntegerField(allow_null=True, help_text="The reply it became, once sent.")
    reviewed_by_id = serializers.IntegerField(allow_null=True)
    edited = serializers.BooleanField(help_text="Whether the agent changed the text before sending.")
    created_at = serializers.DateTimeField()


class DraftSendSerializer(serializers.Serializer):
    body = serializers.CharField(
        required=False, allow_blank=False, max_length=50_000, help_text="The edited text; the draft's own if left out."
    )


def _draft_data(draft: Message) -> dict[str, Any]:
    return {**services.draft_payload(draft), "created_at": draft.created_at}


_errors = {
    400: OpenApiResponse(ErrorSerializer, description="Refused, with the reason."),
    404: OpenApiResponse(ErrorSerializer, description="No such conversation or draft (or not yours to see)."),
    409: OpenApiResponse(ErrorSerializer, description="The draft was already sent or discarded."),
}


def _digits(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise exceptions.NotFound("Not found.")
    return int(value)


class _DraftView(APIView):
    def conversation(self) -> Conversation:
        pk = _digits(str(self.kwargs["conversation_pk"]))
        return get_object_or_404(conversations_visible_to(self.request.user).select_related("inbox"), pk=pk)

    def draft(self, conversation: Conversation) -> Message:
        pk = _digits(str(self.kwargs["draft_pk"]))
        return get_object_or_404(assistant_drafts(conversation).select_related("conversation"), pk=pk)


class DraftListView(_DraftView):
    @extend_schema(
        summary="The assistant's drafts in a conversation",
        parameters=[OpenApiParameter("status", enum=list(DRAFT_STATUSES), required=False)],
        responses={200: DraftSerializer(many=True), 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, conversation_pk: str) -> Response:
        conversation = self.conversation()
        status = request.query_params.get("status") or None
        if status is not None and status not in DRAFT_STATUSES:
            raise exceptions.ValidationError({"status": [f"Use one of: {', '.join(DRAFT_STATUSES)}."]})
        drafts = assistant_drafts(conversation, status=status)
        return Response(DraftSerializer([_draft_data(d) for d in drafts], many=True).data)


class DraftSendView(_DraftView):
    @extend_schema(
        summary="Send a draft (edited or as it is) as your reply",
        request=DraftSendSerializer,
        responses={201: MessageSerializer, **_errors},
    )
    def post(self, request: Request, conversation_pk: str, draft_pk: str) -> Response:
        conversation = self.conversation()
        draft = self.draft(conversation)
        serializer = DraftSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            reply = services.assistant_draft_send(
                draft=draft, agent=request.user, body=serializer.validated_data.get("body")
            )
        except services.DraftAlreadyReviewed as exc:
            raise Conflict(exc.messages[0]) from None
        fresh = message_queryset(conversation).get(pk=reply.pk)
        return Response(MessageSerializer(fresh, context={"request": request}).data, status=201)


class DraftDiscardView(_DraftView):
    @extend_schema(summary="Discard a draft", request=None, responses={200: DraftSerializer, **_errors})
    def post(self, request: Request, conversation_pk: str, draft_pk: str) -> Response:
        conversation = self.conversation()
        draft = self.draft(conversation)
        try:
            discarded = services.assistant_draft_discard(draft=draft, actor=request.user)
        except services.DraftAlreadyReviewed as exc:
            raise Conflict(exc.messages[0]) from None
        return Response(DraftSerializer(_draft_data(discarded)).data)
