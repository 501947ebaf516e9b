"""The API's views: each reads through a selector or changes state through one service.

Visibility is in every queryset, so another inbox's conversation, contact or inbox is a 404.
Configuration (teams, SLA policies, routing rules, inboxes, tags, canned responses, knowledge
articles) is read by agents and written by supervisors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import notifications, realtime, reminders, services
from conversations.api import serializers as s
from conversations.api.bulk import run_bulk_action
from conversations.api.canned import render_canned_response
from conversations.api.errors import PayloadTooLarge, UnsupportedAttachmentType, error_body
from conversations.api.filters import ConversationFilter, sort_of
from conversations.api.pagination import KeysetPagination
from conversations.api.permissions import IsSupervisorOrReadOnly
from conversations.api.selectors import (
    agents_visible_to,
    canned_responses_for,
    contacts_visible_to,
    conversation_counts,
    conversation_queryset,
    inboxes_visible_to,
    knowledge_articles_for,
    message_queryset,
    recent_conversations_of,
    routing_rules_for,
)
from conversations.models import (
    CannedResponse,
    Contact,
    Conversation,
    Inbox,
    Message,
    Notification,
    Reminder,
    SLAPolicy,
    Tag,
    Team,
)
from conversations.selectors import conversations_visible_to, is_supervisor
from core import auth
from core.models import ApiToken
from routing.models import KnowledgeArticle, RoutingRule

User = get_user_model()

# What an agent may attach. Anything else (executables, HTML, SVG with scripts) is refused.
ALLOWED_ATTACHMENT_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/heic",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "video/mp4",
    }
)


def _user_or_400(user_id: int | None, field: str) -> Any:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise exceptions.ValidationError({field: [f"No active agent has the id {user_id}."]})
    return user


# --- Conversations -------------------------------------------------------------------------------

_conversation_errors = {
    400: OpenApiResponse(s.ErrorSerializer, description="Refused, with the reason."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such conversation (or not yours to see)."),
}


@extend_schema_view(
    list=extend_schema(summary="List conversations", description="Filter, search (`q`), sort and page."),
    retrieve=extend_schema(summary="A conversation"),
)
class ConversationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ConversationSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ConversationFilter

    def get_queryset(self) -> QuerySet[Conversation]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Conversation.objects.none()
        return conversation_queryset(self.request.user)

    def get_serializer_class(self) -> Any:
        return s.ConversationDetailSerializer if self.action == "retrieve" else s.ConversationSerializer

    def get_keyset_ordering(self, request: Request) -> tuple[str, tuple[str, ...]]:
        return sort_of(request.query_params)

    def _act(self, request: Request, serializer_class: Any, change: Any) -> Response:
        conversation = self.get_object()
        data = None
        if serializer_class is not None:
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        change(conversation, data)
        fresh = self.get_queryset().get(pk=conversation.pk)
        return Response(s.ConversationDetailSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(request=s.AssignSerializer, responses={200: s.ConversationDetailSerializer, **_conversation_errors})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: dict[str, Any]) -> None:
            assignee = _user_or_400(data["assignee_id"], "assignee_id")
            services.conversation_assign(conversation=conversation, assignee=assignee, actor=request.user)

        return self._act(request, s.AssignSerializer, change)

    @extend_schema(request=s.StatusSerializer, responses={200: s.ConversationDetailSerializer, **_conversation_errors})
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: dict[str, Any]) -> None:
            services.conversation_set_status(
                conversation=conversation, status=data["status"], actor=request.user, reason=data["reason"]
            )

        return self._act(request, s.StatusSerializer, change)

    @extend_schema(
        request=s.PrioritySerializer, responses={200: s.ConversationDetailSerializer, **_conversation_errors}
    )
    @action(detail=True, methods=["post"], url_path="priority")
    def set_priority(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: dict[str, Any]) -> None:
            services.conversation_set_priority(
                conversation=conversation, priority=data["priority"], actor=request.user, reason=data["reason"]
            )

        return self._act(request, s.PrioritySerializer, change)

    @extend_schema(request=s.TagsSerializer, responses={200: s.ConversationDetailSerializer, **_conversation_errors})
    @action(detail=True, methods=["post"], url_path="tags")
    def set_tags(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: dict[str, Any]) -> None:
            services.conversation_set_tags(
                conversation=conversation, actor=request.user, add=data["add"], remove=data["remove"]
            )

        return self._act(request, s.TagsSerializer, change)

    @extend_schema(request=None, responses={200: s.ConversationDetailSerializer, **_conversation_errors})
    @action(detail=True, methods=["post"], url_path="take-over")
    def take_over(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: Any) -> None:
            services.conversation_take_over(conversation=conversation, agent=request.user)

        return self._act(request, None, change)

    @extend_schema(
        request=s.TransferSerializer, responses={200: s.ConversationDetailSerializer, **_conversation_errors}
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: dict[str, Any]) -> None:
            team = Team.objects.filter(pk=data["team_id"]).first()
            if team is None:
                raise exceptions.ValidationError({"team_id": [f"No team has the id {data['team_id']}."]})
            assignee = _user_or_400(data["assignee_id"], "assignee_id")
            services.conversation_transfer(
                conversation=conversation, team=team, actor=request.user, assignee=assignee, note=data["note"]
            )

        return self._act(request, s.TransferSerializer, change)

    @extend_schema(request=s.SnoozeSerializer, responses={200: s.ConversationDetailSerializer, **_conversation_errors})
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str | None = None) -> Response:
        def change(conversation: Conversation, data: dict[str, Any]) -> None:
            services.conversation_snooze(conversation=conversation, until=data["until"], actor=request.user)

        return self._act(request, s.SnoozeSerializer, change)

    @extend_schema(request=None, responses={200: s.ConversationDetailSerializer, **_conversation_errors})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        """Mark the conversation read by you (clears your unread mark)."""

        def change(conversation: Conversation, data: Any) -> None:
            services.conversation_mark_read(conversation=conversation, user=request.user)

        return self._act(request, None, change)

    @extend_schema(
        summary="Follow-up reminders",
        description=(
            "POST: remind you of this conversation at `remind_at` (a notification of type `reminder` then). "
            "GET: your reminders on it that have not fired yet."
        ),
        request=s.ReminderCreateSerializer,
        responses={200: s.ReminderSerializer(many=True), 201: s.ReminderSerializer, **_conversation_errors},
        filters=False,
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def remind(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        if request.method == "GET":
            mine = Reminder.objects.filter(conversation=conversation, user=services.user_for_id(request.user.pk or 0))
            pending = mine.filter(fired_at__isnull=True)
            return Response(s.ReminderSerializer(pending, many=True).data)
        serializer = s.ReminderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reminder = reminders.reminder_set(
            conversation=conversation,
            user=request.user,
            remind_at=serializer.validated_data["remind_at"],
            note=serializer.validated_data["note"],
        )
        return Response(s.ReminderSerializer(reminder).data, status=201)

    @extend_schema(
        summary="Cancel a follow-up reminder",
        description="Cancel one of your reminders on this conversation that has not fired yet.",
        request=None,
        responses={204: None, **_conversation_errors},
        filters=False,
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"remind/(?P<reminder_id>[0-9]+)",
        pagination_class=None,
        filter_backends=[],
    )
    def cancel_reminder(self, request: Request, pk: str | None = None, reminder_id: str | None = None) -> Response:
        conversation = self.get_object()
        reminder = get_object_or_404(
            Reminder.objects.filter(conversation=conversation, user=services.user_for_id(request.user.pk or 0)),
            pk=reminder_id,
            fired_at__isnull=True,
        )
        reminders.reminder_cancel(reminder=reminder, user=request.user)
        return Response(status=204)

    @extend_schema(
        summary="View counts",
        description="The inbox views' counts (All, Mine, Team, By channel, Bot-handled), in one query.",
        filters=False,
        responses={200: s.CountsSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def counts(self, request: Request) -> Response:
        return Response(conversation_counts(request.user))

    @extend_schema(
        summary="Bulk action",
        description=(
            "Apply one action to the listed ids, or to everything `filter` (the list's query parameters) matches "
            "(at most 1000). Each conversation goes through the same service as its own action; ids you cannot "
            "see are refused as not found."
        ),
        filters=False,
        request=s.BulkSerializer,
        responses={200: s.BulkResultSerializer, 400: s.ErrorSerializer},
    )
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def bulk(self, request: Request) -> Response:
        serializer = s.BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = run_bulk_action(request, serializer.validated_data)
        return Response(result)


class MessageViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """A conversation's messages, oldest first; POST a reply or (``private: true``) an internal note."""

    serializer_class = s.MessageSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("created_at", "id")
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_conversation(self) -> Conversation:
        pk = self.kwargs["conversation_pk"]
        if not (str(pk).isascii() and str(pk).isdigit()):
            raise exceptions.NotFound("Not found.")
        return get_object_or_404(conversations_visible_to(self.request.user).select_related("inbox"), pk=pk)

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Message.objects.none()
        return message_queryset(self.get_conversation())

    @extend_schema(
        summary="A conversation's messages", responses={200: s.MessageSerializer(many=True), 404: s.ErrorSerializer}
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Reply, or add an internal note",
        request={"application/json": s.MessageCreateSerializer, "multipart/form-data": s.MessageCreateSerializer},
        responses={
            201: s.MessageSerializer,
            400: s.ErrorSerializer,
            404: s.ErrorSerializer,
            413: OpenApiResponse(s.ErrorSerializer, description="An attachment is larger than the limit."),
            415: OpenApiResponse(s.ErrorSerializer, description="An attachment's type is not allowed."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        conversation = self.get_conversation()
        self._check_upload_sizes(request)
        serializer = s.MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attachments = [self._inbound(upload) for upload in data["attachments"]]
        if data["private"]:
            message = services.note_add(conversation=conversation, author=request.user, body=data["body"])
        else:
            message = services.message_send_reply(
                conversation=conversation, author=request.user, body=data["body"], attachments=attachments
            )
        fresh = message_queryset(conversation).get(pk=message.pk)
        return Response(s.MessageSerializer(fresh, context=self.get_serializer_context()).data, status=201)

    @staticmethod
    def _check_upload_sizes(request: Request) -> None:
        limit = settings.MAX_ATTACHMENT_BYTES
        for upload in request.FILES.getlist("attachments") if hasattr(request.FILES, "getlist") else []:
            if upload.size is not None and upload.size > limit:
                raise PayloadTooLarge(
                    f"{upload.name} is {upload.size} bytes; attachments may be at most {limit // (1024 * 1024)} MB."
                )

    @staticmethod
    def _inbound(upload: Any) -> services.InboundAttachment:
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type not in ALLOWED_ATTACHMENT_TYPES:
            raise UnsupportedAttachmentType(
                f"{upload.name}: files of type {content_type or 'unknown'} cannot be attached; "
                f"allowed: {', '.join(sorted(ALLOWED_ATTACHMENT_TYPES))}."
            )
        return services.InboundAttachment(filename=upload.name, content_type=content_type, content=upload.read())


# --- Contacts ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List contacts",
        parameters=[OpenApiParameter("q", str, description="Name, phone number, email address or id contains.")],
    ),
    retrieve=extend_schema(summary="A contact, with identities and conversation history"),
    partial_update=extend_schema(summary="Change a contact's details"),
    update=extend_schema(summary="Change a contact's details"),
)
class ContactViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.ContactSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Contact]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Contact.objects.none()
        contacts = contacts_visible_to(self.request.user)
        text = (self.request.query_params.get("q") or "").strip()
        if text and self.action == "list":
            contacts = contacts.filter(
                Q(name__icontains=text)
                | Q(pk__in=Contact.objects.filter(identities__value__icontains=text).values("pk"))
            )
        return contacts

    def get_serializer_class(self) -> Any:
        return s.ContactDetailSerializer if self.action == "retrieve" else s.ContactSerializer

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = self.get_object()
        context = {**self.get_serializer_context(), "conversations": recent_conversations_of(contact, request.user)}
        return Response(s.ContactDetailSerializer(contact, context=context).data)

    def perform_update(self, serializer: Any) -> None:
        contact = services.contact_update(
            contact=serializer.instance, actor=self.request.user, **serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=contact.pk)

    @extend_schema(
        summary="Add a channel identity",
        request=s.IdentityCreateSerializer,
        responses={201: s.IdentitySerializer, 400: s.ErrorSerializer, 404: s.ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def identities(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        serializer = s.IdentityCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identity = services.contact_add_identity(contact=contact, **serializer.validated_data)
        return Response(s.IdentitySerializer(identity).data, status=201)

    @extend_schema(
        summary="Merge another contact into this one",
        request=s.MergeSerializer,
        responses={200: s.ContactSerializer, 400: s.ErrorSerializer, 404: s.ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()
        serializer = s.MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source_id = serializer.validated_data["source_id"]
        source = contacts_visible_to(request.user).filter(pk=source_id).first()
        if source is None:
            raise exceptions.ValidationError({"source_id": [f"Contact {source_id} not found."]})
        services.contact_merge(source=source, target=target, actor=request.user)
        return Response(s.ContactSerializer(self.get_queryset().get(pk=target.pk)).data)


# --- Configuration -------------------------------------------------------------------------------


class ConfigViewSet(viewsets.ModelViewSet):
    """Agents read; supervisors create, change and delete."""

    permission_classes = [IsSupervisorOrReadOnly]
    pagination_class = KeysetPagination
    keyset_ordering: tuple[str, ...] = ("id",)


class InboxViewSet(ConfigViewSet):
    serializer_class = s.InboxSerializer

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Inbox.objects.none()
        return inboxes_visible_to(self.request.user)


class TeamViewSet(ConfigViewSet):
    serializer_class = s.TeamSerializer
    queryset = Team.objects.all()
    keyset_ordering = ("name", "id")


class TagViewSet(ConfigViewSet):
    serializer_class = s.TagSerializer
    queryset = Tag.objects.all()
    keyset_ordering = ("name", "id")


class SLAPolicyViewSet(ConfigViewSet):
    serializer_class = s.SLAPolicySerializer
    queryset = SLAPolicy.objects.all()
    keyset_ordering = ("name", "id")


class RoutingRuleViewSet(ConfigViewSet):
    serializer_class = s.RoutingRuleSerializer
    keyset_ordering = ("position", "id")

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return RoutingRule.objects.none()
        return routing_rules_for(self.request.user)


class KnowledgeArticleViewSet(ConfigViewSet):
    serializer_class = s.KnowledgeArticleSerializer

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return KnowledgeArticle.objects.none()
        return knowledge_articles_for(self.request.user)

    def perform_create(self, serializer: Any) -> None:
        serializer.save(created_by=self.request.user)


class CannedResponseViewSet(ConfigViewSet):
    serializer_class = s.CannedResponseSerializer
    keyset_ordering = ("shortcut", "id")

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return CannedResponse.objects.none()
        return canned_responses_for(self.request.user)

    def perform_create(self, serializer: Any) -> None:
        serializer.save(created_by=self.request.user)

    @extend_schema(
        summary="Render for a conversation",
        parameters=[OpenApiParameter("conversation", int, required=True, description="The conversation's id.")],
        responses={200: s.RenderedCannedResponseSerializer, 400: s.ErrorSerializer, 404: s.ErrorSerializer},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def render(self, request: Request, pk: str | None = None) -> Response:
        canned = self.get_object()
        raw = request.query_params.get("conversation", "")
        if not (raw.isascii() and raw.isdigit()):
            raise exceptions.ValidationError({"conversation": ["Give the conversation's id."]})
        conversation = get_object_or_404(conversation_queryset(request.user), pk=int(raw))
        body = render_canned_response(canned, conversation=conversation, agent=request.user)
        return Response({"id": canned.pk, "shortcut": canned.shortcut, "body": body})


@extend_schema_view(
    list=extend_schema(summary="Agents you work with"),
    partial_update=extend_schema(
        summary="Change an agent",
        description="An agent may set her own availability; supervisors may change anything of anyone.",
    ),
)
class AgentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.AgentSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("username", "id")
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return User.objects.none()
        return agents_visible_to(self.request.user)

    def perform_update(self, serializer: Any) -> None:
        agent = serializer.instance
        profile_changes = dict(serializer.validated_data.get("agent_profile", {}))
        availability = profile_changes.pop("availability", None)
        if profile_changes and not is_supervisor(self.request.user):
            raise exceptions.PermissionDenied(
                "Only supervisors may change capacity, skills, languages, channels or teams."
            )
        if availability is not None and agent.pk != self.request.user.pk and not is_supervisor(self.request.user):
            raise exceptions.PermissionDenied("You may only set your own availability.")
        if profile_changes:
            teams = profile_changes.pop("teams", None)
            services.agent_update_profile(agent=agent, changes=profile_changes, teams=teams, actor=self.request.user)
        if availability is not None:
            services.agent_set_availability(agent=agent, availability=availability, actor=self.request.user)
        serializer.instance = self.get_queryset().get(pk=agent.pk)


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your own notifications, newest first."""

    serializer_class = s.NotificationSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Notification.objects.none()
        notifications = Notification.objects.filter(recipient_id=self.request.user.pk)
        if self.request.query_params.get("unread") in ("1", "true", "yes"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications

    @extend_schema(
        parameters=[OpenApiParameter("unread", bool, description="Only unread ones.")],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: s.NotificationSerializer, 404: s.ErrorSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = self.get_object()
        services.notification_mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db()
        return Response(s.NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: s.MarkedReadSerializer})
    @action(detail=False, methods=["post"], url_path="read-all", pagination_class=None, filter_backends=[])
    def read_all(self, request: Request) -> Response:
        return Response({"marked_read": services.notification_mark_read(user=request.user)})

    @extend_schema(
        summary="Your notification preferences",
        description=(
            "Per notification type, whether you get it in the app and by email. PUT or PATCH changes only the "
            "types and media you send; the answer is always every type."
        ),
        request=s.NotificationPreferencesSerializer,
        responses={200: s.NotificationPreferencesSerializer, 400: s.ErrorSerializer},
        filters=False,
    )
    @action(detail=False, methods=["get", "put", "patch"], pagination_class=None, filter_backends=[])
    def preferences(self, request: Request) -> Response:
        if request.method == "GET":
            return Response(notifications.preferences_of(request.user))
        serializer = s.NotificationPreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            notifications.notification_preferences_set(user=request.user, changes=dict(serializer.validated_data))
        )


# --- Authentication and the realtime ticket -----------------------------------------------------


def _token_data(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


class AuthTokenView(APIView):
    """Issue an API key for a username and password (POST); revoke the key you are using (DELETE)."""

    # `curl -d username=... -d password=...` works as well as a JSON body.
    parser_classes = [JSONParser, FormParser]

    def get_authenticators(self) -> list[Any]:
        # Logging in needs no credentials (and so no CSRF token); revoking needs the token itself.
        if self.request is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(
        summary="Issue an API token",
        description=(
            "The key is shown once. Failed logins are limited per username and per client address; "
            "over the limit the answer is 429 with Retry-After."
        ),
        request=s.TokenRequestSerializer,
        responses={
            201: s.IssuedTokenSerializer,
            400: s.ErrorSerializer,
            429: OpenApiResponse(s.ErrorSerializer, description="Too many failed logins; see Retry-After."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = s.TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        address = auth.client_address(request)
        wait = auth.login_retry_after(data["username"], address)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many failed logins; try again later.")
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            auth.login_failed(data["username"], address)
            raise exceptions.ValidationError({"non_field_errors": ["Wrong username or password."]})
        auth.login_succeeded(data["username"])
        expires_at = timezone.now() + timedelta(days=data["expires_in_days"])
        token, key = ApiToken.issue(user=user, name=data["name"], expires_at=expires_at)
        return Response({**_token_data(token), "key": key}, status=201)

    @extend_schema(
        summary="Revoke the token used for this request",
        request=None,
        responses={204: None, 400: s.ErrorSerializer, 401: s.ErrorSerializer},
    )
    def delete(self, request: Request) -> Response:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.ValidationError(
                {"non_field_errors": ["This request was not made with a token; revoke tokens at /api/v1/auth/tokens/."]}
            )
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        return Response(status=204)


@extend_schema_view(
    list=extend_schema(summary="Your API tokens"),
    destroy=extend_schema(summary="Revoke one of your API tokens", responses={204: None, 404: s.ErrorSerializer}),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ApiTokenSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user_id=self.request.user.pk or 0)

    def perform_destroy(self, instance: ApiToken) -> None:
        ApiToken.objects.filter(pk=instance.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


class RealtimeTicketView(APIView):
    """A short-lived ticket for the agents' websocket, for clients that cannot send the session cookie.

    Made and checked by conversations.realtime (signed, valid for 60 seconds, for an active user).
    """

    @extend_schema(summary="Issue a websocket ticket", request=None, responses={201: s.RealtimeTicketSerializer})
    def post(self, request: Request) -> Response:
        ticket = realtime.issue_ticket(request.user.pk or 0)  # authenticated: always an id
        base = settings.PUBLIC_BASE_URL.replace("https://", "wss://").replace("http://", "ws://")
        return Response(
            {
                "ticket": ticket,
                "expires_in": realtime.TICKET_MAX_AGE_SECONDS,
                "url": f"{base}/ws/agent/?ticket={ticket}",
            },
            status=201,
        )


@csrf_exempt  # it changes nothing, and a POST to a wrong path must get this 404, not a CSRF page
def unknown_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under /api/v1/ that is not an endpoint (not part of the schema)."""
    return JsonResponse(
        error_body("not_found", f"There is no API endpoint at {request.path}; see /api/schema/."), status=404
    )
