"""Finding 5 of issue 12: lockouts keyed on the client address locked everybody out behind the
recommended TLS proxy. The client's address now comes from ``X-Forwarded-For`` when (and only
when) ``REMOTE_ADDR`` is a trusted proxy; limits are per account and per token first."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.urls import reverse

from relance.common.client import client_ip
from relance.portal import ratelimit

PROXY = "10.0.0.5"
PASSWORD = "correct horse battery 9"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def behind_proxy(settings):
    settings.RELANCE_TRUSTED_PROXIES = ["10.0.0.0/24", "fd00::/8"]


def _request(remote: str, forwarded: str | None = None):
    extra: dict[str, Any] = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        (PROXY, "203.0.113.9", "203.0.113.9"),
        # What the client wrote is to the left of what the proxy saw: the rightmost untrusted hop counts.
        (PROXY, "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # Two proxies of ours: skip both.
        (PROXY, "203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (PROXY, "[2001:db8::1]:443, 10.0.0.7", "2001:db8::1"),
        (PROXY, "203.0.113.9:51234", "203.0.113.9"),
        ("fd00::2", "198.51.100.1", "198.51.100.1"),
        # Not from a trusted proxy: the header is the client's own claim and is ignored.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        # From the proxy without a header: the proxy itself.
        (PROXY, None, PROXY),
        # A garbage hop written by the proxy: trust nothing in the chain.
        (PROXY, "not-an-address", PROXY),
    ],
)
def test_the_client_address_behind_a_trusted_proxy(behind_proxy, remote, forwarded, expected):
    assert client_ip(_request(remote, forwarded)) == expected


def test_without_trusted_proxies_the_header_is_never_read(settings):
    settings.RELANCE_TRUSTED_PROXIES = []
    assert client_ip(_request(PROXY, "203.0.113.9")) == PROXY


def test_a_trusted_proxy_that_is_no_network_is_a_configuration_error(settings):
    settings.RELANCE_TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match="RELANCE_TRUSTED_PROXIES"):
        client_ip(_request(PROXY))


# --------------------------------------------------------------------------- portal


def test_a_bad_token_flood_behind_the_proxy_locks_out_only_the_flooding_client(behind_proxy, client, url):
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.66"}
    customer = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    for number in range(ratelimit.BAD_TOKENS_PER_ADDRESS):
        client.get(reverse("portal:overview", args=[f"bad-{number}"]), **attacker)
    assert client.get(reverse("portal:overview", args=["bad-again"]), **attacker).status_code == 429
    # Another client behind the same proxy: its bad link is a plain 404, its good link opens.
    assert client.get(reverse("portal:overview", args=["typo"]), **customer).status_code == 404
    assert client.get(url(), **customer).status_code == 200
    # Even the flooding address opens a valid link: the limit is on bad tokens, not on customers.
    assert client.get(url(), **attacker).status_code == 200


def test_code_requests_are_limited_per_link_not_per_address(link, stranger_link):
    for _ in range(ratelimit.CODE_REQUESTS_PER_LINK):
        assert ratelimit.code_request_allowed(ip=PROXY, link_id=link.pk)
    assert not ratelimit.code_request_allowed(ip=PROXY, link_id=link.pk)
    # Another customer's link from the same address still gets its codes.
    assert ratelimit.code_request_allowed(ip=PROXY, link_id=stranger_link.pk)


# --------------------------------------------------------------------------- sign-in


@pytest.fixture
def users(db):
    from relance.accounts.services import user_create

    return [user_create(email=f"user{n}@acme.test", role="collector", password=PASSWORD) for n in range(3)]


def _login(username: str, password: str, forwarded: str) -> int:
    response = Client().post(
        reverse("web:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    return response.status_code


def test_failed_sign_ins_behind_the_proxy_lock_the_account_not_everybody(behind_proxy, users, settings):
    attacker = "198.51.100.66"
    # Five wrong passwords for user0 lock user0 (the account attacked), from any address.
    for _ in range(settings.RELANCE_LOGIN_MAX_FAILURES):
        _login("user0@acme.test", "wrong", attacker)
    assert _login("user0@acme.test", PASSWORD, "203.0.113.9") == 429
    # 20 failures (the old per-address limit) spread over accounts lock nobody else.
    for number in range(20):
        _login(f"nobody{number}@acme.test", "wrong", attacker)
    assert _login("user1@acme.test", PASSWORD, "203.0.113.9") == 302
    assert _login("user2@acme.test", PASSWORD, attacker) == 302


def test_the_per_address_limit_is_much_higher_and_per_client(behind_proxy, users, settings):
    assert settings.RELANCE_LOGIN_MAX_FAILURES_PER_IP >= 10 * settings.RELANCE_LOGIN_MAX_FAILURES
    settings.RELANCE_LOGIN_MAX_FAILURES_PER_IP = 4
    attacker = "198.51.100.66"
    for number in range(4):
        _login(f"nobody{number}@acme.test", "wrong", attacker)
    assert _login("user1@acme.test", PASSWORD, attacker) == 429
    # Behind the same proxy, another client signs in.
    assert _login("user1@acme.test", PASSWORD, "203.0.113.9") == 302
