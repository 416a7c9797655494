"""The audit trail: who did what, when, from where, to which object, with the values before and after."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    IMPORT = "import", "Imported"
    EXPORT = "export", "Exported"
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Failed sign-in"
    LOGIN_LOCKED = "login_locked", "Sign-in refused (locked)"
    LOGOUT = "logout", "Signed out"
    SESSION_EXPIRED = "session_expired", "Session expired"
    TOTP_ENROLLED = "totp_enrolled", "Second factor set up"
    TOTP_RESET = "totp_reset", "Second factor removed"
    RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", "Recovery codes renewed"
    ROLE_CHANGED = "role_changed", "Role changed"


class AuditEvent(models.Model):
    """One change or action. Never edited: events are only added (and pruned by age, if ever).

    The actor is a user, an API token (and its user), or a label for anything else
    (``portal link 42``, ``cli:alice``, ``system``). ``before``/``after`` hold only the fields that
    changed (all of them on create and delete), as JSON-ready values.
    """

    at = models.DateTimeField(db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_token = models.ForeignKey(
        "api.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who, in words (kept after deletion)"
    )
    action = models.CharField(max_length=32, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    entity = models.ForeignKey(
        "ledger.Entity",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["entity", "at"]),
            models.Index(fields=["actor_user", "at"]),
        ]

    def __str__(self) -> str:
        target = f" {self.object_type}#{self.object_id}" if self.object_type else ""
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}{target}"


class CaseEventKind(models.TextChoices):
    """What happened on a customer's case. Portal actions without a case effect of their own are
    ``portal_<action>`` (``PORTAL_PREFIX``); the label is the verb the timeline shows."""

    PROMISE_MADE = "promise_made", "made"
    PROMISE_KEPT = "promise_kept", "kept"
    PROMISE_BROKEN = "promise_broken", "broken"
    PROMISE_CANCELLED = "promise_cancelled", "cancelled"
    DISPUTE_OPENED = "dispute_opened", "opened"
    DISPUTE_RESOLVED = "dispute_resolved", "resolved"
    PLAN_PROPOSED = "plan_proposed", "asked for"
    PLAN_ACCEPTED = "plan_accepted", "started"
    PLAN_REFUSED = "plan_refused", "refused"
    PLAN_CANCELLED = "plan_cancelled", "cancelled"
    PLAN_COMPLETED = "plan_completed", "completed"
    HOLD_ADDED = "hold_added", "added"
    HOLD_LIFTED = "hold_lifted", "lifted"
    HOLD_REQUESTED = "hold_requested", "requested"
    HOLD_REQUEST_DECIDED = "hold_request_decided", "decided"
    CONTACT_LOGGED = "contact_logged", "logged"
    NOTE_ADDED = "note_added", "added"
    CALL_TASK = "call_task", "scheduled"
    CALL_OUTCOME = "call_outcome", "outcome"
    MESSAGE_SENT = "message_sent", "sent"
    MESSAGE_FAILED = "message_failed", "failed"
    MESSAGE_CANCELLED = "message_cancelled", "cancelled"
    CREDIT_HOLD = "credit_hold", "placed"
    CREDIT_HOLD_RELEASED = "credit_hold_released", "released"
    HAND_OFF = "hand_off", "handed off"
    HAND_OFF_UPDATED = "hand_off_updated", "updated"
    PORTAL_VISIT = "portal_visit", "visit"


PORTAL_PREFIX = "portal_"

# What the customer may see of their own case in the portal: what they did there, what was
# decided on what they asked, and the messages sent to them. Never notes, contact logs, call
# outcomes, holds or anything else internal.
CUSTOMER_VISIBLE_KINDS = frozenset(
    {
        CaseEventKind.PROMISE_MADE,
        CaseEventKind.PROMISE_KEPT,
        CaseEventKind.PROMISE_BROKEN,
        CaseEventKind.PROMISE_CANCELLED,
        CaseEventKind.DISPUTE_OPENED,
        CaseEventKind.DISPUTE_RESOLVED,
        CaseEventKind.PLAN_PROPOSED,
        CaseEventKind.PLAN_ACCEPTED,
        CaseEventKind.PLAN_REFUSED,
        CaseEventKind.PLAN_CANCELLED,
        CaseEventKind.PLAN_COMPLETED,
        CaseEventKind.MESSAGE_SENT,
    }
)


class CaseEvent(models.Model):
    """One thing that happened on a customer's case, with who did it: the case timeline.

    Written only by ``relance.audit.services.case_event_record``, called by the service that made
    the change with an explicit ``relance.core.actors.Actor`` (never an ambient one). The actor's
    kind, ids and label are kept (the label survives the user, token or link); ``subject_*``
    names the row it is about (``promise`` 12, ``message`` 40…); ``summary`` is the line shown,
    ``data`` the facts behind it (``detail``: the note or reason shown under it).
    """

    entity = models.ForeignKey("ledger.Entity", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("ledger.Customer", on_delete=models.CASCADE, related_name="case_events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=40, db_index=True)
    actor_kind = models.CharField(max_length=8)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_token = models.ForeignKey(
        "api.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_link_id = models.BigIntegerField(null=True, blank=True, help_text="The portal link, if any")
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who, in words (kept after deletion)"
    )
    subject_type = models.CharField(max_length=40, blank=True, help_text="promise, dispute, message…")
    subject_id = models.BigIntegerField(null=True, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "at"]),
            models.Index(fields=["subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.kind}"

    @property
    def group(self) -> str:
        """What the event is about, as the timeline's badge: promise, dispute, message, portal…"""
        return event_group(self.kind)

    @property
    def verb(self) -> str:
        try:
            return str(CaseEventKind(self.kind).label)
        except ValueError:
            return self.kind.removeprefix(PORTAL_PREFIX).replace("_", " ")

    @property
    def detail(self) -> str:
        return str((self.data or {}).get("detail") or "")


GROUPS = {
    "call_task": "call",
    "call_outcome": "call",
    "contact_logged": "contact",
    "note_added": "note",
    "credit_hold": "credit hold",
    "credit_hold_released": "credit hold",
    "hand_off": "hand off",
    "hand_off_updated": "hand off",
    "hold_requested": "hold",
    "hold_request_decided": "hold",
}


def event_group(kind: str) -> str:
    if kind in GROUPS:
        return GROUPS[kind]
    if kind.startswith(PORTAL_PREFIX):
        return "portal"
    return kind.split("_", 1)[0]
