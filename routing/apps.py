from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"

    def ready(self) -> None:
        from routing.assistant.hooks import handoff_listener

        handoff_listener(_route_after_handoff)


def _route_after_handoff(conversation_id: int) -> None:
    """The assistant handed off (already committed): rules and assignment run in the background."""
    from routing.routing_tasks import route_conversation_task

    route_conversation_task.delay(conversation_id, "handoff", None)
