from django.apps import AppConfig


class TwilioChannelConfig(AppConfig):
    name = "channels_app.twilio"
    label = "channels_twilio"
    verbose_name = "Twilio (SMS, WhatsApp, voice)"
