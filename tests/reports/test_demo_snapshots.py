"""`relance demo` ends with `relance kpi snapshot`: the dashboard's first load reads, it does not compute."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from relance.ledger.models import Entity
from relance.ledger.selectors import data_versions
from relance.reports.models import KpiSnapshot
from relance.reports.selectors import trend_dates


def test_the_demo_leaves_current_snapshots_for_the_dashboard(db, settings, tmp_path):
    settings.RELANCE_VAR_DIR = tmp_path
    call_command("demo", "--no-serve", "--customers", "10", "--years", "1", stdout=io.StringIO())
    entity = Entity.objects.get(name="demo")
    version = data_versions(entity_id=entity.pk)["ledger"]
    today = timezone.localdate()
    stored = KpiSnapshot.objects.filter(entity=entity, currency=entity.currency, ledger_version=version)
    assert set(stored.values_list("as_of", flat=True)) >= set(trend_dates(today))
    head = stored.filter(as_of=today).first()
    assert head is not None and "top_overdue" in head.dashboard


pytestmark = pytest.mark.django_db
