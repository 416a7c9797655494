"""Who may see and do what. Every page and API request asks these.

* ``user_role`` — the user's role (a Django group named in ``roles.ROLES``), or the configured
  default role for a user who was granted entities before roles existed.
* ``entities_for_user`` — the entities a user sees: all for a superuser or an admin, else the
  ``EntityAccess`` grants, and nothing at all without a role.
* ``entity_list_for_user`` / ``entity_visible`` — the same, read once per request.
* ``customer_scope`` / ``customers_visible`` — THE scoping rule of the back office: customers (or
  rows with a customer) of the user's entities, a sales user's own accounts only.
* ``user_can(user, perm, obj)`` — a Django permission from the role (or given to the user), and,
  for an object, the object's entity must be visible and a sales user must own its customer.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet

from relance.accounts import roles
from relance.common.fixed_sql import SENTINEL_INT32_ID, SENTINEL_TEXT, FixedQuery
from relance.core.errors import NotFound
from relance.ledger.models import Customer, Entity

CUSTOMER_NOT_FOUND = "customer not found"


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


# Every API request and page asks who the user is: these reads are compiled once per process
# (``FixedQuery``), not on each request — the ORM's compilation cost more than the database's answer.
_ROLE_NAMES = FixedQuery(
    lambda user_id: Group.objects.filter(user__id=user_id, name__in=roles.ROLES).values_list("name"),
    user_id=SENTINEL_INT32_ID,
)


def _permission_rows(user_id: int, role: str | None) -> QuerySet[Any]:
    groups = Q(group__user__id=user_id) | Q(group__name=role) if role else Q(group__user__id=user_id)
    via_groups = Group.permissions.through.objects.filter(groups).values("permission_id")
    direct = get_user_model().user_permissions.through.objects.filter(user_id=user_id).values("permission_id")
    return Permission.objects.filter(Q(pk__in=via_groups) | Q(pk__in=direct)).values_list(
        "content_type__app_label", "codename"
    )


_PERMISSIONS_WITH_ROLE = FixedQuery(_permission_rows, user_id=SENTINEL_INT32_ID, role=SENTINEL_TEXT)
_PERMISSIONS = FixedQuery(lambda user_id: _permission_rows(user_id, None), user_id=SENTINEL_INT32_ID)
_ENTITY_NAMED = FixedQuery(
    lambda name: Entity.objects.filter(name=name).order_by("pk")[:1], name=SENTINEL_TEXT
)
_GRANTED_ENTITY_NAMED = FixedQuery(
    lambda user_id, name: Entity.objects.filter(access__user__id=user_id, name=name).order_by("pk")[:1],
    user_id=SENTINEL_INT32_ID,
    name=SENTINEL_TEXT,
)


def user_role(user: Any) -> str | None:
    """The user's role. Cached on the user object for the request."""
    if not _active(user):
        return None
    if "_relance_role" not in user.__dict__:
        names = {name for (name,) in _ROLE_NAMES.rows(user_id=user.pk)}
        role = next((name for name in roles.ROLES if name in names), None)
        if role is None:
            default = getattr(settings, "RELANCE_DEFAULT_ROLE", "") or None
            role = default if default in roles.ROLES else None
        user.__dict__["_relance_role"] = role
    return user.__dict__["_relance_role"]


def role_permissions(role: str) -> frozenset[str]:
    """``app_label.codename`` of every permission the role's group holds."""
    rows = Permission.objects.filter(group__name=role).values_list("content_type__app_label", "codename")
    return frozenset(f"{app}.{codename}" for app, codename in rows)


# What ``user_role``, ``_permissions`` and ``entity_list_for_user`` memoise on the user object. The
# object lives for one request (``AuthenticationMiddleware`` loads it afresh each time), so a
# change of role, permission or grant is seen by the user's next request; ``access_memo_clear``
# drops the memo at once for code that keeps the same object (``user_role_set``, tests).
ACCESS_MEMO_KEYS = (
    "_relance_role",
    "_relance_perms",
    "_relance_entities",
    "_perm_cache",
    "_group_perm_cache",
)


def access_memo_clear(user: Any) -> None:
    """Forget the role, permissions and entities memoised on ``user`` (after changing them)."""
    for key in ACCESS_MEMO_KEYS:
        user.__dict__.pop(key, None)


def _permissions(user: Any) -> frozenset[str]:
    """The role's permissions, the user's own and those of any other group, in one query.

    The same set as ``role_permissions(role) | user.get_all_permissions()`` (what the model
    backend gives an active user), which took three queries on every request.
    """
    if "_relance_perms" not in user.__dict__:
        role = user_role(user)
        if role:
            rows = _PERMISSIONS_WITH_ROLE.rows(user_id=user.pk, role=role)
        else:
            rows = _PERMISSIONS.rows(user_id=user.pk)
        user.__dict__["_relance_perms"] = frozenset(f"{app}.{codename}" for app, codename in rows)
    return user.__dict__["_relance_perms"]


def user_is_read_only(user: Any) -> bool:
    """A signed-in user whose role changes nothing (support, auditor)."""
    return _active(user) and not user.is_superuser and user_role(user) in roles.READ_ONLY_ROLES


def user_sees_all_entities(user: Any) -> bool:
    return _active(user) and (user.is_superuser or user_role(user) in roles.ALL_ENTITIES_ROLES)


