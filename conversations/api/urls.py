"""Routes of the REST API, mounted at /api/v1/."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from conversations.api import exports, views, webhooks
from conversations.api.attachments import AttachmentDownloadView
from routing import api as routing_api

router = DefaultRouter()
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("inboxes", views.InboxViewSet, basename="inbox")
router.register("teams", views.TeamViewSet, basename="team")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("tags", views.TagViewSet, basename="tag")
router.register("canned-responses", views.CannedResponseViewSet, basename="canned-response")
router.register("sla-policies", views.SLAPolicyViewSet, basename="sla-policy")
router.register("routing-rules", views.RoutingRuleViewSet, basename="routing-rule")
router.register("knowledge-articles", views.KnowledgeArticleViewSet, basename="knowledge-article")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("auth/tokens", views.ApiTokenViewSet, basename="api-token")

router.register("webhooks", webhooks.WebhookSubscriptionViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<webhook_pk>\d+)/deliveries", webhooks.WebhookDeliveryViewSet, basename="webhook-delivery"
)

messages = views.MessageViewSet.as_view({"get": "list", "post": "create"})

urlpatterns = [
    path("auth/token/", views.AuthTokenView.as_view(), name="auth-token"),
    path("realtime/ticket/", views.RealtimeTicketView.as_view(), name="realtime-ticket"),
    path("attachments/<int:pk>/download/", AttachmentDownloadView.as_view(), name="attachment-download"),
    path("conversations/<str:conversation_pk>/messages/", messages, name="conversation-messages"),
    path("conversations/<str:conversation_pk>/drafts/", routing_api.DraftListView.as_view(), name="draft-list"),
    path(
        "conversations/<str:conversation_pk>/drafts/<str:draft_pk>/send/",
        routing_api.DraftSendView.as_view(),
        name="draft-send",
    ),
    path(
        "conversations/<str:conversation_pk>/drafts/<str:draft_pk>/discard/",
        routing_api.DraftDiscardView.as_view(),
        name="draft-discard",
    ),
    # Before the router: its conversation detail route would take "export.csv" as an id.
    path("conversations/export.csv", exports.ConversationListExportView.as_view(), name="conversation-list-export"),
    path(
        "conversations/<str:conversation_pk>/export/",
        exports.ConversationExportView.as_view(),
        name="conversation-export",
    ),
    *router.urls,
    # Last: any other path under /api/v1/ is a 404 in the API's error shape, not Django's HTML page.
    re_path(r"^.*$", views.unknown_endpoint, name="api-unknown"),
]
