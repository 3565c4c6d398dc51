"""Style rule made a test: ``tenant_id`` is the first argument of every service and
repository method that takes one (docs/adr/0001, design/style.md)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import koe
from koe.tenancy.repository import TenantRepository


def _service_classes() -> list[type]:
    classes: list[type] = [TenantRepository]
    for info in pkgutil.walk_packages(koe.__path__, "koe."):
        if not info.name.endswith((".service", ".repository", ".sessions", ".mailer")):
            continue
        module = importlib.import_module(info.name)
        classes += [
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if obj.__module__ == module.__name__
            and obj.__name__.endswith(("Service", "Repository", "Mailer"))
        ]
    return classes


CLASSES = _service_classes()


def test_the_rule_sees_the_services() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {
        "TenantRepository",
        "DirectoryService",
        "TenantService",
        "BillingService",
        "ContractService",
        "AuthService",
    } <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_tenant_id_comes_first(cls: type) -> None:
    offenders = []
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = [p for p in inspect.signature(fn).parameters if p != "self"]
        if "tenant_id" in params and params[0] != "tenant_id":
            offenders.append(f"{cls.__name__}.{name}{tuple(params)}")
    assert offenders == []
