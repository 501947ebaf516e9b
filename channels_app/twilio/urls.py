from django.urls import path

from channels_app.twilio import views

app_name = "twilio"
urlpatterns = [
    path("<str:webhook_token>/messages/", views.inbound_message, name="messages"),
    path("<str:webhook_token>/status/", views.message_status, name="status"),
    path("<str:webhook_token>/voice/", views.voice_call, name="voice"),
    path("<str:webhook_token>/voice/recording/", views.voice_recording, name="voice-recording"),
    path("<str:webhook_token>/voice/transcription/", views.voice_transcription, name="voice-transcription"),
]
