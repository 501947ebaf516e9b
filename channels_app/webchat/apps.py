from django.apps import AppConfig


class WebchatChannelConfig(AppConfig):
    name = "channels_app.webchat"
    label = "channels_webchat"
    verbose_name = "Web chat"
