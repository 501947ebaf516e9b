from django.apps import AppConfig


class EmailChannelConfig(AppConfig):
    name = "channels_app.email"
    label = "channels_email"
    verbose_name = "Email"

    def ready(self) -> None:
        # Registers the "email" transport with channels_app.transports.
        from channels_app.email import transport  # noqa: F401
