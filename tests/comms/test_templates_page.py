"""The Templates page: the grid of templates, one template's editor with its live preview on a
chosen customer, the history with diffs, revert and back to the shipped version; scoped to the
user's entities and customers, and to the roles that may read or change templates."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from relance.audit.models import AuditEvent
from relance.comms.models import MessageTemplate, MessageTemplateVersion
from relance.comms.rendering import TemplateSource
from relance.comms.selectors import template_diff
from tests.workspace.conftest import PASSWORD, build_workspace

KEY, CHANNEL, LANGUAGE = "overdue_firm", "email", "en"


@pytest.fixture
def ws(db):
    return build_workspace()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(key=KEY, channel=CHANNEL, language=LANGUAGE, entity="acme") -> str:
    return reverse("comms:template", args=[key, channel, language]) + f"?entity={entity}"


def _preview_url(entity="acme") -> str:
    return reverse("comms:template_preview", args=[KEY, CHANNEL, LANGUAGE]) + f"?entity={entity}"


def _shipped():
    from relance.comms.defaults import default_source

    source = default_source(KEY, CHANNEL, LANGUAGE)
    assert source is not None
    return source


def _save(client: Client, subject: str, text: str | None = None, html: str | None = None, **extra):
    shipped = _shipped()
    data = {
        "entity": "acme",
        "subject": subject,
        "body_text": shipped.text if text is None else text,
        "body_html": shipped.html if html is None else html,
        "save": "1",
        **extra,
    }
    return client.post(_page(), data)


def _own():
    return MessageTemplate.objects.filter(
        entity__name="acme", key=KEY, channel=CHANNEL, language=LANGUAGE
    ).first()


def _versions():
    return list(
        MessageTemplateVersion.objects.filter(
            entity__name="acme", key=KEY, channel=CHANNEL, language=LANGUAGE
        )
        .order_by("number")
        .values_list("number", "kind", "subject")
    )


# --------------------------------------------------------------------------- the list


def test_the_list_shows_every_key_channel_and_language_shipped_or_own(ws):
    client = _client(ws.manager)
    assert _save(client, "Own subject {{ amount_due|money(currency) }}").status_code == 302
    response = client.get(reverse("comms:templates"), {"entity": "acme"})
    assert response.status_code == 200
    html = response.content.decode()
    from relance.comms import defaults

    for key in defaults.KEYS:
        assert f"<code>{key}</code>" in html
    for language in defaults.LANGUAGES:
        assert f'<th scope="col">{language}</th>' in html
    own_cell = html.split(f'data-template="{KEY}/{CHANNEL}/{LANGUAGE}"')[1].split("</td>")[0]
    assert ">own</a>" in own_cell and "cm@acme.test" in own_cell
    shipped_cell = html.split(f'data-template="{KEY}/sms/{LANGUAGE}"')[1].split("</td>")[0]
    assert ">shipped</a>" in shipped_cell
    own_only = client.get(reverse("comms:templates"), {"entity": "acme", "own": "1"}).content.decode()
    assert own_only.count("<tr>") == 2  # the header and overdue_firm/email


def test_the_menu_links_templates_for_roles_that_may_read_them(ws):
    from relance.accounts.services import user_create

    link = f'href="{reverse("comms:templates")}"'
    assert link in _client(ws.manager).get(reverse("web:dashboard")).content.decode()
    assert link in _client(ws.ana).get(reverse("workspace:worklist")).content.decode()
    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    assert link not in _client(sam).get(reverse("workspace:my_accounts")).content.decode()


# --------------------------------------------------------------------------- permissions and scoping


def test_roles_without_the_permission_get_403(ws):
    from relance.accounts.services import user_create

    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    assert _client(sam).get(reverse("comms:templates")).status_code == 403
    assert _client(sam).get(_page()).status_code == 403
    collector = _client(ws.ana)  # may read, not change
    assert collector.get(_page()).status_code == 200
    assert 'id="template-form"' not in collector.get(_page()).content.decode()
    assert _save(collector, "Collector's subject").status_code == 403
    assert collector.post(_preview_url(), {"subject": "x", "body_text": "y"}).status_code == 403
    assert _own() is None


def test_another_entitys_template_version_and_customer_are_404(ws):
    client = _client(ws.manager)  # acme only
    assert client.get(_page(entity="globex")).status_code == 404
    assert client.get(reverse("comms:templates"), {"entity": "globex"}).status_code == 404
    globex = _client(ws.globex_manager)
    assert _save(globex, "Globex subject", entity="globex").status_code == 302
    version = MessageTemplateVersion.objects.get(entity__name="globex")
    revert = reverse("comms:template_revert", args=[KEY, CHANNEL, LANGUAGE, version.pk])
    assert client.post(revert, {"entity": "acme"}).status_code == 404
    assert client.post(revert, {"entity": "globex"}).status_code == 404
    other_customer = {"customer": ws.globex_customer.pk}
    assert client.get(_page(), other_customer).status_code == 404
    assert client.get(_preview_url(), other_customer).status_code == 404
    options = client.get(reverse("comms:template_customers"), {"entity": "acme", "q": "globex"})
    assert "Globex Buyer" not in options.content.decode()
    assert client.get(_page(key="no_such_key")).status_code == 404


def test_the_customers_to_preview_on_are_those_the_user_may_see(ws):
    from relance.accounts.services import user_create
    from relance.comms.selectors import template_preview_customers

    names = [c.name for c in template_preview_customers(user=ws.ana, entity=ws.acme)]
    assert names == sorted(["Late Payer GmbH", "Second Buyer SARL", "Other Account SA"])
    assert [c.name for c in template_preview_customers(user=ws.ana, entity=ws.acme, query="SECÖ")] == [
        "Second Buyer SARL"
    ]
    assert template_preview_customers(user=ws.ana, entity=ws.globex) == []
    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    ws.late.sales_owner = sam
    ws.late.save(update_fields=["sales_owner"])
    assert [c.name for c in template_preview_customers(user=sam, entity=ws.acme)] == ["Late Payer GmbH"]


# --------------------------------------------------------------------------- editing and history


def test_saving_keeps_every_version_with_its_author_and_a_diff(ws):
    client = _client(ws.manager)
    assert _save(client, "First {{ amount_due|money(currency) }}").status_code == 302
    assert _save(client, "Second {{ amount_due|money(currency) }}").status_code == 302
    assert (
        _save(client, "Second {{ amount_due|money(currency) }}").status_code == 302
    )  # unchanged: no version
    assert [(n, k) for n, k, _ in _versions()] == [(1, "saved"), (2, "saved")]
    assert _own().subject.startswith("Second") and _own().updated_by == ws.manager
    html = client.get(_page()).content.decode()
    history = html.split('id="history"')[1]
    assert "Version 2" in history and "Version 1" in history and "cm@acme.test" in history
    v2 = history.split('id="version-2"')[1].split("</li>")[0]
    assert "Changes against version 1" in v2
    assert '<span class="diff-remove">-First {{ amount_due|money(currency) }}</span>' in v2
    assert '<span class="diff-add">+Second {{ amount_due|money(currency) }}</span>' in v2
    v1 = history.split('id="version-1"')[1].split("</li>")[0]
    assert "Changes against the shipped version" in v1


def test_a_template_saved_elsewhere_keeps_its_wording_when_the_page_saves(ws):
    MessageTemplate.objects.create(
        entity=ws.acme, key=KEY, channel=CHANNEL, language=LANGUAGE, subject="From the admin", body_text="Hi"
    )
    assert _save(_client(ws.manager), "From the page").status_code == 302
    assert [(n, s) for n, _, s in _versions()] == [(1, "From the admin"), (2, "From the page")]


def test_revert_creates_a_new_version_and_is_audited(ws):
    client = _client(ws.manager)
    _save(client, "First")
    _save(client, "Second")
    first = MessageTemplateVersion.objects.get(entity=ws.acme, number=1)
    response = client.post(
        reverse("comms:template_revert", args=[KEY, CHANNEL, LANGUAGE, first.pk]), {"entity": "acme"}
    )
    assert response.status_code == 302
    assert _own().subject == "First"
    assert _versions()[-1] == (3, "reverted", "First")
    assert MessageTemplateVersion.objects.get(entity=ws.acme, number=3).reverted_from == 1
    event = AuditEvent.objects.get(action="template_revert")
    assert event.actor_user == ws.manager and event.entity_id == ws.acme.pk
    assert event.after == {"reverted_to_version": 1}


def test_back_to_the_shipped_version_deletes_the_override_keeps_history_and_is_audited(ws):
    client = _client(ws.manager)
    _save(client, "Own")
    shipped = reverse("comms:template_shipped", args=[KEY, CHANNEL, LANGUAGE])
    assert client.post(shipped, {"entity": "acme"}).status_code == 302
    assert _own() is None
    assert [(n, k) for n, k, _ in _versions()] == [(1, "saved"), (2, "shipped")]
    assert AuditEvent.objects.filter(action="template_shipped", entity=ws.acme).count() == 1
    html = client.get(_page()).content.decode()
    assert "sends the shipped version" in html
    assert "Revert to version 1" in html  # the own wording can come back
    version = MessageTemplateVersion.objects.get(entity=ws.acme, number=1)
    client.post(
        reverse("comms:template_revert", args=[KEY, CHANNEL, LANGUAGE, version.pk]), {"entity": "acme"}
    )
    assert _own().subject == "Own"


def test_a_broken_template_shows_the_error_keeps_the_text_and_saves_nothing(ws):
    client = _client(ws.manager)
    typed = "Dear {{ cusomer.name }},\nplease pay."
    response = _save(client, "Fine subject", text=typed)
    assert response.status_code == 400
    html = response.content.decode()
    error = html.split('id="error-body_text"')[1].split("</p>")[0]
    assert "Line 1: unknown variable or attribute" in error and "cusomer" in error
    assert "Dear {{ cusomer.name }},\nplease pay.</textarea>" in html
    assert 'name="subject" value="Fine subject"' in html
    assert _own() is None and _versions() == []
    syntax = _save(client, "Broken {{ amount_due ", text=_shipped().text)
    assert syntax.status_code == 400
    subject_error = syntax.content.decode().split('id="error-subject"')[1].split("</p>")[0]
    assert subject_error.strip().startswith('data-error-for="subject" role="alert">Line 1: unexpected end')
    assert _own() is None


def test_the_live_preview_renders_the_draft_for_the_chosen_customer(ws):
    client = _client(ws.manager)
    shipped = _shipped()
    data = {
        "entity": "acme",
        "subject": "For {{ customer.name }}: {{ amount_due|money(currency) }}",
        "body_text": shipped.text,
        "body_html": shipped.html,
        "customer": ws.second.pk,
    }
    answer = client.post(_preview_url(), data).json()
    assert answer["errors"] == {}
    assert "For Second Buyer SARL: €1,234.56" in answer["html"]
    data["customer"] = ws.late.pk
    assert "For Late Payer GmbH" in client.post(_preview_url(), data).json()["html"]
    data["body_html"] = "{% if %}"
    broken = client.post(_preview_url(), data).json()
    assert list(broken["errors"]) == ["body_html"] and broken["errors"]["body_html"].startswith("Line 1: ")
    data.update(body_html=shipped.html, subject="Hi {{ customer.nam }}")
    assert client.post(_preview_url(), data).json()["errors"] == {
        "subject": "Line 1: unknown variable or attribute: CustomerInfo has no attribute 'nam'."
    }
    data.update(subject="Hi", body_text="{% for i in range(100000) %}{% endfor %}")
    assert client.post(_preview_url(), data).json()["errors"] == {
        "body_text": "Line 1: range() of 100000 items exceeds the limit of 10000."
    }
    assert _own() is None  # a preview saves nothing
    reader = _client(ws.auditor).get(_preview_url(), {"customer": ws.second.pk}).json()
    assert "Second Buyer SARL" in reader["html"] and reader["errors"] == {}


def test_template_diff_is_per_part_and_empty_when_equal():
    before = TemplateSource(subject="A", text="one\ntwo\n", html="")
    after = TemplateSource(subject="A", text="one\nthree\n", html="<p>x</p>")
    lines = [(line.kind, line.text) for line in template_diff(before, after)]
    assert ("part", "text") in lines and ("remove", "-two") in lines and ("add", "+three") in lines
    assert ("part", "HTML") in lines and ("add", "+<p>x</p>") in lines
    assert ("part", "subject") not in lines
    assert template_diff(before, before) == ()
