# ruff: noqa: F811  (the fixtures imported from applications_fixtures are parameters here)
"""The public form over HTTP: CSRF, field-by-field refusal shown by the field, the languages, the
refused links, one submission per link, CSP-safe pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from relance.credit.models import ApplicationLink, CreditApplication
from relance.credit.services import applications as svc
from tests.credit.applications_fixtures import (  # noqa: F401
    GOOD_ANSWERS,
    _fresh_cache,
    good_files,
    make_user,
    manager,
    prospect_link,
    submitted,
    upload_root,
)

pytestmark = pytest.mark.django_db


def _post(client: Client, path: str, answers: dict, files: dict | None = None):
    data = dict(answers)
    for name, uploads in (files if files is not None else good_files()).items():
        data[name] = uploads[0]
    return client.post(path, data)


def test_the_form_opens_in_the_links_language_without_inline_code(prospect_link) -> None:
    page = Client().get(svc.link_path(prospect_link.link))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Demande de crédit" in html and "Raison sociale" in html
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    assert "<style" not in html and "style=" not in html and not re.search(r"<script(?![^>]*src=)", html)
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "same-origin"
    english = Client().get(svc.link_path(prospect_link.link) + "?lang=en")
    assert "Legal name" in english.content.decode()
    for code in ("de", "es", "it", "zh-hans"):
        assert Client().get(svc.link_path(prospect_link.link) + f"?lang={code}").status_code == 200


def test_csrf_is_enforced(prospect_link, upload_root) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _post(client, svc.link_path(prospect_link.link), GOOD_ANSWERS)
    assert response.status_code == 403
    assert not CreditApplication.objects.exists()


def test_a_refusal_is_shown_by_its_field_and_the_answers_kept(prospect_link, upload_root) -> None:
    path = svc.link_path(prospect_link.link) + "?lang=en"
    response = _post(Client(), path, dict(GOOD_ANSWERS, iban="FR7630006000011234567890180"))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="iban" name="iban" type="text" value="FR7630006000011234567890180"' in html
    assert 'aria-invalid="true" aria-describedby="iban-error"' in html
    assert '<span class="field-error" id="iban-error">This IBAN is not valid.</span>' in html
    assert 'role="alert"' in html and "nothing was saved yet" in html
    assert 'value="Boulangerie Martin SARL"' in html  # the other answers stay
    assert not CreditApplication.objects.exists()


def test_a_good_application_is_received_once(prospect_link, upload_root) -> None:
    client = Client()
    path = svc.link_path(prospect_link.link)
    response = _post(client, path, GOOD_ANSWERS)
    assert response.status_code == 302
    page = client.get(path + "?lang=en")
    assert "we have received the application of Boulangerie Martin SARL" in page.content.decode()
    again = _post(client, path + "?lang=en", GOOD_ANSWERS)
    assert again.status_code == 409
    assert "already sent" in again.content.decode()
    assert CreditApplication.objects.count() == 1


def test_an_information_request_reopens_the_form_with_the_earlier_answers(
    submitted, prospect_link, manager
) -> None:
    svc.application_request_info(application=submitted, user=manager, text="Please add the 2025 accounts.")
    html = Client().get(svc.link_path(prospect_link.link) + "?lang=en").content.decode()
    assert "Please add the 2025 accounts." in html
    assert 'value="FR7630006000011234567890189"' in html and 'value="303265045"' in html
    assert "Already received" in html


def test_refused_links(prospect_link) -> None:
    from django.utils import timezone

    link = prospect_link.link
    assert Client().get("/credit/apply/not-a-token/").status_code == 404
    ApplicationLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    expired = Client().get(svc.link_path(link))
    assert expired.status_code == 410 and "expiré" in expired.content.decode()
    ApplicationLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())
    assert Client().get(svc.link_path(link)).status_code == 410


def test_bad_tokens_are_rate_limited(prospect_link) -> None:
    from relance.portal import ratelimit

    client = Client()
    for _ in range(ratelimit.BAD_TOKENS_PER_ADDRESS):
        client.get("/credit/apply/bad/")
    assert client.get("/credit/apply/bad/").status_code == 429
    assert client.get(svc.link_path(prospect_link.link)).status_code == 200  # a good link still opens


def test_the_applicants_answers_are_audited_as_the_link_with_its_address(prospect_link, upload_root) -> None:
    from relance.audit.models import AuditEvent

    _post(Client(REMOTE_ADDR="203.0.113.7"), svc.link_path(prospect_link.link), GOOD_ANSWERS)
    event = AuditEvent.objects.get(action="application_submitted")
    assert event.actor_label == f"credit application link {prospect_link.link.pk}"
    assert event.ip == "203.0.113.7" and event.actor_user is None
    created = AuditEvent.objects.get(action="create", object_type="credit.creditapplication")
    assert created.actor_label == event.actor_label
