"""Who may call the API: token holders and signed-in staff; nobody else, in the one error shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from relance.api.models import ApiToken
from relance.api.services import api_token_create, api_token_revoke, token_hash
from tests.api.conftest import ApiClient, error_of


def test_no_token_is_401_in_the_error_shape(db):
    response = ApiClient().get("/customers")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("secret", ["nonsense", "rel_000000000000_wrong", "rel__x", "rel_abc"])
def test_a_bad_token_is_401(db, secret):
    response = ApiClient(secret).get("/customers")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_a_token_whose_secret_is_wrong_is_refused_even_with_a_real_prefix(user):
    token, secret = api_token_create(user=user, name="x")
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert ApiClient(forged).get("/customers").status_code == 401


def test_the_secret_is_not_stored_only_its_hash(user):
    token, secret = api_token_create(user=user, name="x")
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret not in {stored.prefix, stored.secret_hash, stored.name}
    assert stored.secret_hash == token_hash(secret)
    assert secret.startswith(f"rel_{stored.prefix}_")


def test_a_valid_token_works_and_records_its_use(api, user):
    response = api.get("/customers")
    assert response.status_code == 200, response.content
    assert response.json() == {"items": [], "next_cursor": None}
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_a_revoked_token_is_401(api, user):
    token = ApiToken.objects.get(user=user)
    api_token_revoke(prefix=token.prefix)
    response = api.get("/customers")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_an_expired_token_is_401(api, user):
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/customers").status_code == 401


def test_a_token_of_an_inactive_user_is_401(api, user):
    user.is_active = False
    user.save()
    assert api.get("/customers").status_code == 401


def test_staff_session_reads_and_needs_csrf_to_write(user, entity, grant):
    user.is_staff = True
    user.save()
    grant(user=user, entity=entity)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    session = ApiClient(client=browser)
    assert session.get("/customers").status_code == 200

    refused = session.put("/customers/C1", {"name": "Dupont"})
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"

    browser.get("/api/v1/docs")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    accepted = session.put("/customers/C1", {"name": "Dupont"}, **{"X-CSRFToken": csrf})
    assert accepted.status_code in {200, 201}, accepted.content


def test_a_signed_in_user_who_is_not_staff_is_401(user, entity, grant):
    grant(user=user, entity=entity)
    browser = Client()
    browser.force_login(user)
    assert ApiClient(client=browser).get("/customers").status_code == 401


def test_token_command_creates_lists_and_revokes(user, capsys):
    call_command("token", "create", "--user", "alice", "--name", "ERP sync")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=user)
    assert secret.startswith(f"rel_{token.prefix}_") and token.name == "ERP sync"

    call_command("token", "list")
    listed = capsys.readouterr().out
    assert token.prefix in listed and secret not in listed

    call_command("token", "revoke", token.prefix)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    with pytest.raises(CommandError, match="already revoked"):
        call_command("token", "revoke", token.prefix)
    with pytest.raises(CommandError, match="no user named 'bob'"):
        call_command("token", "create", "--user", "bob")


def test_token_command_json(user, capsys):
    call_command("token", "create", "--user", "alice", "--json", "--expires-in-days", "30")
    import json

    created = json.loads(capsys.readouterr().out)
    assert created["status"] == "active" and created["secret"].startswith("rel_") and created["expires_at"]
    call_command("token", "list", "--json")
    assert [row["prefix"] for row in json.loads(capsys.readouterr().out)] == [created["prefix"]]


def test_access_command_grants_and_revokes_entities(user, entity, capsys):
    from relance.api.selectors import entities_for_user

    assert not entities_for_user(user).exists()
    call_command("access", "grant", "--user", "alice", "--entity", "acme")
    assert list(entities_for_user(user)) == [entity]
    call_command("access", "list", "--json")
    assert '"entity": "acme"' in capsys.readouterr().out
    call_command("access", "revoke", "--user", "alice", "--entity", "acme")
    assert not entities_for_user(user).exists()
    with pytest.raises(CommandError, match="no entity named 'nope'"):
        call_command("access", "grant", "--user", "alice", "--entity", "nope")


def test_a_write_without_any_credentials_is_401_not_a_csrf_error(db):
    response = ApiClient(client=Client(enforce_csrf_checks=True)).put("/customers/C1", {"name": "x"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_a_token_write_needs_no_csrf_even_from_a_browser_with_a_session(api, user):
    user.is_staff = True
    user.save()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = ApiClient(api.secret, client=browser).put("/customers/C1", {"name": "Dupont"})
    assert response.status_code == 201, response.content
