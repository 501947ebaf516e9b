from django.apps import AppConfig


class TwilioChannelConfig(AppConfig):
    name = "channels_app.twilio"
    label = "channels_twilio"
    verbose_name = "Twilio (SMS, WhatsApp, voice)"

    def ready(self) -> None:
        from channels_app.twilio import transport  # noqa: F401  (registers the sms and whatsapp transports)
