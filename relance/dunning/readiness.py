"""What an entity still lacks before its reminders can go to real customers, each with its fix.

``relance doctor`` lists these; ``relance init`` prints them after creating an entity. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q

from relance.dunning import selectors
from relance.ledger.models import Customer, Entity

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""}
CONSOLE_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "printed on the console",
    "django.core.mail.backends.filebased.EmailBackend": "written to files",
    "django.core.mail.backends.locmem.EmailBackend": "kept in memory",
    "django.core.mail.backends.dummy.EmailBackend": "dropped",
}
DEFAULT_EMAIL_CHANNEL = "relance.delivery.channels.email.EmailChannel"


@dataclass(frozen=True)
class Gap:
    """One thing missing: what it is, what it costs, and the command or setting that fixes it."""

    topic: str
    problem: str
    fix: str


def entity_gaps(*, entity: Entity) -> list[Gap]:
    """Everything the entity needs before a run sends real messages, in the order to fix it."""
    return [*_policy_gaps(entity), *_creditor_gaps(entity), *_contact_gaps(entity), *_setting_gaps()]


def _entity_option(entity: Entity) -> str:
    return f" --entity {entity.name}" if Entity.objects.exclude(pk=entity.pk).exists() else ""


def _policy_gaps(entity: Entity) -> list[Gap]:
    option = _entity_option(entity)
    if not selectors.policy_list(entity=entity).exists():
        return [
            Gap(
                "policy",
                "no dunning policy: a run chases nobody",
                f"relance policy import --defaults{option}",
            )
        ]
    unfollowed = selectors.customers_without_policy(entity=entity)
    if unfollowed.count:
        return [
            Gap(
                "policy",
                f"{unfollowed.count} invoiced customer(s) follow no policy and there is no default one",
                f"relance policy assign standard --default{option}",
            )
        ]
    return []


def _creditor_gaps(entity: Entity) -> list[Gap]:
    init = f"relance init --entity {entity.name}"
    gaps = []
    if not entity.iban:
        gaps.append(
            Gap(
                "bank details",
                "no IBAN: reminders, letters and the portal have no pay-by-transfer block "
                "(IBAN, structured reference, QR code)",
                f"{init} --iban IBAN --bic BIC",
            )
        )
    elif not entity.bic:
        gaps.append(Gap("bank details", "no BIC next to the IBAN", f"{init} --bic BIC"))
    if not entity.address.strip():
        gaps.append(
            Gap(
                "postal address",
                "no postal address: letters and statements have no sender address in the letterhead",
                f'{init} --address "1 rue de la Paix, 75002 Paris"',
            )
        )
    return gaps


def _contact_gaps(entity: Entity) -> list[Gap]:
    unreachable = (
        Customer.objects.filter(entity=entity, invoices__isnull=False)
        .exclude(Q(contacts__email__gt="") | Q(contacts__phone__gt="") | Q(contacts__postal_address__gt=""))
        .distinct()
        .count()
    )
    if not unreachable:
        return []
    return [
        Gap(
            "contacts",
            f"{unreachable} invoiced customer(s) have no e-mail, phone or postal address: "
            "their reminders cannot be queued",
            "relance import contacts FILE (or an email column in the customers file)",
        )
    ]


def _setting_gaps() -> list[Gap]:
    gaps = []
    sender = str(getattr(settings, "DEFAULT_FROM_EMAIL", "") or "")
    if not sender or sender.rsplit("@", 1)[-1].rstrip(">").lower() in LOOPBACK_HOSTS:
        gaps.append(
            Gap(
                "sender address",
                f"e-mails go out from {sender or 'no address'}, which customers cannot answer",
                "set DEFAULT_FROM_EMAIL=billing@your-company.example in the environment",
            )
        )
    public_url = str(getattr(settings, "RELANCE_PUBLIC_URL", "") or "")
    if (urlsplit(public_url).hostname or "") in LOOPBACK_HOSTS:
        gaps.append(
            Gap(
                "public URL",
                f"links in messages (portal, pay, opt-out) point to {public_url or 'nowhere'}, "
                "which customers cannot reach",
                "set RELANCE_PUBLIC_URL=https://relance.your-company.example in the environment",
            )
        )
    channels = getattr(settings, "RELANCE_CHANNELS", {})
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    if channels.get("email") == DEFAULT_EMAIL_CHANNEL and backend in CONSOLE_EMAIL_BACKENDS:
        gaps.append(
            Gap(
                "e-mail delivery",
                f"e-mails are {CONSOLE_EMAIL_BACKENDS[backend]}, not sent (EMAIL_URL)",
                "set EMAIL_URL=smtp://user:password@smtp.example:587?tls=1 (or an ANYMAIL_* provider)",
            )
        )
    return gaps


def readiness_text(entity_name: str, gaps: list[Gap]) -> str:
    """The gaps as a person reads them (``relance doctor``, ``relance init``)."""
    if not gaps:
        return f"{entity_name} is ready to send real messages."
    lines = [f"{entity_name}: before sending real messages —"]
    for gap in gaps:
        lines += [f"  • {gap.topic}: {gap.problem}", f"      fix: {gap.fix}"]
    return "\n".join(lines)
