"""Reads of the comms app: which template renders a message, what an entity has overridden, and
what the Templates page shows (the grid, one template with its history and diffs, customers to
preview on)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from relance.accounts.selectors import customers_visible
from relance.comms import defaults
from relance.comms.models import MessageTemplate, MessageTemplateVersion, TemplateVersionKind
from relance.comms.rendering import TemplateSource
from relance.core.text import fold
from relance.ledger.models import Customer, Entity

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


# --- the Templates page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateCell:
    """One template key in one channel and language: shipped, the entity's own, both or neither."""

    key: str
    channel: str
    language: str
    shipped: bool
    own: MessageTemplate | None

    @property
    def state(self) -> str:
        """``own`` (the entity's wording is sent), ``shipped`` (the default is) or ``missing``."""
        if self.own is not None:
            return "own"
        return "shipped" if self.shipped else "missing"


@dataclass(frozen=True, slots=True)
class TemplateGridRow:
    key: str
    channel: str
    audience: str
    cells: tuple[TemplateCell, ...]


@dataclass(frozen=True, slots=True)
class TemplateGrid:
    languages: tuple[str, ...]
    rows: tuple[TemplateGridRow, ...]
    own_count: int


def template_grid(
    *, entity: Entity, channel: str = "", query: str = "", own_only: bool = False
) -> TemplateGrid:
    """Every template key × channel × language of the entity: shipped keys in every channel and
    the entity's own templates (with who last edited them), narrowed by channel, a part of the key,
    or to the entity's own."""
    own = {
        (row.key, row.channel, row.language): row
        for row in MessageTemplate.objects.filter(entity=entity).select_related("updated_by")
    }
    languages = tuple(dict.fromkeys([*defaults.LANGUAGES, *sorted({lang for _, _, lang in own})]))
    shipped = {key: set(defaults.shipped_languages(key)) for key in defaults.KEYS}
    keys = sorted(set(defaults.KEYS) | {key for key, _, _ in own})
    needle = query.strip().lower()
    rows = []
    for key in keys:
        if needle and needle not in key.lower():
            continue
        audience = defaults.KEYS.get(key, defaults.KeySpec()).audience
        for each in defaults.CHANNELS:
            if channel and each != channel:
                continue
            cells = tuple(
                TemplateCell(
                    key=key,
                    channel=each,
                    language=language,
                    shipped=language in shipped.get(key, ()),
                    own=own.get((key, each, language)),
                )
                for language in languages
            )
            if own_only and not any(cell.own for cell in cells):
                continue
            if any(cell.state != "missing" for cell in cells):
                rows.append(TemplateGridRow(key=key, channel=each, audience=audience, cells=cells))
    return TemplateGrid(languages=languages, rows=tuple(rows), own_count=len(own))


@dataclass(frozen=True, slots=True)
class DiffLine:
    """A line of a unified diff: ``add``, ``remove``, ``hunk`` (``@@ …``), ``part`` or ``same``."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class VersionEntry:
    version: MessageTemplateVersion
    against: str
    """What the diff compares with: ``version 3``, ``the shipped version`` or ``nothing``."""
    diff: tuple[DiffLine, ...]
    is_current: bool = False
    """The wording the entity sends now (nothing to revert to)."""

    @property
    def revertible(self) -> bool:
        return self.version.kind != TemplateVersionKind.SHIPPED and not self.is_current


@dataclass(frozen=True, slots=True)
class TemplateDetail:
    entity: Entity
    key: str
    channel: str
    language: str
    audience: str
    shipped: TemplateSource | None
    own: MessageTemplate | None
    history: tuple[VersionEntry, ...]

    @property
    def current(self) -> TemplateSource | None:
        """What is sent: the entity's own wording, else the shipped one."""
        if self.own is not None:
            return TemplateSource(subject=self.own.subject, text=self.own.body_text, html=self.own.body_html)
        return self.shipped


DIFF_PARTS = (("subject", "subject"), ("text", "text"), ("html", "HTML"))


