"""Model changes made while an actor is known (a request, or ``audit_actor``) become events.

Only models of the business apps (and users, groups, grants and tokens) are audited; bulk
``QuerySet.update``/``bulk_create`` send no signals, so bulk work records one event itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from relance.audit.context import audit_context
from relance.audit.services import audit_record, model_values, values_diff

AUDITED_APPS = frozenset(
    {
        "ledger",
        "cases",
        "dunning",
        "comms",
        "delivery",
        "charges",
        "compliance",
        "accounts",
        "api",
        "auth",
        "ingest",
        "credit",
    }
)
NOT_AUDITED = frozenset(
    {
        "api.idempotencykey",
        "dunning.dunninglock",
        "ledger.dataversion",  # cache counters and their change log, written by the changes that are recorded
        "ledger.datachange",
        "credit.creditscore",  # written in bulk by the daily scoring
        "auth.permission",
        "accounts.recoverycode",  # TOTP changes are recorded as actions (no secrets in events)
        "accounts.totpdevice",
    }
)
BEFORE_ATTRIBUTE = "_audit_before"


def audited(model: type[models.Model]) -> bool:
    meta = model._meta
    if meta.label_lower in NOT_AUDITED or meta.label_lower in getattr(settings, "RELANCE_AUDIT_EXCLUDE", ()):
        return False
    return meta.app_label in AUDITED_APPS


def _recording() -> bool:
    context = audit_context()
    return context is not None and not context.suppressed


def on_pre_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    if raw or not _recording() or not audited(sender) or instance._state.adding or instance.pk is None:
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    setattr(instance, BEFORE_ATTRIBUTE, model_values(old) if old is not None else None)


def on_post_save(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw or not _recording() or not audited(sender):
        return
    after = model_values(instance)
    before = instance.__dict__.pop(BEFORE_ATTRIBUTE, None)
    if created or before is None:
        audit_record(action="create", obj=instance, after=after)
        return
    changed_before, changed_after = values_diff(before, after)
    if changed_before or changed_after:
        audit_record(action="update", obj=instance, before=changed_before, after=changed_after)


def on_post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if not _recording() or not audited(sender):
        return
    audit_record(action="delete", obj=instance, before=model_values(instance))


def on_m2m_changed(sender: Any, instance: models.Model, action: str, pk_set: Any, **kwargs: Any) -> None:
    """Group membership and group permissions (roles) are many-to-many: record who got what."""
    if (
        action not in {"post_add", "post_remove", "post_clear"}
        or not _recording()
        or not audited(type(instance))
    ):
        return
    field = next(
        (f.attname for f in instance._meta.many_to_many if f.remote_field.through is sender), "related"
    )
    ids = sorted(pk_set or [])
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    audit_record(action="update", obj=instance, after={field: {verb: ids}})


def connect() -> None:
    pre_save.connect(on_pre_save, dispatch_uid="relance.audit.pre_save")
    post_save.connect(on_post_save, dispatch_uid="relance.audit.post_save")
    post_delete.connect(on_post_delete, dispatch_uid="relance.audit.post_delete")
    m2m_changed.connect(on_m2m_changed, dispatch_uid="relance.audit.m2m_changed")
