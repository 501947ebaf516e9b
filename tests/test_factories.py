"""Every model of the project has a factory, and every factory builds a valid saved row."""

from __future__ import annotations

import inspect

import factory
import pytest
from django.apps import apps

from tests import factories

PROJECT_APPS = {"core", "conversations", "channels_app", "routing", "analytics"}
FACTORIES = [
    obj
    for obj in vars(factories).values()
    if inspect.isclass(obj) and issubclass(obj, factory.django.DjangoModelFactory) and obj._meta.model is not None
]


def test_every_model_has_a_factory():
    covered = {f._meta.model for f in FACTORIES}
    models = {m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS}
    assert models - covered == set()


@pytest.mark.django_db
@pytest.mark.parametrize("model_factory", FACTORIES, ids=lambda f: f.__name__)
def test_each_factory_saves_a_row(model_factory):
    obj = model_factory()
    assert type(obj).objects.filter(pk=obj.pk).exists()
