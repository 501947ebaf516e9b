"""The web chat widget's endpoints, under /channels/webchat/<inbox webhook token>/."""

from django.urls import path

from channels_app.webchat import views

app_name = "webchat"
urlpatterns = [
    path("<str:inbox_token>/session/", views.session, name="session"),
    path("<str:inbox_token>/messages/", views.messages, name="messages"),
    path("<str:inbox_token>/survey/", views.survey, name="survey"),
    path("<str:inbox_token>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
]
