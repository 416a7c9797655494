"""Finding 4 of issue 12: every back-office route, as every role, on an owned and a not-owned object.

The routes come from the URL conf itself (``get_resolver()``, walked recursively), so a route added
later is tried too: it fails this test until its expected statuses are in
``tests/security/permission_matrix.csv``. Regenerate the table after a deliberate change with

    RELANCE_REGENERATE_MATRIX=1 .venv/bin/pytest -p no:cacheprovider -n 0 tests/security/test_permission_matrix.py

and read the diff before committing it. Every route is tried with GET; with POST (PUT for the API)
the routes that name an object or refuse GET. Besides the table, two rules hold for every row: no 5xx,
and a sales owner (the one role scoped to its own accounts) gets a 404 for another owner's object
unless its role is refused the route altogether (then the same 401/403/405 as for its own).

Each request runs in a savepoint that is rolled back, so a POST that changes something (resolving
a dispute, say) leaves the fixture as it was for the next row.
"""

from __future__ import annotations

import csv
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.workspace.conftest import PASSWORD, build_workspace

TABLE = Path(__file__).resolve().parent / "permission_matrix.csv"
REGENERATE = "RELANCE_REGENERATE_MATRIX"
ROLES = ("admin", "credit_manager", "collector", "sales", "support", "auditor", "anonymous")
SCOPED_ROLES = ("sales",)
# Not the back office: token-carrying pages (the portal, opt-out and hold links, the e-mail undo;
# tests/portal and tests/compliance try them), provider webhooks, sign-in, and the Django admin.
SKIPPED_NAMESPACES = ("admin", "anymail")
SKIPPED_PREFIXES = (
    "portal/t/",
    "portal/undo-email/",
    "portal/webhooks/",
    "credit/apply/",
    "compliance/",
    "delivery/twilio/",
)
SKIPPED_NAMES = ("login", "logout", "login_verify", "totp_enrol", "totp_disable", "recovery_codes")
# Query strings a route reads its object from (``{customer_ref}`` and the like are filled in).
QUERIES = {
    "comms:preview": "customer={customer_ref}",
    "comms:preview_frame": "customer={customer_ref}",
}
# What a POST sends: enough for each form to act if the user may (resolve as written off, approve…).
POST_DATA = {
    "resolution": "write_off",
    "decision": "approve",
    "note": "permission matrix",
    "outcome": "reached",
    "reason": "matrix",
    "days": "7",
    "until": "",
    "customer": "{customer_id}",
    "version": "1",  # a policy version to roll back to (the current one: nothing is saved)
    "name": "matrix view",  # a saved worklist view's name
}


