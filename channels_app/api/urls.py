from django.urls import path

from channels_app.api import views

app_name = "api"
urlpatterns = [
    path("<int:inbox_id>/messages/", views.inbound_message, name="messages"),
]
