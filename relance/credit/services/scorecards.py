"""Scorecards stored per entity and versioned like dunning policies."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from relance.core.actors import Actor
from relance.credit.models import Scorecard, ScorecardVersion
from relance.engine.credit.defaults import default_scorecard
from relance.engine.credit.scorecard import Scorecard as EngineScorecard
from relance.engine.credit.scorecard import scorecard_from_dict, scorecard_to_dict
from relance.ledger.models import Entity


def scorecard_install_default(*, entity: Entity) -> Scorecard:
    """The entity's default scorecard, installing the shipped one the first time it is needed:
    a fresh entity scores out of the box (no set-up step to forget)."""
    with transaction.atomic():
        existing = Scorecard.objects.select_for_update().filter(entity=entity, is_default=True).first()
        if existing is not None:
            return existing
        card = default_scorecard()
        spec = scorecard_to_dict(card)
        scorecard, _ = Scorecard.objects.get_or_create(
            entity=entity, key=card.key, defaults={"name": card.name, "spec": spec}
        )
        scorecard.is_default = True
        scorecard.save(update_fields=["is_default", "updated_at"])
        ScorecardVersion.objects.get_or_create(
            scorecard=scorecard,
            version=scorecard.version,
            defaults={"spec": scorecard.spec, "note": "shipped scorecard"},
        )
        return scorecard


def scorecard_update(
    *, scorecard: Scorecard, spec: dict[str, Any], actor: Actor, note: str = ""
) -> Scorecard:
    """A new version of ``scorecard`` (validated by the engine; the old one stays readable)."""
    card = scorecard_from_dict(spec)
    with transaction.atomic():
        locked = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
        locked.spec = scorecard_to_dict(card)
        locked.name = card.name
        locked.version += 1
        locked.save(update_fields=["spec", "name", "version", "updated_at"])
        ScorecardVersion.objects.create(
            scorecard=locked, version=locked.version, spec=locked.spec, created_by_id=actor.user_id, note=note
        )
    return locked


def engine_scorecard(scorecard: Scorecard) -> EngineScorecard:
    return scorecard_from_dict(scorecard.spec)
