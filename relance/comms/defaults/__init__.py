"""The shipped default templates: layouts per channel, wording per language (one YAML per language).

A default template for (key, channel, language) is assembled from the channel's layout and the
key's wording in that language, into the same shape as an entity's ``MessageTemplate`` (subject,
text, HTML — all Jinja), so ``relance message templates --show`` prints a starting point to edit.
The layouts (``layouts/``) are the only templates a stored template may ``{% extends %}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from relance.comms.rendering import TemplateSource
from relance.core.channels import DELIVERY_CHANNELS

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "fr", "de", "es", "it", "zh-hans")
FALLBACK_LANGUAGE = "en"
CHANNELS = DELIVERY_CHANNELS


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a template key's message shows besides its wording."""

    audience: str = "customer"
    """``customer`` (the debtor's contact) or ``owner`` (the customer's sales owner, internal)."""
    invoices: bool = True
    """The table of invoices concerned and the totals."""
    payment: bool = True
    """The pay button, bank details with the RF reference, and the EPC QR code."""
    tone: str = "neutral"
    hold_link: bool = True
    """An owner message's "hold the escalation" button (not for a notice that escalates nothing)."""


KEYS: dict[str, KeySpec] = {
    # Reminders named by the shipped policies (relance/engine/dunning/policies/*.yaml).
    "pre_due_friendly": KeySpec(tone="friendly"),
    "pre_due_reminder": KeySpec(tone="neutral"),
    "overdue_friendly": KeySpec(tone="friendly"),
    "overdue_neutral": KeySpec(tone="neutral"),
    "overdue_firm": KeySpec(tone="firm"),
    "overdue_urgent": KeySpec(tone="urgent"),
    "final_notice": KeySpec(tone="final"),
    "credit_hold": KeySpec(tone="urgent"),
    "handoff_external": KeySpec(tone="final"),
    # Calls (script for the collector; the same wording in other channels).
    "collector_call": KeySpec(tone="firm"),
    "collector_call_courtesy": KeySpec(tone="neutral"),
    "personal_call_before_due": KeySpec(tone="friendly"),
    # Payment plans (the engine's installment_<phase> keys) and promises.
    "installment_upcoming": KeySpec(tone="friendly"),
    "installment_reminder": KeySpec(tone="friendly"),
    "installment_overdue": KeySpec(tone="firm"),
    "missed_installment": KeySpec(tone="firm"),
    "promise_confirmation": KeySpec(tone="friendly"),
    "broken_promise": KeySpec(tone="firm"),
    "plan_confirmation": KeySpec(tone="friendly", payment=False),
    "plan_request_decided": KeySpec(tone="neutral", payment=False),
    # Events.
    "payment_thank_you": KeySpec(tone="friendly", payment=False),
    "dispute_received": KeySpec(tone="neutral", payment=False),
    "dispute_resolved": KeySpec(tone="neutral"),
    # The statement of account (all open items; the worklist's "Send statement by e-mail").
    "statement": KeySpec(tone="neutral", invoices=False),
    # Internal: the customer's sales owner (notify_owner steps).
    "owner_notification": KeySpec(audience="owner", payment=False),
    "owner_account_overdue": KeySpec(audience="owner", payment=False),
    "owner_before_hold": KeySpec(audience="owner", payment=False),
    "owner_before_final_notice": KeySpec(audience="owner", payment=False),
    # Credit notices (relance.credit.services.notices): utilisation crossing 80/100 %, saved card.
    "credit_utilisation": KeySpec(tone="neutral", payment=False),
    "owner_credit_utilisation": KeySpec(audience="owner", payment=False, hold_link=False),
    "card_expiring": KeySpec(tone="friendly", invoices=False, payment=False),
}
"""Every shipped template key. A key not listed here has no default: an entity must define it."""

LAYOUT_FILES = {
    "email.html": "email.html",
    "email.txt": "email.txt",
    "letter.html": "letter.html",
    "call.txt": "call.txt",
    "sms.txt": "sms.txt",
    "portal.txt": "portal.txt",
}


@cache
def layouts() -> dict[str, str]:
    """The shipped layouts by name (the only templates ``{% extends %}`` can reach)."""
    return {
        name: (HERE / "layouts" / file).read_text(encoding="utf-8") for name, file in LAYOUT_FILES.items()
    }


