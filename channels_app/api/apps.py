from django.apps import AppConfig


class ApiChannelConfig(AppConfig):
    name = "channels_app.api"
    label = "channels_api"
    verbose_name = "API channel"
