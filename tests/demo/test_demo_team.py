"""`relance demo` seeds a team and two years of collection work: every role signs in, every queue
has something in it, the history agrees with the ledger, and a second run adds nothing."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from relance.accounts import roles
from relance.demo.team import DEMO_PASSWORD, TEAM
from relance.ledger.models import Entity

CUSTOMERS = "40"


def _demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", "--customers", CUSTOMERS, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.RELANCE_VAR_DIR = tmp_path
    return tmp_path


def _history_fingerprint(entity: Entity) -> dict[str, list]:
    """What the replay wrote, by business keys (not database ids), to compare two seedings."""
    from relance.cases.models import ContactLog, Dispute, PaymentPlan, Promise
    from relance.workspace.models import CustomerNote

    return {
        "promises": sorted(
            Promise.objects.filter(entity=entity).values_list(
                "customer__external_ref", "created_on", "promised_date", "amount", "status"
            )
        ),
        "disputes": sorted(
            Dispute.objects.filter(entity=entity).values_list(
                "invoice__external_ref", "opened_on", "reason_code", "status", "resolution"
            )
        ),
        "plans": sorted(
            PaymentPlan.objects.filter(entity=entity).values_list(
                "customer__external_ref", "starts_on", "status"
            )
        ),
        "calls": sorted(
            ContactLog.objects.filter(entity=entity).values_list("customer__external_ref", "on", "note")
        ),
        "notes": sorted(
            CustomerNote.objects.filter(entity=entity).values_list("customer__external_ref", "text")
        ),
        "collectors": sorted(
            entity.customers.values_list("external_ref", "collector__username", "sales_owner__username")
        ),
    }


def test_the_team_signs_in_and_every_queue_has_work(db, var_dir, client):
    from relance.cases.models import (
        CustomerHold,
        Dispute,
        DisputeStatus,
        PaymentPlan,
        PlanStatus,
        Promise,
        PromiseStatus,
    )
    from relance.delivery.models import CallTask, MessageStatus, OutboundMessage
    from relance.dunning.models import DunningRun, WorklistEntry

    output = _demo()
    entity = Entity.objects.get(name="demo")
    today = timezone.localdate()
    users = get_user_model().objects

    # one person per role, printed with the demo password, each able to sign in
    assert {member.role for member in TEAM} == set(roles.ROLES) - {roles.ADMIN}
    for member in TEAM:
        assert member.username in output
        user = users.get(username=member.username)
        assert user.groups.filter(name=member.role).exists()
        assert client.login(username=member.username, password=DEMO_PASSWORD), member.username
        home = client.get("/w/worklist/" if member.role != roles.SALES else "/w/my-accounts/")
        assert home.status_code == 200, member.username
        client.logout()
    assert DEMO_PASSWORD in output and "demo-only" in output

    # every customer has a collector and a sales owner; the two collectors split the portfolio
    assert not entity.customers.filter(collector__isnull=True).exists()
    assert not entity.customers.filter(sales_owner__isnull=True).exists()
    assert entity.customers.values("collector").distinct().count() == 2

    # the queues today
    assert Promise.objects.filter(entity=entity, status=PromiseStatus.OPEN).exists()
    assert Dispute.objects.filter(
        entity=entity, status=DisputeStatus.OPEN, portal_case__isnull=False
    ).exists()
    assert PaymentPlan.objects.filter(entity=entity, status=PlanStatus.ACTIVE).exists()
    in_force = CustomerHold.objects.filter(entity=entity, starts_on__lte=today, ends_on__gte=today)
    assert in_force.exists()
    assert CallTask.objects.filter(entity=entity).exists()
    # promises kept and broken, settled by the runs from the ledger's payments
    statuses = set(Promise.objects.filter(entity=entity).values_list("status", flat=True))
    assert {PromiseStatus.KEPT, PromiseStatus.BROKEN} <= statuses
    # disputes opened and resolved, with the customer's words
    assert Dispute.objects.filter(entity=entity, status=DisputeStatus.RESOLVED).exists()
    assert all(
        dispute.portal_case.text
        for dispute in Dispute.objects.filter(entity=entity).select_related("portal_case")
    )

    # past runs' messages are history: delivered then, never queued now
    runs = DunningRun.objects.filter(entity=entity).order_by("as_of")
    assert runs.count() > 5 and runs.last().as_of == today
    past = OutboundMessage.objects.filter(entity=entity, queued_at__date__lt=today)
    assert past.exists() and not past.exclude(status=MessageStatus.DELIVERED).exists()
    assert OutboundMessage.objects.filter(run=runs.last(), status=MessageStatus.QUEUED).exists()

    # the case timeline has the history, with who did it
    from relance.audit.models import CaseEvent

    events = CaseEvent.objects.filter(entity=entity)
    kinds = set(events.values_list("kind", flat=True))
    assert {"message_sent", "call_outcome", "promise_made", "promise_broken", "dispute_opened"} <= kinds
    assert {"user", "portal", "system"} <= set(events.values_list("actor_kind", flat=True))

    # today's worklist: collectors and a last contact
    entries = WorklistEntry.objects.filter(run=runs.last()).select_related("customer")
    assert entries.exists()
    assert all(entry.customer.collector_id for entry in entries)
    assert any(entry.days_since_contact is not None for entry in entries)

    # the pages show it, for the right people
    collector = users.get(username="ana@demo.example")
    client.force_login(collector)
    mine = client.get("/w/my-accounts/")
    assert mine.status_code == 200
    assert any(
        customer.name in mine.content.decode() for customer in entity.customers.filter(collector=collector)
    )
    for queue in ("/w/promises/", "/w/disputes/", "/w/plans/"):
        assert client.get(queue).status_code == 200
    client.force_login(users.get(username="sofia@demo.example"))
    assert client.get("/w/my-accounts/").status_code == 200


def test_seeding_twice_adds_nobody_and_no_history_and_the_seed_is_deterministic(db, var_dir):
    from relance.audit.models import AuditEvent

    _demo("--seed", "7")
    entity = Entity.objects.get(name="demo")
    first = _history_fingerprint(entity)
    users = get_user_model().objects.count()
    assert first["promises"] and first["calls"]

    again = _demo("--seed", "7")
    assert "already loaded" in again
    assert get_user_model().objects.count() == users
    assert _history_fingerprint(entity) == first
    assert DEMO_PASSWORD in again  # the same logins, printed again

    _demo("--seed", "7", "--reset")  # the same seed and day: the same history, the same team
    assert get_user_model().objects.count() == users
    assert _history_fingerprint(entity) == first
    # the work is the team's: audited as them, on the day it was done
    promise_events = AuditEvent.objects.filter(object_type="cases.promise", action="create")
    assert promise_events.filter(actor_user__username__endswith="@demo.example").exists()
    assert promise_events.filter(at__date__lt=timezone.localdate() - timedelta(days=30)).exists()


def test_demo_never_takes_over_a_team_member_who_existed(db, var_dir):
    get_user_model().objects.create_user("ana@demo.example", password="her own password 123")
    output = _demo()
    assert "existed before" in output
    assert get_user_model().objects.get(username="ana@demo.example").check_password("her own password 123")


def test_published_passwords_are_refused_off_a_local_demo(db, var_dir, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--demo-passwords"):
        _demo("--host", "0.0.0.0")
    settings.SESSION_COOKIE_SECURE = True
    with pytest.raises(CommandError, match="production settings"):
        _demo()
    assert not get_user_model().objects.filter(username__endswith="@demo.example").exists()
    assert not Entity.objects.filter(name="demo").exists()


def test_json_prints_the_url_and_every_login(db, var_dir):
    out = io.StringIO()
    call_command(
        "demo", "--no-serve", "--customers", "12", "--no-team", "--json", stdout=out, stderr=io.StringIO()
    )
    summary = json.loads(out.getvalue())
    assert summary["url"].startswith("http://127.0.0.1:")
    assert summary["admin"]["username"] == "admin" and summary["team"] == []
    assert "locmem" in summary["email_backend"]  # nothing leaves in tests; console:// by default