def template_diff(before: TemplateSource | None, after: TemplateSource | None) -> tuple[DiffLine, ...]:
    """A unified diff (difflib) of subject, text and HTML, part by part; empty when equal."""
    lines: list[DiffLine] = []
    for attribute, label in DIFF_PARTS:
        old = getattr(before, attribute, "") if before is not None else ""
        new = getattr(after, attribute, "") if after is not None else ""
        if old == new:
            continue
        lines.append(DiffLine(kind="part", text=label))
        for line in list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2))[2:]:
            kind = {"+": "add", "-": "remove", "@": "hunk"}.get(line[:1], "same")
            lines.append(DiffLine(kind=kind, text=line))
    return tuple(lines)


def template_exists(*, entity: Entity, key: str, channel: str, language: str) -> bool:
    """Whether the Templates page has a template at (key, channel, language): a shipped one, the
    entity's own, or a history of the entity's own."""
    if channel not in defaults.CHANNELS:
        return False
    if key in defaults.KEYS and language in defaults.shipped_languages(key):
        return True
    scope = {"entity": entity, "key": key, "channel": channel, "language": language}
    return (
        MessageTemplate.objects.filter(**scope).exists()
        or MessageTemplateVersion.objects.filter(**scope).exists()
    )


def template_detail(*, entity: Entity, key: str, channel: str, language: str) -> TemplateDetail:
    """The shipped and own wording of one template, and its history, newest first, each version
    with its diff against the one before (the first against the shipped version)."""
    shipped = defaults.default_source(key, channel, language) if language in defaults.LANGUAGES else None
    own = (
        MessageTemplate.objects.filter(entity=entity, key=key, channel=channel, language=language)
        .select_related("updated_by")
        .first()
    )
    versions = list(
        MessageTemplateVersion.objects.filter(entity=entity, key=key, channel=channel, language=language)
        .select_related("author")
        .order_by("number")
    )
    history = []
    previous: TemplateSource | None = shipped
    against = "the shipped version" if shipped is not None else "nothing"
    for version in versions:
        wording = (
            shipped
            if version.kind == TemplateVersionKind.SHIPPED
            else TemplateSource(subject=version.subject, text=version.body_text, html=version.body_html)
        )
        history.append(
            VersionEntry(
                version=version,
                against=against,
                diff=template_diff(previous, wording),
                is_current=own is not None
                and version is versions[-1]
                and version.kind != TemplateVersionKind.SHIPPED
                and (version.subject, version.body_text, version.body_html)
                == (own.subject, own.body_text, own.body_html),
            )
        )
        previous = wording
        against = (
            "the shipped version"
            if version.kind == TemplateVersionKind.SHIPPED
            else f"version {version.number}"
        )
    return TemplateDetail(
        entity=entity,
        key=key,
        channel=channel,
        language=language,
        audience=defaults.KEYS.get(key, defaults.KeySpec()).audience,
        shipped=shipped,
        own=own,
        history=tuple(reversed(history)),
    )


def template_version_get(
    *, entity: Entity, key: str, channel: str, language: str, version_id: int
) -> MessageTemplateVersion | None:
    """A version of this template of this entity (another entity's or another key's is None)."""
    return (
        MessageTemplateVersion.objects.filter(
            pk=version_id, entity=entity, key=key, channel=channel, language=language
        )
        .select_related("entity")
        .first()
    )


PREVIEW_CUSTOMERS = 30


def template_preview_customers(
    *, user: Any, entity: Entity, query: str = "", limit: int = PREVIEW_CUSTOMERS
) -> list[Customer]:
    """Customers of the entity the user may see (``customers_visible``) to preview a template on,
    by name; ``query`` matches a part of the name, reference or tax id, accents ignored."""
    customers = customers_visible(user, entity=entity)
    folded = fold(query or "")
    if folded:
        customers = customers.filter(search_text__contains=folded)
    return list(customers.order_by("name", "external_ref")[:limit])


def template_preview_customer(*, user: Any, entity: Entity, customer_id: int) -> Customer | None:
    """The customer to preview on, if the user may see it and it belongs to the entity."""
    return (
        customers_visible(user, entity=entity)
        .filter(pk=customer_id)
        .select_related("entity", "collector", "sales_owner")
        .first()
    )
