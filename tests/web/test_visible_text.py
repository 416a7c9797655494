"""What people read on every page is words and formatted figures, never codes or Python.

Every back-office route (from the URL conf, as the permission matrix walks it) is rendered as a
credit manager over a ledger with a real dunning run, promises, disputes, holds, notes and
messages; every portal page as the customer of a link. The text a person sees (not attributes,
input values, URLs, e-mail addresses or code blocks) must hold no 4-decimal amount, no Python
repr (``['``, ``{'``, ``Decimal(``, ``None``, ``datetime.``) and no snake_case code: codes are
shown through ``relance.core.formatting.code_label`` (the ``label`` template filter).
"""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from relance.core.actors import SYSTEM, Actor
from tests.security.test_permission_matrix import QUERIES, _objects, _path, _routes
from tests.workspace.conftest import build_workspace

# Elements whose content is not prose: code, scripts, styles, and what the user typed.
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "textarea", "kbd", "samp", "svg"}
VOID_ELEMENTS = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "col", "area", "base"}
# Words that look like code but are data: URLs and e-mail addresses in the text.
NOT_PROSE = re.compile(r"\S*(?:@|://|/)\S*")
PROBLEMS = {
    "a 4-decimal amount": re.compile(r"\b\d+\.\d{4}\b"),
    "a Python list or dict": re.compile(r"\[\s*'|\{\s*'"),
    "a Decimal repr": re.compile(r"Decimal\("),
    "None": re.compile(r"\bNone\b"),
    "a datetime repr": re.compile(r"datetime\."),
    "a snake_case code": re.compile(r"\b[a-z]+_[a-z_]+\b"),
}
# Routes whose text is not judged (none: every page goes through the ``label`` filter). Add a
# route-name prefix here only with a reason.
OWNED_ELSEWHERE: tuple[str, ...] = ()


class _VisibleText(HTMLParser):
    """The text nodes a browser shows, element by element (attributes are never read)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping: list[str] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_ELEMENTS:
            self.skipping.append(tag)
        elif tag not in VOID_ELEMENTS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return NOT_PROSE.sub(" ", " ".join("".join(parser.chunks).split()))


def problems_in(text: str) -> list[str]:
    found = []
    for what, pattern in PROBLEMS.items():
        for match in pattern.finditer(text):
            start = max(match.start() - 40, 0)
            found.append(f"{what}: …{text[start : match.end() + 40]}…")
    return found


def test_the_scanner_sees_what_people_see():
    """The scanner itself: text counts, attributes, typed values, URLs and code do not."""
    html = (
        '<p title="at_risk">Segment <a href="/w/x_y/">At risk</a> <input value="white_glove">'
        "<code>final_notice</code> <textarea>notify_owner</textarea> ana_b@acme.test</p>"
    )
    assert problems_in(visible_text(html)) == []
    assert problems_in(visible_text("<td>at_risk</td>")) == ["a snake_case code: …at_risk…"]
    assert problems_in(visible_text("<td>12.5000</td><td>None</td>"))[0].startswith("a 4-decimal")
    assert len(problems_in(visible_text("<li>['a']</li><li>Decimal('1')</li>"))) == 2


def _seed(ws: Any) -> None:
    """Collection work of every kind on the customers, so the pages have rows to show."""
    from django.utils import timezone

    from relance.cases.models import CustomerHold
    from relance.cases.services import contact_log, dispute_open
    from relance.delivery.models import CallTask
    from relance.portal.models import PortalEvent
    from relance.workspace.services import customer_note_add

    manager, late = ws.manager, ws.late
    late.segment = "at_risk"
    late.save(update_fields=["segment"])
    contact_log(
        actor=Actor.user(manager),
        customer=late,
        on=ws.today,
        channel="call",
        note="reached · said next week",
    )
    customer_note_add(actor=Actor.user(manager), customer=late, text="Asked for a copy of INV-L1.")
    invoice = late.invoices.get(external_ref="INV-L2")
    dispute_open(
        actor=SYSTEM,
        invoice=invoice,
        reason_code="not_received",
        on=ws.today,
        amount=Decimal("50.00"),
    )
    CallTask.objects.create(
        entity=ws.acme,
        customer=late,
        due_on=ws.today,
        status="done",
        outcome="no_answer",
        completed_at=timezone.now(),
    )
    CustomerHold.objects.create(
        entity=ws.acme, customer=ws.second, kind="do_not_contact", reason="asked", starts_on=ws.today
    )
    PortalEvent.objects.create(
        customer=late,
        at=timezone.now(),
        action="promise_refused",
        detail={"reason": "Choose a date within 30 days."},
    )
    from tests.workspace.cash_scene import build_cash_lines

    build_cash_lines(ws)  # the exception queue: suggested, unmatched and applied lines


def _html_pages(client: Client, paths: list[tuple[str, str]]) -> dict[str, str]:
    pages = {}
    for name, path in paths:
        response = client.get(path)
        assert response.status_code < 500, f"{name} {path}: {response.status_code}"
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
            pages[f"{name} {path}"] = response.content.decode()
    return pages


def _back_office_paths(samples: dict[str, Any]) -> list[tuple[str, str]]:
    paths = []
    for route, name in sorted(set(_routes())):
        if route.startswith("api/") or route.startswith("portal/t/"):
            continue
        path = _path(route, samples["owned"])
        if path is None:
            continue
        if name in QUERIES:
            path += "?" + QUERIES[name].format(**samples["owned"])
        paths.append((name, path))
    # Pages whose other states show other text: the cash queue's applied lines.
    paths.append(("workspace:cash_queue applied", "/w/cash/?status=applied"))
    return paths


def _portal_paths(ws: Any, samples: dict[str, Any]) -> list[tuple[str, str]]:
    from django.urls import reverse

    from relance.portal.links import link_create, token_for

    link = link_create(customer=ws.late, contact=ws.late.contacts.first(), days=30)
    token = token_for(link)
    invoice = ws.late.invoices.order_by("id").first()
    dispute_id = samples["owned"]["dispute_id"]
    args: dict[str, list[Any]] = {
        "invoice": [invoice.pk],
        "dispute": [invoice.pk],
        "case": [dispute_id],
    }
    names = ["overview", "items", "messages", "preferences", "promise", "cases", "plan", "pay"]
    return [
        (f"portal:{name}", reverse(f"portal:{name}", args=[token, *args.get(name, [])]))
        for name in [*names, "invoice", "dispute", "case"]
    ]


def _admin() -> Any:
    from relance.accounts.services import user_create

    return user_create(email="root@acme.test", role="admin", entity_names=[], password="x" * 20)


@pytest.mark.django_db
def test_no_page_shows_codes_or_python(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    ws = build_workspace(run=True)
    samples = _objects(ws)
    _seed(ws)
    pages: dict[str, str] = {}
    for user in (ws.manager, _admin()):
        client = Client(raise_request_exception=True)
        client.force_login(user)
        pages.update(_html_pages(client, _back_office_paths(samples)))
    assert any("workspace:customer " in key for key in pages), "the 360 was not rendered"
    pages.update(_html_pages(Client(raise_request_exception=True), _portal_paths(ws, samples)))
    assert any(key.startswith("portal:overview") for key in pages)

    found = {
        key: problems
        for key, html in pages.items()
        if not key.startswith(OWNED_ELSEWHERE) and (problems := problems_in(visible_text(html)))
    }
    report = "\n".join(f"{key}:\n  " + "\n  ".join(problems) for key, problems in found.items())
    assert not found, f"pages show codes or Python to people:\n{report}"