def _routes(resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""):
    """(route, url name) of every URL pattern, recursively; ``route`` keeps its ``<conv:name>`` parts."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            if inner in SKIPPED_NAMESPACES:
                continue
            yield from _routes(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if route.startswith("^") or route.startswith(SKIPPED_PREFIXES) or pattern.name in SKIPPED_NAMES:
                continue
            if pattern.name is None:  # the API's catch-all for unknown paths
                continue
            yield route, f"{namespace}:{pattern.name}" if namespace else pattern.name


def _objects(ws: Any) -> dict[str, dict[str, Any]]:
    """The owned and not-owned sample of each kind of object a route can name."""
    from django.core.files.base import ContentFile

    from relance.accounts.services import user_create
    from relance.cases.models import CustomerHold, Dispute, Promise
    from relance.delivery.models import MessageAttachment, OutboundMessage
    from relance.portal.models import ContactProposal, DisputeAttachment, DisputeCase, PlanRequest

    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    sid = user_create(email="sid@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    ws.late.sales_owner = sam
    ws.late.save(update_fields=["sales_owner"])
    ws.other.sales_owner = sid
    ws.other.save(update_fields=["sales_owner"])
    now = timezone.now()
    samples: dict[str, dict[str, Any]] = {"owned": {"user": sam}, "not_owned": {"user": sid}}
    # A saved worklist view of sam (owned) and of sid (not owned): only its owner may delete it.
    from relance.workspace.models import SavedView, WorklistSnooze

    for which, owner, snoozed in (("owned", sam, ws.late), ("not_owned", sid, ws.other)):
        view = SavedView.objects.create(user=owner, entity=ws.acme, name="matrix", params={"min_days": "1"})
        samples[which]["view_id"] = view.pk
        # and a worklist snooze of each: only its owner may end it
        snooze = WorklistSnooze.objects.create(
            user=owner, customer=snoozed, until=ws.today + timedelta(days=3)
        )
        samples[which]["snooze_id"] = snooze.pk
    # A template version of acme (owned) and of globex (not owned: another entity's is a 404).
    from relance.comms.services import message_template_save

    for which, entity in (("owned", ws.acme), ("not_owned", ws.globex)):
        message_template_save(
            entity=entity, key="overdue_firm", channel="sms", language="en", subject="", body_text="Pay."
        )
        samples[which].update(
            key="overdue_firm",
            channel="sms",
            language="en",
            version_id=entity.message_template_versions.get().pk,
        )
    # A bank line of acme (owned) and of globex (not owned: another entity's is a 404).
    from relance.cashapp.models import BankAccount, BankLine, BankStatement

    for which, entity in (("owned", ws.acme), ("not_owned", ws.globex)):
        account = BankAccount.objects.create(entity=entity, account_id="NL77ABNA0574908765", currency="EUR")
        statement = BankStatement.objects.create(
            entity=entity,
            account=account,
            statement_id="matrix",
            format="camt053",
            sha256="0" * 64,
            imported_at=now,
        )
        samples[which]["line_id"] = BankLine.objects.create(
            entity=entity,
            statement=statement,
            account=account,
            bank_ref="matrix",
            booking_date=ws.today,
            amount=Decimal("10.00"),
            currency="EUR",
            direction="credit",
        ).pk
    # A duplicate pair and a merge of acme (owned) and of globex (not owned: another entity's is a 404).
    from relance.ledger.models import Customer
    from relance.quality.merge import customer_merge
    from relance.quality.models import DuplicateCandidate

    for which, entity in (("owned", ws.acme), ("not_owned", ws.globex)):
        low, high = (
            Customer.objects.create(entity=entity, external_ref=f"DUP-{n}", name="Twin GmbH", currency="EUR")
            for n in (1, 2)
        )
        samples[which]["pair_id"] = DuplicateCandidate.objects.create(
            entity=entity, customer_low=low, customer_high=high, score=90, reasons=["same name"], found_at=now
        ).pk
        survivor, merged = (
            Customer.objects.create(entity=entity, external_ref=f"MRG-{n}", name="Merged SA", currency="EUR")
            for n in (1, 2)
        )
        samples[which]["merge_id"] = customer_merge(survivor=survivor, merged=merged).merge.pk
    # A webhook endpoint of acme (owned) and of globex (not owned: another entity's is a 404).
    from relance.webhooks.models import WebhookDelivery, WebhookEndpoint
    from relance.webhooks.services import endpoint_test_event_send

    for which, entity in (("owned", ws.acme), ("not_owned", ws.globex)):
        endpoint = WebhookEndpoint.objects.create(
            entity=entity,
            url="https://erp.example.com/hook",
            event_types=["invoice.paid"],
            secret="whsec_" + "A" * 32,
        )
        samples[which]["endpoint_id"] = endpoint.pk
        # one delivery of it (a test event), for the workspace's replay route
        event = endpoint_test_event_send(endpoint=endpoint, entity=entity)
        samples[which]["delivery_id"] = WebhookDelivery.objects.get(event=event).pk
    for which, customer in (("owned", ws.late), ("not_owned", ws.other)):
        invoice = customer.invoices.order_by("id").first()
        dispute = Dispute.objects.create(
            entity=ws.acme,
            customer=customer,
            invoice=invoice,
            amount=Decimal("10.00"),
            reason_code="pricing",
            opened_on=ws.today - timedelta(days=3),
        )
        Promise.objects.create(
            entity=ws.acme,
            customer=customer,
            created_on=ws.today,
            promised_date=ws.today + timedelta(days=5),
            amount=Decimal("10.00"),
            currency="EUR",
        )
        request = PlanRequest.objects.create(
            entity=ws.acme,
            customer=customer,
            installments=3,
            first_due=ws.today + timedelta(days=10),
            total=Decimal("90.00"),
            currency="EUR",
        )
        hold = CustomerHold.objects.create(
            entity=ws.acme, customer=customer, kind="hold", reason="matrix", starts_on=ws.today
        )
        letter = OutboundMessage.objects.create(
            idempotency_key=f"matrix:{customer.pk}",
            message_id=f"<matrix.{customer.pk}@test>",
            entity=ws.acme,
            customer=customer,
            channel="letter",
            template_key="final_notice",
            language="en",
            recipient="postal",
            queued_at=now,
            next_attempt_at=now,
        )
        MessageAttachment.objects.create(
            message=letter,
            filename=f"letter-{customer.external_ref}.pdf",
            content_type="application/pdf",
            file=ContentFile(b"%PDF-1.4 matrix", name=f"letter-{customer.pk}.pdf"),
        )
        case = DisputeCase.objects.create(
            dispute=dispute, sla_due_on=ws.today + timedelta(days=7), text="matrix"
        )
        attachment = DisputeAttachment.objects.create(
            case=case,
            filename="proof.pdf",
            content_type="application/pdf",
            size=15,
            file=ContentFile(b"%PDF-1.4 matrix", name=f"proof-{customer.pk}.pdf"),
        )
        from relance.credit.models import BureauReport  # credit: a bureau report's raw payload

        report = BureauReport.objects.create(
            entity=ws.acme, customer=customer, provider="matrix", reported_on=ws.today
        )
        from relance.credit.models import (
            ApplicationDocument,
            ApplicationLink,
            CreditApplication,
            CreditReview,
        )

        review = CreditReview.objects.create(
            entity=ws.acme, customer=customer, opened_on=ws.today, proposal="keep", currency="EUR"
        )

        application = CreditApplication.objects.create(
            entity=ws.acme,
            customer=customer,
            legal_name="matrix",
            country="FR",
            requested_limit=Decimal("10"),
            currency="EUR",
            requested_terms_days=30,
        )
        document = ApplicationDocument.objects.create(
            application=application,
            kind="other",
            filename="matrix.pdf",
            content_type="application/pdf",
            size=15,
            sha256="0" * 64,
            file=ContentFile(b"%PDF-1.4 matrix", name=f"application-{customer.pk}.pdf"),
        )
        link = ApplicationLink.objects.create(
            entity=ws.acme,
            customer=customer,
            email="matrix@acme.test",
            token_id=f"matrix-{customer.pk}",
            expires_at=now + timedelta(days=1),
            application=application,
        )
        # issue 18: a payment plan, a credit hold and a contact made by hand, for the API's case routes
        from relance.cases.models import ContactLog, CreditHold, PaymentPlan

        plan = PaymentPlan.objects.create(
            entity=ws.acme, customer=customer, starts_on=ws.today, currency="EUR"
        )
        credit_hold = CreditHold.objects.create(entity=ws.acme, customer=customer, placed_on=ws.today)
        log = ContactLog.objects.create(entity=ws.acme, customer=customer, on=ws.today, channel="call")
        samples[which].update(
            promise_id=Promise.objects.filter(customer=customer).latest("id").pk,
            plan_id=plan.pk,
            credit_hold_id=credit_hold.pk,
            log_id=log.pk,
        )
        samples[which].update(
            report_id=report.pk,
            application_id=application.pk,
            application_public_id=application.public_id,
            document_id=document.pk,
            link_id=link.pk,
            review_id=review.pk,
            entity_id=ws.acme.pk,
            message_id=letter.pk,
            attachment_id=attachment.pk,
            customer_id=customer.pk,
            customer_ref=customer.external_ref,
            invoice_ref=invoice.external_ref,
            dispute_id=dispute.pk,
            request_id=request.pk,
            proposal_id=ContactProposal.objects.create(
                customer=customer,
                contact=customer.contacts.order_by("id").first(),
                changes={"name": ["before", "after"]},
            ).pk,
            hold_id=hold.pk,
            message_pk=letter.pk,
            policy_id=ws.policy.pk,
            policy_key=ws.policy.key,
            ref=customer.external_ref,
        )
    # A run of acme (owned) and of globex (not owned: another entity's is a 404).
    from relance.dunning.models import DunningRun

    for which, entity in (("owned", ws.acme), ("not_owned", ws.globex)):
        run = DunningRun.objects.create(
            entity=entity, as_of=ws.today - timedelta(days=400), started_at=now, finished_at=now
        )
        samples[which]["run_id"] = run.pk
    return samples


def _path(route: str, values: dict[str, Any]) -> str | None:
    """``route`` with its parameters filled in; None when it names something we have no sample of."""
    import re

    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "ref" and route.startswith("api/v1/invoices/"):
            return str(values["invoice_ref"])
        if name == "key" and route.startswith("api/v1/policies/"):
            return str(values["policy_key"])
        if name == "application_id" and route.startswith("api/v1/credit/"):
            return str(values["application_public_id"])  # the API names an application by its UUID
        return str(values[name])

    try:
        return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
    except KeyError:
        return None


def _users(ws: Any, samples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from relance.accounts.services import user_create

    admin = user_create(email="admin@acme.test", role="admin", entity_names=[], password=PASSWORD)
    support = user_create(email="help@acme.test", role="support", entity_names=["acme"], password=PASSWORD)
    return {
        "admin": admin,
        "credit_manager": ws.manager,
        "collector": ws.ana,
        "sales": samples["owned"]["user"],
        "support": support,
        "auditor": ws.auditor,
        "anonymous": None,
    }


def _client(user: Any) -> Client:
    """A client signed in as ``user`` once (its session is committed before any rolled-back request)."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _api_client(user: Any) -> Client:
    """A client sending a bearer token of ``user`` (the API's authentication), none when anonymous."""
    from relance.api.services import api_token_create

    if user is None:
        return Client(raise_request_exception=False)
    token = api_token_create(user=user, name="permission matrix")[1]
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")


