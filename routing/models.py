"""Who handles a conversation: routing rules and the assistant's knowledge base."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from conversations.models import ChannelKind, Inbox

CONDITION_FIELDS = ("channel", "inbox", "keywords", "topic", "language", "location", "segment", "priority")
CONDITION_OPERATORS = ("is", "is_not", "in", "contains_any")
ACTION_KEYS = ("team", "agent", "tags", "priority", "sla_policy")


class MatchMode(models.TextChoices):
    ALL = "all", "All conditions"
    ANY = "any", "Any condition"


class RoutingRule(models.Model):
    """An ordered rule: when the conditions match, the actions apply.

    ``conditions`` is a list of ``{"field": ..., "operator": ..., "value": ...}``;
    ``actions`` is an object with any of team (id), agent (id), tags (names),
    priority (name) and sla_policy (id).
    """

    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    inbox = models.ForeignKey(Inbox, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: all inboxes.")
    match = models.CharField(max_length=3, choices=MatchMode.choices, default=MatchMode.ALL)
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=dict)
    stop_processing = models.BooleanField(default=True, help_text="Stop at this rule when it matches.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["is_active", "position"], name="rule_order_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from conversations.models import Priority, SLAPolicy, Team

        if not isinstance(self.conditions, list):
            raise ValidationError({"conditions": "Conditions are a list."})
        for condition in self.conditions:
            if not isinstance(condition, dict) or set(condition) != {"field", "operator", "value"}:
                raise ValidationError({"conditions": "Each condition has field, operator and value."})
            if condition["field"] not in CONDITION_FIELDS:
                raise ValidationError({"conditions": f"Unknown field {condition['field']!r}."})
            if condition["operator"] not in CONDITION_OPERATORS:
                raise ValidationError({"conditions": f"Unknown operator {condition['operator']!r}."})
            _check_condition_value(condition)
        actions: Any = self.actions
        if not isinstance(actions, dict) or not actions:
            raise ValidationError({"actions": "Choose at least one action."})
        unknown_keys = set(actions) - set(ACTION_KEYS)
        if unknown_keys:
            raise ValidationError({"actions": f"Unknown actions: {', '.join(sorted(unknown_keys))}."})
        user_model = _user_model()
        checks: list[tuple[str, Any]] = [("team", Team), ("agent", user_model), ("sla_policy", SLAPolicy)]
        for key, model in checks:
            if key in actions and not model.objects.filter(pk=actions[key]).exists():
                raise ValidationError({"actions": f"The {key.replace('_', ' ')} {actions[key]!r} does not exist."})
        if "priority" in actions:
            try:
                Priority.from_name(str(actions["priority"]))
            except ValueError as exc:
                raise ValidationError({"actions": str(exc)}) from None
        if "tags" in actions and not (
            isinstance(actions["tags"], list) and all(isinstance(tag, str) for tag in actions["tags"])
        ):
            raise ValidationError({"actions": "tags is a list of tag names."})


def _check_condition_value(condition: dict[str, Any]) -> None:
    """The value must make sense for the operator and the field, so a rule never fails when it runs."""
    from conversations.models import Priority

    field, operator, value = condition["field"], condition["operator"], condition["value"]
    if operator in ("in", "contains_any"):
        if not isinstance(value, list) or not value:
            raise ValidationError({"conditions": f"{field} {operator}: the value is a non-empty list."})
        values = value
    else:
        if isinstance(value, list | dict) or value is None or value == "":
            raise ValidationError({"conditions": f"{field} {operator}: the value is a single value."})
        values = [value]
    if field == "keywords" and operator != "contains_any":
        raise ValidationError({"conditions": "keywords only works with contains_any."})
    if field in ("channel", "inbox", "priority") and operator == "contains_any":
        raise ValidationError({"conditions": f"{field} works with is, is_not and in."})
    if operator == "contains_any" and not all(isinstance(v, str) and v.strip() for v in values):
        raise ValidationError({"conditions": f"{field} contains_any: the words are non-empty strings."})
    if field == "channel":
        unknown = set(values) - set(ChannelKind.values)
        if unknown:
            raise ValidationError({"conditions": f"Unknown channel {', '.join(sorted(map(str, unknown)))}."})
    elif field == "inbox":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValidationError({"conditions": "inbox values are inbox ids."})
        missing = set(values) - set(Inbox.objects.filter(pk__in=values).values_list("pk", flat=True))
        if missing:
            raise ValidationError({"conditions": f"Unknown inbox {', '.join(sorted(map(str, missing)))}."})
    elif field == "priority":
        for v in values:
            try:
                Priority.from_name(str(v))
            except ValueError as exc:
                raise ValidationError({"conditions": str(exc)}) from None
    elif not all(isinstance(v, str) for v in values):
        raise ValidationError({"conditions": f"{field} values are text."})


class AgentRotation(models.Model):
    """When an agent last got a conversation from a team's automatic assignment.

    Round-robin takes the team's least recently assigned available agent, so the rotation lives in
    the database: it survives restarts and every worker shares it. Rows are written only while the
    agent's profile row is locked (see ``routing.assignment``), so two workers never race on one.
    """

    team = models.ForeignKey("conversations.Team", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "agent"], name="rotation_unique_team_agent")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} in team {self.team_id}"


def _user_model() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model()


class KnowledgeArticle(models.Model):
    title = models.CharField(max_length=300)
    body = models.TextField()
    keywords = models.CharField(max_length=500, blank=True, help_text="Extra words that should find this article.")
    topic = models.CharField(max_length=50, blank=True)
    inbox = models.ForeignKey(Inbox, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: all inboxes.")
    is_published = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["is_published", "inbox"], name="article_published_idx")]

    def __str__(self) -> str:
        return self.title
