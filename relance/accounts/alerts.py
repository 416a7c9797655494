"""E-mails to the people who run Relance (not to customers): the recipients and the sender.

Used by the outbox's alerts (``relance.delivery.alerts``) and the webhooks' (an endpoint
disabled): Django's mail, to the admins (every entity) and the entity's credit managers who have
an e-mail address, plus ``settings.ADMINS``. A refusing mail server is logged, never raised.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q

from relance.accounts import roles
from relance.ledger.models import Entity

logger = logging.getLogger(__name__)


def alert_recipients(entity: Entity | None) -> list[str]:
    """E-mail addresses of the admins (every entity) and the entity's credit managers, and ADMINS."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    admins = Q(is_superuser=True) | Q(groups__name=roles.ADMIN)
    managers = Q(groups__name=roles.CREDIT_MANAGER)
    if entity is not None:
        managers &= Q(entity_access__entity=entity)
    addresses = list(users.filter(admins | managers).values_list("email", flat=True).distinct())
    addresses += [address for _name, address in getattr(settings, "ADMINS", []) or []]
    return sorted(set(addresses))


def alert_send(*, entity: Entity | None, subject: str, body: str) -> bool:
    """Send one alert; False (logged) when nobody can receive it or the mail server refuses."""
    recipients = alert_recipients(entity)
    if not recipients:
        logger.warning("alert not sent, no admin or credit manager has an e-mail address: %s", subject)
        return False
    prefix = getattr(settings, "EMAIL_SUBJECT_PREFIX", "") or ""
    try:
        send_mail(f"{prefix}{subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # the alert must never stop what it reports on
        logger.exception("alert not sent: %s", subject)
        return False
    return True
