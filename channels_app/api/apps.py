from django.apps import AppConfig


class ApiChannelConfig(AppConfig):
    name = "channels_app.api"
    label = "channels_api"
    verbose_name = "API channel"

    def ready(self) -> None:
        # Registers the "api" transport with channels_app.transports.
        from channels_app.api import transport  # noqa: F401