def _request(client: Client, method: str, path: str, data: dict[str, str]) -> int:
    with transaction.atomic():
        if method == "GET":
            response = client.get(path)
        elif method == "PUT":
            response = client.put(path, data="{}", content_type="application/json")
        else:
            response = client.post(path, data)
        transaction.set_rollback(True)
    return response.status_code


def _observed(ws: Any) -> dict[tuple[str, str, str], dict[str, int]]:
    samples = _objects(ws)
    users = _users(ws, samples)
    clients = {role: _client(user) for role, user in users.items()}
    api_clients = {role: _api_client(user) for role, user in users.items()}
    rows: dict[tuple[str, str, str], dict[str, int]] = {}
    for route, name in sorted(set(_routes())):
        has_object = "<" in route or name in QUERIES
        write = "PUT" if route.startswith("api/") else "POST"
        for method in ("GET", write):
            if method == write and not has_object and rows[(route, "GET", "admin")]["owned"] != 405:
                continue  # a page without an object that answers GET: a POST reads the same rows
            for role in ROLES:
                statuses = {}
                for which in ("owned", "not_owned") if has_object else ("owned",):
                    values = samples[which]
                    path = _path(route, values)
                    assert path is not None, (
                        f"{route}: no sample for one of its parameters; add it in _objects()"
                    )
                    if name in QUERIES:
                        path += "?" + QUERIES[name].format(**values)
                    if route.startswith("api/"):
                        path += "?entity=acme"  # the admin sees two entities: the API asks which
                    data = {key: value.format(**values) for key, value in POST_DATA.items()}
                    client = (api_clients if route.startswith("api/") else clients)[role]
                    statuses[which] = _request(client, method, path, data)
                rows[(route, method, role)] = statuses
    return rows


