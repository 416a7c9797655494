"""Roles and entity grants, in pages and API: users see their entities only, read-only roles
change nothing, collectors do not edit policies, sales owners see the accounts they own."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from relance.accounts import roles
from relance.accounts.selectors import entities_for_user, user_can, user_role
from relance.ledger.models import Customer
from tests.api.conftest import ApiClient, error_of

API_WRITE_RESOURCES = ["customers", "contacts", "invoices", "credit-notes", "payments"]


def test_the_migration_creates_every_role_group_with_its_permissions(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)
    auditor = {p.codename for p in Group.objects.get(name="auditor").permissions.all()}
    assert auditor and all(codename.startswith("view_") for codename in auditor)
    assert "view_auditevent" in auditor
    collector = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name="collector").permissions.select_related("content_type")
    }
    assert {
        "cases.add_promise",
        "cases.change_dispute",
        "cases.add_contactlog",
        "ledger.view_invoice",
    } <= collector
    assert not {"dunning.change_policy", "dunning.add_policy", "comms.change_messagetemplate"} & collector
    assert "audit.view_auditevent" not in collector


def test_roles_sync_is_idempotent_and_restores_a_tampered_group(db):
    from django.contrib.auth.models import Permission

    from relance.accounts.services import roles_sync

    assert roles_sync() == 0
    Group.objects.get(name="auditor").permissions.add(Permission.objects.get(codename="change_customer"))
    assert roles_sync() == 1
    assert not Group.objects.get(name="auditor").permissions.filter(codename="change_customer").exists()


def test_a_user_sees_only_granted_entities_and_a_role_without_grant_sees_nothing(make_user, entity, globex):
    collector = make_user("col@acme.test", "collector", entity)
    lonely = make_user("lonely@acme.test", "collector")
    admin = make_user("admin@acme.test", "admin")
    assert list(entities_for_user(collector)) == [entity]
    assert list(entities_for_user(lonely)) == []
    assert set(entities_for_user(admin)) == {entity, globex}
    assert admin.is_staff and not collector.is_staff


def test_a_granted_user_without_role_gets_the_default_role_or_nothing(entity, settings):
    from django.contrib.auth import get_user_model

    from relance.accounts.services import entity_access_grant

    user = get_user_model().objects.create_user("legacy", password="x")
    entity_access_grant(user=user, entity=entity)
    settings.RELANCE_DEFAULT_ROLE = "credit_manager"
    assert user_role(user) == "credit_manager" and list(entities_for_user(user)) == [entity]
    settings.RELANCE_DEFAULT_ROLE = ""
    user = get_user_model().objects.get(pk=user.pk)  # a fresh request
    assert user_role(user) is None and list(entities_for_user(user)) == []


def test_entity_a_user_never_sees_entity_b_in_pages(make_user, signed_in, two_ledgers):
    client = signed_in(make_user("col@acme.test", "collector", two_ledgers["acme"].entity))
    other = two_ledgers["globex"]
    assert (
        client.get(reverse("web:customer_detail", args=[other.pk]), {"entity": "globex"}).status_code == 404
    )
    for name in ["web:dashboard", "web:customer_list", "web:invoice_list"]:
        response = client.get(reverse(name), {"entity": "globex", "as_of": "2024-06-30"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Globex" not in html and "INV-G" not in html
    own = client.get(reverse("web:customer_list"), {"as_of": "2024-06-30"}).content.decode()
    assert "Acme Buyer SARL" in own


def test_entity_a_user_never_sees_entity_b_in_the_api(make_user, token_for, two_ledgers):
    api = ApiClient(token_for(make_user("col@acme.test", "collector", two_ledgers["acme"].entity)))
    assert [item["customer_ref"] for item in api.get("/customers").json()["items"]] == ["A-1"]
    for path in ["/customers", "/customers/G-1", "/invoices/INV-G", "/invoices"]:
        response = api.get(path, {"entity": "globex"})
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "entity_not_found"
    assert api.get("/customers/G-1").status_code == 404  # not in acme either


def _routes(resolver: URLResolver | None = None, prefix: str = ""):
    """Every routed path of the site with sample arguments, outside the API, admin and static."""
    samples = {"int": "1", "id": "1", "str": "x", "slug": "x", "path": "x/y", "uuid": str(uuid.uuid4())}
    for pattern in (resolver or get_resolver()).url_patterns:
        route = getattr(pattern.pattern, "_route", None)
        if route is None:  # regular-expression patterns: the admin's catch-alls
            continue
        for name, converter in getattr(pattern.pattern, "converters", {}).items():
            kind = type(converter).__name__.replace("Converter", "").lower()
            route = route.replace(f"<{kind}:{name}>", samples.get(kind, "x")).replace(f"<{name}>", "x")
        path = prefix + route
        if path.startswith(("api/", "admin/", "static/")):
            continue
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, path)
        elif isinstance(pattern, URLPattern):
            yield "/" + path, pattern.name


def test_an_auditor_cannot_change_anything_in_pages(make_user, signed_in, two_ledgers):
    client = signed_in(make_user("audit@acme.test", "auditor", two_ledgers["acme"].entity))
    checked = 0
    for path, name in _routes():
        if name in {"login", "logout", "login_verify", "totp_enrol", "totp_disable", "recovery_codes"}:
            continue
        for method in ("post", "put", "delete"):
            response = getattr(client, method)(path, {"name": "changed"})
            assert response.status_code == 403, (method, path, response.status_code)
            checked += 1
    assert checked >= 12
    assert Customer.objects.get(pk=two_ledgers["acme"].pk).name == "Acme Buyer SARL"


def test_an_auditor_cannot_change_anything_in_the_api(make_user, token_for, two_ledgers):
    auditor = make_user("audit@acme.test", "auditor", two_ledgers["acme"].entity)
    api = ApiClient(token_for(auditor))
    assert api.get("/customers").status_code == 200  # reading is fine
    for resource in API_WRITE_RESOURCES:
        response = api.put(f"/{resource}/NEW-1", {"name": "x"})
        assert response.status_code == 403, resource
        assert error_of(response)["code"] == "forbidden"
        assert api.post(f"/{resource}/bulk", {"items": []}).status_code == 403
        assert api.delete(f"/{resource}/A-1").status_code in {403, 405}  # no DELETE endpoint exists
    assert not Customer.objects.filter(external_ref="NEW-1").exists()


def test_an_auditor_session_cannot_write_through_the_api_either(make_user, two_ledgers):
    from django.test import Client

    auditor = make_user("audit@acme.test", "auditor", two_ledgers["acme"].entity)
    auditor.is_staff = True  # even with a staff session
    auditor.save()
    browser = Client()
    browser.force_login(auditor)
    response = ApiClient(client=browser).put("/customers/A-1", {"name": "Changed"})
    assert response.status_code == 403


def test_a_collector_cannot_edit_policies(make_user, signed_in, entity):
    from relance.dunning.models import Policy

    collector = make_user("col@acme.test", "collector", entity)
    policy = Policy.objects.create(entity=entity, key="standard", name="Standard", spec={"key": "standard"})
    assert not user_can(collector, "dunning.change_policy", policy)
    assert user_can(collector, "cases.add_promise")
    collector.is_staff = True  # even when let into the admin
    collector.save()
    client = signed_in(collector)
    url = reverse("admin:dunning_policy_change", args=[policy.pk])
    assert client.post(url, {"name": "Mine now", "key": "standard"}).status_code == 403
    assert client.post(reverse("admin:dunning_policy_add"), {"name": "x"}).status_code == 403
    assert Policy.objects.get(pk=policy.pk).name == "Standard"


def test_a_collector_writes_contacts_but_not_invoices_through_the_api(make_user, token_for, two_ledgers):
    api = ApiClient(token_for(make_user("col@acme.test", "collector", two_ledgers["acme"].entity)))
    refused = api.put("/invoices/INV-A", {"amount": "1.00"})
    assert refused.status_code == 403
    assert "may not change invoices" in error_of(refused)["message"]
    written = api.put("/contacts/CT-1", {"customer_ref": "A-1", "email": "ap@acme.test"})
    assert written.status_code == 201, written.content


def test_a_sales_owner_sees_only_their_accounts(make_user, signed_in, token_for, two_ledgers, make_customer):
    acme = two_ledgers["acme"].entity
    seller = make_user("sales@acme.test", "sales", acme)
    mine = make_customer("A-2", name="My Own Account", sales_owner=seller)
    client = signed_in(seller)
    listing = client.get(reverse("web:customer_list"), {"as_of": "2024-06-30"}).content.decode()
    assert "My Own Account" in listing and "Acme Buyer SARL" not in listing
    assert client.get(reverse("web:customer_detail", args=[mine.pk])).status_code == 302  # to the 360
    assert client.get(reverse("workspace:customer", args=[mine.pk])).status_code == 200
    assert client.get(reverse("web:customer_detail", args=[two_ledgers["acme"].pk])).status_code == 404
    invoices = client.get(reverse("web:invoice_list"), {"state": "all"}).content.decode()
    assert "INV-A" not in invoices
    landing = client.get(reverse("web:dashboard"))
    assert landing.status_code == 302 and landing["Location"] == reverse("workspace:my_accounts")
    assert user_can(seller, "cases.add_customerhold", mine)
    assert not user_can(seller, "cases.add_customerhold", two_ledgers["acme"])
    assert ApiClient(token_for(seller)).get("/customers").status_code == 403  # lists are not owner-scoped


def test_user_can_checks_the_entity_of_an_object(make_user, two_ledgers):
    collector = make_user("col@acme.test", "collector", two_ledgers["acme"].entity)
    assert user_can(collector, "ledger.view_customer", two_ledgers["acme"])
    assert not user_can(collector, "ledger.view_customer", two_ledgers["globex"])
    assert not user_can(collector, "ledger.change_customer", two_ledgers["acme"])


@pytest.mark.parametrize("role", roles.ROLES)
def test_every_role_can_sign_in_and_open_the_pages_it_may(role, make_user, signed_in, two_ledgers):
    user = make_user(f"{role}@acme.test", role, two_ledgers["acme"].entity)
    client = signed_in(user)
    response = client.get(reverse("web:customer_list"))
    assert response.status_code == 200
    audit = client.get(reverse("web:audit_list"))
    assert audit.status_code == (200 if role in {"admin", "auditor"} else 403)


def test_user_commands_add_list_role(entity, capsys):
    import io

    from django.core.management import call_command

    from relance.accounts.services import user_by_email

    call_command(
        "user", "add", "ana@acme.test", "--role", "collector", "--entity", "acme", stdout=io.StringIO()
    )
    user = user_by_email(email="ana@acme.test")
    assert user_role(user) == "collector" and not user.has_usable_password()
    out = io.StringIO()
    call_command("user", "list", "--json", stdout=out)
    rows = {row["username"]: row for row in json.loads(out.getvalue())}
    assert rows["ana@acme.test"]["role"] == "collector" and rows["ana@acme.test"]["entities"] == ["acme"]
    call_command("user", "role", "ana@acme.test", "auditor", stdout=io.StringIO())
    assert user_role(user_by_email(email="ana@acme.test")) == "auditor"
    from relance.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="role_changed")
    assert event.before == {"role": "collector"} and event.after == {"role": "auditor"}
    assert event.actor_label.startswith("cli")


def test_user_add_reads_the_password_from_stdin(entity, monkeypatch):
    import io

    from django.contrib.auth import authenticate
    from django.core.management import CommandError, call_command

    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase 42\n"))
    call_command(
        "user",
        "add",
        "bo@acme.test",
        "--role",
        "sales",
        "--entity",
        "acme",
        "--password-stdin",
        stdout=io.StringIO(),
    )
    assert authenticate(username="bo@acme.test", password="a long enough passphrase 42") is not None
    with pytest.raises(CommandError, match="already exists"):
        call_command("user", "add", "bo@acme.test", "--role", "sales", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no entity named 'nope'"):
        call_command(
            "user", "add", "cy@acme.test", "--role", "sales", "--entity", "nope", stdout=io.StringIO()
        )


def test_role_permission_required_answers_403(make_user, rf):
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse

    from relance.accounts.decorators import role_permission_required

    @role_permission_required("dunning.change_policy")
    def edit_policy(request):
        return HttpResponse("ok")

    request = rf.post("/policies/1/")
    request.user = make_user("col@acme.test", "collector")
    with pytest.raises(PermissionDenied):
        edit_policy(request)
    request.user = make_user("cm@acme.test", "credit_manager")
    assert edit_policy(request).content == b"ok"
