"""Writes of the accounts app: role groups and their permissions, users, TOTP, login throttling."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from relance.accounts import roles
from relance.accounts.models import EntityAccess, RecoveryCode, TotpDevice
from relance.core.errors import NotFound, ValidationFailed
from relance.ledger.models import Entity

UNKNOWN_ROLE = "unknown role {role!r}: expected one of {roles}"
USER_EXISTS = "a user {email!r} already exists: change its role with `relance user role`"
NO_SUCH_USER = "no user {email!r}"
NO_SUCH_ENTITY = "no entity named {name!r}"
TOTP_ALREADY = "a second factor is already set up: reset it first"
TOTP_BAD_CODE = "that code is not valid: check your authenticator's clock and try again"
RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "Relance"


# -- roles ----------------------------------------------------------------------------------------


def roles_sync(*, app_labels: Iterable[str] | None = None) -> int:
    """Give each role group exactly the permissions its rules match (for ``app_labels``, or all).

    Returns the number of permission links added or removed. Idempotent.
    """
    permissions = Permission.objects.select_related("content_type")
    if app_labels is not None:
        permissions = permissions.filter(content_type__app_label__in=list(app_labels))
    permissions_list = list(permissions)
    changed = 0
    for role in roles.ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = {
            permission.pk for permission in permissions_list if role_permission_matches(role, permission)
        }
        scope = {permission.pk for permission in permissions_list}
        current = set(group.permissions.filter(pk__in=scope).values_list("pk", flat=True))
        if wanted - current:
            group.permissions.add(*(wanted - current))
        if current - wanted:
            group.permissions.remove(*(current - wanted))
        changed += len(wanted ^ current)
    return changed


def role_permission_matches(role: str, permission: Permission) -> bool:
    action = permission.codename.split("_", 1)[0]
    content_type = permission.content_type
    return roles.role_grants(role, app_label=content_type.app_label, model=content_type.model, action=action)


def roles_sync_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: the app that was just migrated has its permissions; sync them."""
    label = getattr(sender, "label", None)
    if label is None or not Group._meta.db_table:
        return
    from django.db import connections

    if Group._meta.db_table not in connections[using].introspection.table_names():
        return
    roles_sync(app_labels=[label])


def role_check(role: str) -> str:
    if role not in roles.ROLES:
        raise ValidationFailed(UNKNOWN_ROLE.format(role=role, roles=", ".join(roles.ROLES)), code="invalid")
    return role


@transaction.atomic
def user_role_set(*, user: Any, role: str) -> None:
    """Make ``role`` the user's only role. Only admins get ``is_staff`` (the Django admin is not
    entity-scoped)."""
    role_check(role)
    user.groups.remove(*Group.objects.filter(name__in=roles.ROLES).exclude(name=role))
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    is_staff = role in roles.STAFF_ROLES or user.is_superuser
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    from relance.accounts.selectors import access_memo_clear

    access_memo_clear(user)


def entity_access_grant(*, user: Any, entity: Entity) -> EntityAccess:
    from relance.accounts.selectors import access_memo_clear

    access, _ = EntityAccess.objects.get_or_create(user=user, entity=entity)
    access_memo_clear(user)  # the entities memoised on this object for its request are stale now
    return access


def entity_access_revoke(*, user: Any, entity: Entity) -> int:
    from relance.accounts.selectors import access_memo_clear

    deleted, _ = EntityAccess.objects.filter(user=user, entity=entity).delete()
    access_memo_clear(user)
    return deleted


def user_by_email(*, email: str) -> Any:
    users = get_user_model().objects
    user = users.filter(username__iexact=email).first() or users.filter(email__iexact=email).first()
    if user is None:
        raise NotFound(NO_SUCH_USER.format(email=email))
    return user