def _read_table() -> dict[tuple[str, str, str], dict[str, int]]:
    if not TABLE.exists():
        return {}
    with TABLE.open(newline="") as handle:
        return {
            (row["route"], row["method"], row["role"]): {
                key: int(row[key]) for key in ("owned", "not_owned") if row[key] != "-"
            }
            for row in csv.DictReader(handle)
        }


def _write_table(rows: dict[tuple[str, str, str], dict[str, int]]) -> None:
    with TABLE.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["route", "method", "role", "owned", "not_owned"])
        for (route, method, role), statuses in sorted(rows.items()):
            writer.writerow([route, method, role, statuses["owned"], statuses.get("not_owned", "-")])


@pytest.mark.django_db
def test_every_route_as_every_role_matches_the_checked_in_table(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    ws = build_workspace()
    observed = _observed(ws)

    server_errors = [
        f"{key}: {statuses}" for key, statuses in observed.items() if max(statuses.values()) >= 500
    ]
    assert not server_errors, "5xx:\n" + "\n".join(server_errors)
    leaks = [
        f"{route} {method} as {role}: owned {statuses['owned']}, not owned {statuses['not_owned']}"
        for (route, method, role), statuses in observed.items()
        if role in SCOPED_ROLES
        and "not_owned" in statuses
        and statuses["not_owned"] != 404
        and not (statuses["not_owned"] == statuses["owned"] and statuses["owned"] in (401, 403, 405))
    ]
    assert not leaks, "a scoped role reaches another owner's object (expected 404):\n" + "\n".join(leaks)

    if os.environ.get(REGENERATE):
        _write_table(observed)
        pytest.skip(f"{TABLE.name} regenerated ({len(observed)} rows): review the diff and commit it")
    expected = _read_table()
    how = f"regenerate with {REGENERATE}=1 (see this module's docstring) and review the diff"
    new = sorted(set(observed) - set(expected))
    assert not new, f"routes not in {TABLE.name}; {how}:\n" + "\n".join(" ".join(key) for key in new[:40])
    gone = sorted(set(expected) - set(observed))
    assert not gone, f"{TABLE.name} lists routes that no longer exist; {how}:\n" + "\n".join(
        " ".join(key) for key in gone[:40]
    )
    changed = [
        f"{' '.join(key)}: expected {expected[key]}, got {observed[key]}"
        for key in sorted(observed)
        if observed[key] != expected[key]
    ]
    assert not changed, f"statuses differ from {TABLE.name}; {how}:\n" + "\n".join(changed[:60])
