"""Sign-in: throttled failures, the TOTP second factor with recovery codes, idle sessions."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from relance.accounts import services
from relance.accounts.middleware import LAST_SEEN_KEY
from relance.accounts.models import RecoveryCode, TotpDevice
from relance.audit.models import AuditEvent

PASSWORD = "correct horse battery 9"


@pytest.fixture
def collector(make_user, entity):
    return make_user("col@acme.test", "collector", entity, password=PASSWORD)


def _login(client: Client, username: str, password: str, **extra):
    return client.post(reverse("web:login"), {"username": username, "password": password}, **extra)


def _signed_in(client: Client) -> bool:
    return client.get(reverse("web:customer_list")).status_code == 200


def test_a_good_password_signs_in_and_is_audited(collector):
    client = Client()
    response = _login(client, "col@acme.test", PASSWORD)
    assert response.status_code == 302 and _signed_in(client)
    assert AuditEvent.objects.filter(action="login", actor_user=collector).count() == 1


def test_five_failures_lock_the_username_for_a_while_with_a_clear_message(collector, settings):
    client = Client()
    for _ in range(settings.RELANCE_LOGIN_MAX_FAILURES - 1):
        response = _login(client, "col@acme.test", "wrong")
        assert response.status_code == 200 and "didn't match" in response.content.decode()
    locked = _login(client, "col@acme.test", "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode() and "15 minutes" in locked.content.decode()
    # Even the right password is refused while locked, from another address too, and via the admin.
    assert _login(Client(), "col@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.9").status_code == 429
    assert not _signed_in(client)
    admin = Client().post(reverse("admin:login"), {"username": "col@acme.test", "password": PASSWORD})
    assert admin.status_code == 200  # the form again, not a redirect
    assert AuditEvent.objects.filter(action="login_failed").count() >= settings.RELANCE_LOGIN_MAX_FAILURES
    assert AuditEvent.objects.filter(action="login_locked").exists()
    # Another user from the same address is not locked (the address limit is higher).
    assert _login(Client(), "someone@else.test", "wrong").status_code == 200


def test_failures_from_one_address_lock_that_address(collector, settings):
    settings.RELANCE_LOGIN_MAX_FAILURES_PER_IP = 3
    for name in ("a", "b", "c"):
        _login(Client(), f"{name}@x.test", "wrong", REMOTE_ADDR="10.1.1.1")
    assert _login(Client(), "col@acme.test", PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert _login(Client(), "col@acme.test", PASSWORD, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_the_lock_ends(collector, settings):
    from django.core.cache import cache

    for _ in range(settings.RELANCE_LOGIN_MAX_FAILURES):
        _login(Client(), "col@acme.test", "wrong")
    assert _login(Client(), "col@acme.test", PASSWORD).status_code == 429
    cache.clear()  # what the lock's expiry does after RELANCE_LOGIN_LOCK_SECONDS
    assert _login(Client(), "col@acme.test", PASSWORD).status_code == 302


def _enrol(client: Client) -> tuple[str, list[str]]:
    page = client.get(reverse("web:totp_enrol"))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html
    assert "http://" not in html.split("<svg", 1)[1].split("</svg>")[0].replace("http://www.w3.org", "")
    secret = page.context["secret"]
    wrong = client.post(reverse("web:totp_enrol"), {"code": "000000"})
    assert "not valid" in wrong.content.decode()
    done = client.post(reverse("web:totp_enrol"), {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    return secret, done.context["codes"]


def test_totp_enrolment_then_sign_in_needs_the_code(collector):
    client = Client()
    client.force_login(collector)
    secret, codes = _enrol(client)
    assert len(codes) == 10 and TotpDevice.objects.get(user=collector).confirmed_at is not None
    stored = set(RecoveryCode.objects.filter(user=collector).values_list("code_hash", flat=True))
    assert not stored & set(codes) and len(stored) == 10  # only hashes
    assert AuditEvent.objects.filter(action="totp_enrolled", actor_user=collector).exists()

    fresh = Client()
    step_one = _login(fresh, "col@acme.test", PASSWORD)
    assert step_one.status_code == 302 and step_one["Location"] == reverse("web:login_verify")
    assert not _signed_in(fresh)  # the password alone is not enough
    assert "not match" in fresh.post(reverse("web:login_verify"), {"code": "123456"}).content.decode()
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: unused so far
    assert fresh.post(reverse("web:login_verify"), {"code": code}).status_code == 302
    assert _signed_in(fresh)

    replay = Client()
    _login(replay, "col@acme.test", PASSWORD)
    replay.post(reverse("web:login_verify"), {"code": code})
    assert not _signed_in(replay)  # a code works once


def test_a_recovery_code_works_once(collector):
    client = Client()
    client.force_login(collector)
    _, codes = _enrol(client)
    for expected in (True, False):
        other = Client()
        _login(other, "col@acme.test", PASSWORD)
        other.post(reverse("web:login_verify"), {"code": codes[0].upper()})
        assert _signed_in(other) is expected
    assert AuditEvent.objects.filter(action="recovery_code_used").count() == 1


def test_the_admin_login_form_cannot_skip_the_second_factor(make_user):
    admin = make_user("root@acme.test", "admin", password=PASSWORD)
    services.totp_enrol(
        user=admin, secret=(secret := services.totp_secret_new()), code=pyotp.TOTP(secret).now()
    )
    client = Client()
    client.post(reverse("admin:login"), {"username": "root@acme.test", "password": PASSWORD})
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and reverse("web:login") in response["Location"]
    assert client.get(reverse("admin:index")).status_code == 302  # signed out for good


def test_totp_reset_command(collector):
    import io

    from django.core.management import call_command

    services.totp_enrol(
        user=collector, secret=(secret := services.totp_secret_new()), code=pyotp.TOTP(secret).now()
    )
    out = io.StringIO()
    call_command("user", "totp-reset", "col@acme.test", stdout=out)
    assert "removed" in out.getvalue()
    assert not TotpDevice.objects.filter(user=collector).exists()
    assert not RecoveryCode.objects.filter(user=collector).exists()
    assert _login(Client(), "col@acme.test", PASSWORD)["Location"] == "/"  # password only again


def test_an_idle_session_ends(collector, settings):
    client = Client()
    client.force_login(collector)
    assert _signed_in(client)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.RELANCE_SESSION_IDLE_SECONDS - 5
    session.save()
    response = client.get(reverse("web:customer_list"))
    assert response.status_code == 302 and reverse("web:login") in response["Location"]
    assert not _signed_in(client)
    assert AuditEvent.objects.filter(action="session_expired", actor_user=collector).exists()


def test_an_active_session_stays(collector, settings):
    client = Client()
    client.force_login(collector)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.RELANCE_SESSION_IDLE_SECONDS + 120
    session.save()
    assert _signed_in(client) and _signed_in(client)


def test_the_idle_limit_comes_from_the_environment(monkeypatch):
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("RELANCE_SESSION_IDLE_SECONDS", "600")
    try:
        assert importlib.reload(base).RELANCE_SESSION_IDLE_SECONDS == 600
    finally:
        monkeypatch.delenv("RELANCE_SESSION_IDLE_SECONDS")
        importlib.reload(base)
