"""Routing's Celery tasks: thin wrappers that take ids and call ``routing.assign_services``.

Celery's autodiscovery imports only ``<app>.tasks``; ``routing/tasks.py`` imports this module.
Beat runs ``sweep_routing_queues`` and ``reassign_unanswered_conversations`` every minute.
"""

from __future__ import annotations

from celery import shared_task

from routing import assign_services


@shared_task(name="routing.routing_tasks.route_conversation", acks_late=True, ignore_result=True)
def route_conversation_task(conversation_id: int, trigger: str, message_id: int | None = None) -> None:
    assign_services.route_conversation(conversation_id, trigger=trigger, message_id=message_id)


@shared_task(name="routing.routing_tasks.drain_team_queue", acks_late=True, ignore_result=True)
def drain_team_queue_task(team_id: int) -> int:
    return assign_services.drain_queue(team_id)


@shared_task(name="routing.routing_tasks.capacity_freed", acks_late=True, ignore_result=True)
def capacity_freed_task(agent_id: int) -> int:
    return assign_services.on_capacity_freed(agent_id)


@shared_task(name="routing.routing_tasks.sweep_queues", ignore_result=True)
def sweep_routing_queues() -> int:
    return assign_services.sweep_queues()


@shared_task(name="routing.routing_tasks.reassign_unanswered", ignore_result=True)
def reassign_unanswered_conversations() -> int:
    return assign_services.reassign_unanswered()