@cache
def wording(language: str) -> dict[str, object]:
    """The language's YAML: ``labels`` (plain text), ``phrases`` and ``templates`` (Jinja)."""
    path = HERE / f"{language}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def labels(language: str) -> dict[str, str]:
    """Plain-text labels (``t.invoice``…) in ``language``, English for any label it lacks."""
    base = dict(wording(FALLBACK_LANGUAGE).get("labels") or {})  # type: ignore[call-overload]
    if language != FALLBACK_LANGUAGE:
        base.update(wording(language).get("labels") or {})  # type: ignore[call-overload]
    return base


def phrases(language: str) -> dict[str, str]:
    """Jinja sentences shared by all keys (greeting, closing, contact line…), English as fallback."""
    base = dict(wording(FALLBACK_LANGUAGE).get("phrases") or {})  # type: ignore[call-overload]
    if language != FALLBACK_LANGUAGE:
        base.update(wording(language).get("phrases") or {})  # type: ignore[call-overload]
    return base


def shipped_languages(key: str) -> tuple[str, ...]:
    return tuple(
        language
        for language in LANGUAGES
        if key in (wording(language).get("templates") or {})  # type: ignore[operator]
    )


def _html_paragraphs(body: str) -> str:
    paragraphs = [part.strip() for part in body.strip().split("\n\n") if part.strip()]
    return "\n".join(
        f'<p style="margin:0 0 14px 0;">{" ".join(part.split(chr(10)))}</p>' for part in paragraphs
    )


def _blocks(spec: KeySpec, *, html: bool) -> str:
    out = []
    if not spec.invoices:
        out.append("{% block invoices %}{% endblock %}")
    if not spec.payment:
        out.append("{% block payment %}{% endblock %}")
    if spec.audience == "owner":
        out.append("{% block greeting %}{{ phrases.greeting_owner }}{% endblock %}")
        out.append("{% block footer %}{{ phrases.internal_footer }}{% endblock %}")
        if not spec.hold_link:
            out.append("{% block action %}{% endblock %}")
        elif html:
            out.append(
                '{% block action %}{% if links.hold %}<p style="margin:24px 0;">'
                '<a href="{{ links.hold }}" style="background:{{ entity.primary_colour }};color:#ffffff;'
                'padding:12px 22px;border-radius:4px;text-decoration:none;font-weight:bold;display:inline-block;">'
                "{{ t.hold_escalation }}</a></p>{% endif %}{% endblock %}"
            )
        else:
            out.append(
                "{% block action %}{% if links.hold %}{{ t.hold_escalation }}: {{ links.hold }}{% endif %}"
                "{% endblock %}"
            )
    return "\n".join(out)


def default_source(key: str, channel: str, language: str) -> TemplateSource | None:
    """The shipped template for (key, channel, language), or None when the language lacks the key."""
    spec = KEYS.get(key)
    if spec is None or channel not in CHANNELS:
        return None
    entries = wording(language).get("templates") or {}
    entry = entries.get(key) if isinstance(entries, dict) else None
    if not entry:
        return None
    subject = str(entry["subject"]).strip()
    body = str(entry["body"]).strip()
    short = str(entry["sms"]).strip()
    if channel == "email":
        text = (
            '{% extends "email.txt" %}\n'
            + _blocks(spec, html=False)
            + "\n{% block body %}\n"
            + body
            + "\n{% endblock %}\n"
        )
        html = (
            '{% extends "email.html" %}\n'
            + _blocks(spec, html=True)
            + "\n{% block body %}\n"
            + _html_paragraphs(body)
            + "\n{% endblock %}\n"
        )
        return TemplateSource(subject=subject, text=text, html=html)
    if channel == "letter":
        html = (
            '{% extends "letter.html" %}\n'
            + _blocks(spec, html=True)
            + "\n{% block body %}\n"
            + _html_paragraphs(body)
            + "\n{% endblock %}\n"
        )
        text = (
            '{% extends "email.txt" %}\n'
            + _blocks(spec, html=False)
            + "\n{% block body %}\n"
            + body
            + "\n{% endblock %}\n"
        )
        return TemplateSource(subject=subject, text=text, html=html)
    if channel == "call":
        purpose = str(entry.get("call") or short).strip()
        text = '{% extends "call.txt" %}\n{% block purpose %}' + purpose + "{% endblock %}\n"
        return TemplateSource(subject=subject, text=text)
    if channel == "portal":
        portal = str(entry.get("portal") or short).strip()
        return TemplateSource(
            subject=subject, text='{% extends "portal.txt" %}\n{% block body %}' + portal + "{% endblock %}\n"
        )
    return TemplateSource(
        subject="", text='{% extends "sms.txt" %}\n{% block body %}' + short + "{% endblock %}\n"
    )
