"""Reads of the comms app: which template renders a message, and what an entity has overridden."""

from __future__ import annotations

from dataclasses import dataclass

from relance.comms import defaults
from relance.comms.models import MessageTemplate
from relance.comms.rendering import TemplateSource
from relance.ledger.models import Entity

UNKNOWN_TEMPLATE = (
    "no template {key!r} for channel {channel!r}: not shipped and not defined for entity {entity!r}"
)
UNKNOWN_SHIPPED = "no shipped template {key!r} for channel {channel!r}"


@dataclass(frozen=True, slots=True)
class ResolvedTemplate:
    """The source to render and where it came from (``entity`` or ``default``), in ``language``."""

    key: str
    channel: str
    language: str
    origin: str
    source: TemplateSource
    name: str
    """Shown in errors: ``entity acme: overdue_firm [email, fr]`` or ``default overdue_firm [email, fr]``."""


@dataclass(frozen=True, slots=True)
class TemplateOverview:
    key: str
    channel: str
    shipped_languages: tuple[str, ...]
    overridden_languages: tuple[str, ...]


def language_candidates(language: str) -> list[str]:
    """``fr-ca`` → [fr-ca, fr]; ``zh``/``zh-cn``/``zh-sg`` → […, zh-hans]; always ending in English."""
    code = (language or "").strip().lower().replace("_", "-")
    candidates = [code] if code else []
    base = code.split("-")[0]
    if base == "zh" and code not in ("zh-hant", "zh-tw", "zh-hk", "zh-mo"):
        candidates.append("zh-hans")
    elif base and base != code:
        candidates.append(base)
    if defaults.FALLBACK_LANGUAGE not in candidates:
        candidates.append(defaults.FALLBACK_LANGUAGE)
    return list(dict.fromkeys(candidates))


def message_template_get(*, entity: Entity, key: str, channel: str, language: str) -> MessageTemplate | None:
    return MessageTemplate.objects.filter(entity=entity, key=key, channel=channel, language=language).first()


def template_resolve(*, entity: Entity, key: str, channel: str, language: str) -> ResolvedTemplate:
    """The entity's template for (key, channel, language), else the shipped default in that
    language, else (for each fallback language in turn) the entity's then the shipped one.

    Raises ``LookupError`` when neither the entity nor the shipped defaults have the key.
    """
    candidates = language_candidates(language)
    overrides = {
        row.language: row
        for row in MessageTemplate.objects.filter(
            entity=entity, key=key, channel=channel, language__in=candidates
        )
    }
    for candidate in candidates:
        row = overrides.get(candidate)
        if row is not None:
            return ResolvedTemplate(
                key=key,
                channel=channel,
                language=candidate,
                origin="entity",
                source=TemplateSource(subject=row.subject, text=row.body_text, html=row.body_html),
                name=f"entity {entity.name}: {key} [{channel}, {candidate}]",
            )
        shipped = _shipped(key, channel, candidate)
        if shipped is not None:
            return shipped
    raise LookupError(UNKNOWN_TEMPLATE.format(key=key, channel=channel, entity=entity.name))


def _shipped(key: str, channel: str, language: str) -> ResolvedTemplate | None:
    source = defaults.default_source(key, channel, language) if language in defaults.LANGUAGES else None
    if source is None:
        return None
    return ResolvedTemplate(
        key=key,
        channel=channel,
        language=language,
        origin="default",
        source=source,
        name=f"default {key} [{channel}, {language}]",
    )


def shipped_resolve(*, key: str, channel: str, language: str) -> ResolvedTemplate:
    """The shipped default for (key, channel) in ``language`` or its fallbacks, ignoring the
    entity's own templates (used when the entity's template is broken).

    Raises ``LookupError`` when no shipped template has the key.
    """
    for candidate in language_candidates(language):
        shipped = _shipped(key, channel, candidate)
        if shipped is not None:
            return shipped
    raise LookupError(UNKNOWN_SHIPPED.format(key=key, channel=channel))


def template_overview(*, entity: Entity) -> list[TemplateOverview]:
    """Every key (shipped or defined by the entity) × channel, with shipped and overridden languages."""
    overridden: dict[tuple[str, str], set[str]] = {}
    for key, channel, language in MessageTemplate.objects.filter(entity=entity).values_list(
        "key", "channel", "language"
    ):
        overridden.setdefault((key, channel), set()).add(language)
    keys = sorted(set(defaults.KEYS) | {key for key, _ in overridden})
    rows = []
    for key in keys:
        shipped = defaults.shipped_languages(key) if key in defaults.KEYS else ()
        for channel in defaults.CHANNELS:
            rows.append(
                TemplateOverview(
                    key=key,
                    channel=channel,
                    shipped_languages=shipped,
                    overridden_languages=tuple(sorted(overridden.get((key, channel), ()))),
                )
            )
    return rows