@transaction.atomic
def user_create(
    *, email: str, role: str, entity_names: Iterable[str] = (), password: str | None = None
) -> Any:
    """A user signing in with ``email``, in ``role``, granted ``entity_names``.

    Without a password the account cannot sign in until one is set (``relance changepassword``).
    """
    role_check(role)
    users = get_user_model().objects
    if users.filter(username__iexact=email).exists():
        raise ValidationFailed(USER_EXISTS.format(email=email), code="conflict")
    entities = []
    for name in entity_names:
        entity = Entity.objects.filter(name=name).first()
        if entity is None:
            raise NotFound(NO_SUCH_ENTITY.format(name=name))
        entities.append(entity)
    if password is not None:
        from django.contrib.auth.password_validation import validate_password
        from django.core.exceptions import ValidationError

        try:
            validate_password(password, user=get_user_model()(username=email, email=email))
        except ValidationError as error:
            raise ValidationFailed("; ".join(error.messages), code="invalid") from None
    user = users.create_user(username=email, email=email, password=password)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user_role_set(user=user, role=role)
    for entity in entities:
        entity_access_grant(user=user, entity=entity)
    return user


# -- TOTP -----------------------------------------------------------------------------------------


def totp_secret_new() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_provisioning_uri(*, user: Any, secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=TOTP_ISSUER)


def _totp_step(secret: str, code: str, now: float) -> int | None:
    """The time step ``code`` belongs to (±1 step of clock drift), or None."""
    import pyotp

    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def totp_code_matches(*, secret: str, code: str, now: float | None = None) -> bool:
    return _totp_step(secret, code, timezone.now().timestamp() if now is None else now) is not None


@transaction.atomic
def totp_enrol(*, user: Any, secret: str, code: str) -> list[str]:
    """Confirm a new TOTP device with a first code; returns fresh recovery codes (shown once)."""
    if TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
        raise ValidationFailed(TOTP_ALREADY, code="conflict")
    step = _totp_step(secret, code, timezone.now().timestamp())
    if step is None:
        raise ValidationFailed(TOTP_BAD_CODE, code="invalid")
    TotpDevice.objects.update_or_create(
        user=user, defaults={"secret": secret, "confirmed_at": timezone.now(), "last_used_step": step}
    )
    return recovery_codes_regenerate(user=user)


def totp_verify(*, user: Any, code: str) -> str | None:
    """Check a sign-in code: a TOTP code (once per step) or an unused recovery code.

    Returns "totp" or "recovery" for what matched, None when nothing did.
    """
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            return None
        step = _totp_step(device.secret, code, timezone.now().timestamp())
        if step is not None and step > device.last_used_step:
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return "totp"
        used = RecoveryCode.objects.filter(
            user=user, code_hash=recovery_code_hash(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        return "recovery" if used else None


def recovery_code_hash(code: str) -> str:
    normalised = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(f"relance-recovery:{normalised}".encode()).hexdigest()


def recovery_codes_regenerate(*, user: Any) -> list[str]:
    """Replace the user's recovery codes with new ones; returns them (only hashes are stored)."""
    codes = [
        "-".join(secrets.token_hex(2) + secrets.token_hex(1) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery_code_hash(code)) for code in codes
    )
    return codes


@transaction.atomic
def totp_reset(*, user: Any) -> bool:
    """Remove the user's second factor and recovery codes. Returns whether there was one."""
    deleted, _ = TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    return bool(deleted)


# -- login throttling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginThrottle:
    """Failed sign-ins counted in the cache per username and per client address."""

    max_per_username: int
    max_per_ip: int
    lock_seconds: int

    @classmethod
    def from_settings(cls) -> LoginThrottle:
        return cls(
            max_per_username=settings.RELANCE_LOGIN_MAX_FAILURES,
            max_per_ip=settings.RELANCE_LOGIN_MAX_FAILURES_PER_IP,
            lock_seconds=settings.RELANCE_LOGIN_LOCK_SECONDS,
        )

    def _keys(self, username: str, ip: str) -> tuple[str, str]:
        name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        return f"relance:login-failures:user:{name}", f"relance:login-failures:ip:{ip}"

    def locked(self, *, username: str, ip: str) -> bool:
        user_key, ip_key = self._keys(username, ip)
        counts = cache.get_many([user_key, ip_key])
        return counts.get(user_key, 0) >= self.max_per_username or counts.get(ip_key, 0) >= self.max_per_ip

    def failed(self, *, username: str, ip: str) -> None:
        """Count a failure; the lock lasts ``lock_seconds`` from the latest failure."""
        for key in self._keys(username, ip):
            count = cache.get(key, 0) + 1
            cache.set(key, count, self.lock_seconds)

    def succeeded(self, *, username: str, ip: str) -> None:
        cache.delete(self._keys(username, ip)[0])
