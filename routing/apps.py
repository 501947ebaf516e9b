from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"

    def ready(self) -> None:
        from routing.assistant.hooks import handoff_listener

        handoff_listener(_route_after_handoff)


def _route_after_handoff(conversation_id: int) -> None:
    """The assistant handed off (already committed): rules and assignment run in the background."""
    from core import outbox

    outbox.enqueue("routing.routing_tasks.route_conversation", conversation_id, "handoff", None)
