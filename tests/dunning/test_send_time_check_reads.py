"""What the send-time check costs: a delivery pass reads each dunning message's action and
invoices with the due rows, and the policies once per pass, not once per message; a policy
changed between two passes counts from the next pass on (docs/benchmarks.md, "Outbox with the
send-time check").
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relance.delivery import worker
from relance.delivery.models import DeliveryEvent, MessageStatus, OutboundMessage
from relance.dunning.services import policy_import_yaml
from relance.engine.dunning.defaults import POLICY_DIRECTORY
from tests.delivery.conftest import smtp_server, smtp_settings  # noqa: F401 (fixtures)
from tests.dunning.test_right_when_it_leaves import DUE, RUN_DAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_queued(scenario, smtp_settings):  # noqa: F811
    """Three customers owe 1,000.00 EUR each, one day past due: the run queues three reminders."""
    from relance.compliance.selectors import caches_clear
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(
        entity=scenario.entity, quiet_hours_channels=[], allowed_weekdays=list(range(7))
    )
    caches_clear()
    for number in (1, 2, 3):
        scenario.customer(f"C{number}", email=f"ap{number}@example.com")
        scenario.invoice(f"C{number}", f"F{number}", "1000.00", due=DUE)
    scenario.run(RUN_DAY)
    assert OutboundMessage.objects.filter(status=MessageStatus.QUEUED, action__isnull=False).count() == 3
    return scenario


def test_a_pass_reads_policies_once_and_actions_with_their_invoices_alongside_the_due_rows(
    three_queued,
    smtp_server,  # noqa: F811
):
    with CaptureQueriesContext(connection) as captured:
        report = worker.send_pass(worker_id="test")
    assert report.sent == 3 and len(smtp_server.received) == 3

    def reads(fragment: str) -> int:
        return sum(fragment in query["sql"] for query in captured.captured_queries)

    assert reads('FROM "dunning_segmentpolicy"') == 1  # the policy the customers follow
    assert reads('FROM "dunning_policy"') == 2  # its cadence, its send window (compliance)
    assert reads('INNER JOIN "dunning_action_invoice"') == 1  # prefetched with the due rows
    assert reads('FROM "dunning_dunningaction"') == 0  # read with the due rows
    assert reads('FROM "ledger_entity"') == 0  # the customer's entity too


def test_a_policy_changed_between_two_passes_counts_from_the_next_pass(three_queued, smtp_server):  # noqa: F811
    assert worker.send_pass(worker_id="test", limit=1).sent == 1
    standard = (POLICY_DIRECTORY / "standard.yaml").read_text(encoding="utf-8")
    assert "small_balance: 10\n" in standard
    policy_import_yaml(
        entity=three_queued.entity, text=standard.replace("small_balance: 10\n", "small_balance: 5000\n")
    )

    report = worker.send_pass(worker_id="test")

    assert report.cancelled == 2 and report.sent == 0 and len(smtp_server.received) == 1
    codes = [event.detail["code"] for event in DeliveryEvent.objects.filter(kind="cancelled")]
    assert codes == ["small_balance", "small_balance"]
