from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self) -> None:
        from routing.assistant.hooks import handoff_listener

        handoff_listener(_after_handoff)


def _after_handoff(conversation_id: int) -> None:
    """The assistant handed off (already committed): SLA clocks start and the team hears of it."""
    from conversations.services import conversation_after_handoff

    conversation_after_handoff(conversation_id=conversation_id)