def entities_for_user(user: Any) -> QuerySet[Entity]:
    """The entities ``user`` may see. A user without a role sees nothing, grants or not."""
    if not _active(user):
        return Entity.objects.none()
    if user_sees_all_entities(user):
        return Entity.objects.all()
    if user_role(user) is None:
        return Entity.objects.none()
    return Entity.objects.filter(access__user=user)


def entity_named_for_user(user: Any, name: str) -> Entity | None:
    """The entity called ``name`` if ``user`` sees it (``entities_for_user``), else None."""
    if not _active(user):
        return None
    if user_sees_all_entities(user):
        found = _ENTITY_NAMED.objects(name=name)
    elif user_role(user) is None:
        return None
    else:
        found = _GRANTED_ENTITY_NAMED.objects(user_id=user.pk, name=name)
    return found[0] if found else None  # type: ignore[return-value]


def entity_list_for_user(user: Any) -> list[Entity]:
    """``entities_for_user`` read once per request (memoised on the user object), by name."""
    if not _active(user):
        return []
    if "_relance_entities" not in user.__dict__:
        user.__dict__["_relance_entities"] = list(entities_for_user(user).order_by("name"))
    entities: list[Entity] = user.__dict__["_relance_entities"]
    return entities


def entity_visible(user: Any, entity_id: int | None) -> bool:
    """Whether the user sees the entity with this id (no query after the first in a request)."""
    return entity_id is not None and any(entity.pk == entity_id for entity in entity_list_for_user(user))


def customer_scope(user: Any, queryset: QuerySet, *, customer_field: str = "") -> QuerySet:
    """THE scoping rule of the back office: a queryset of customers (or of rows with a customer at
    ``customer_field``) narrowed to the customers ``user`` may see: of an entity the user sees,
    and for a sales owner only the accounts they own. Every page and endpoint reads through it
    (or ``customers_visible``); an object outside it is a 404, never a 403 (no existence leak).
    """
    if not _active(user):
        return queryset.none()
    prefix = f"{customer_field}__" if customer_field else ""
    if not user_sees_all_entities(user):
        if user_role(user) is None:
            return queryset.none()
        # The ids read once per request: an IN list, not an IN (subquery) on every query.
        visible = [entity.pk for entity in entity_list_for_user(user)]
        queryset = queryset.filter(**{f"{prefix}entity_id__in": visible})
    if not user.is_superuser and user_role(user) in roles.OWN_CUSTOMERS_ROLES:
        queryset = queryset.filter(**{f"{prefix}sales_owner": user})
    return queryset


def customer_for_user(*, user: Any, customer_id: int) -> Customer:
    """The customer if the user may see it; the same ``NotFound`` otherwise (no existence leak)."""
    customer = (
        customer_scope(user, Customer.objects.filter(pk=customer_id))
        .select_related("entity", "collector", "sales_owner")
        .first()
    )
    if customer is None:
        raise NotFound(CUSTOMER_NOT_FOUND)
    return customer


def customers_visible(user: Any, *, entity: Entity | None = None) -> QuerySet[Customer]:
    """The customers ``user`` may see (of one entity if given): ``customer_scope`` of customers."""
    customers = Customer.objects.all() if entity is None else Customer.objects.filter(entity=entity)
    return customer_scope(user, customers)


def _entity_id(obj: Any) -> int | None:
    if isinstance(obj, Entity):
        return obj.pk
    if getattr(obj, "entity_id", None) is not None:
        return obj.entity_id
    customer = _customer(obj)
    return customer.entity_id if customer is not None else None


def _customer(obj: Any) -> Customer | None:
    if isinstance(obj, Customer):
        return obj
    if getattr(obj, "customer_id", None) is not None:
        return obj.customer
    return None


def user_can(user: Any, perm: str, obj: Any = None) -> bool:
    """Whether ``user`` holds ``perm`` (``app_label.codename``), on ``obj`` if given.

    For an object: its entity must be one the user sees, and a sales owner must own its customer.
    """
    if not _active(user):
        return False
    if not user.is_superuser and perm not in _permissions(user):
        return False
    if obj is None or user.is_superuser:
        return True
    entity_id = _entity_id(obj)
    if entity_id is not None and not entity_visible(user, entity_id):
        return False
    if user_role(user) in roles.OWN_CUSTOMERS_ROLES:
        customer = _customer(obj)
        if customer is None or customer.sales_owner_id != user.pk:
            return False
    return True


def user_list() -> list[dict[str, Any]]:
    """Every user with role, entities and second-factor state, for ``relance user list``."""
    from django.contrib.auth import get_user_model

    from relance.accounts.models import TotpDevice

    users = get_user_model().objects.order_by("username").prefetch_related("groups", "entity_access__entity")
    with_totp = set(TotpDevice.objects.filter(confirmed_at__isnull=False).values_list("user_id", flat=True))
    rows = []
    for user in users:
        groups = {group.name for group in user.groups.all()}
        role = next((name for name in roles.ROLES if name in groups), None)
        rows.append(
            {
                "username": user.get_username(),
                "email": user.email,
                "role": role,
                "superuser": user.is_superuser,
                "active": user.is_active,
                "entities": sorted(access.entity.name for access in user.entity_access.all()),
                "totp": user.pk in with_totp,
                "last_login": user.last_login.isoformat() if user.last_login else None,
            }
        )
    return rows
