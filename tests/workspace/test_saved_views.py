"""Saved views of the worklist: a user's named filters and sort, as links above the filters."""

from __future__ import annotations

import html as htmllib
import re

from django.urls import reverse

from relance.workspace.models import SavedView
from tests.workspace.test_worklist import _many

WORKLIST = reverse("workspace:worklist")
SAVE = reverse("workspace:worklist_view_save")


def _refs(html: str) -> set[str]:
    return set(re.findall(r"<small>(C-[A-Z0-9]+)</small>", html))


def _views_nav(html: str) -> str:
    return html.split('<nav class="ws-views"', 1)[1].split("</nav>", 1)[0] if "ws-views" in html else ""


def _view_links(html: str) -> dict[str, str]:
    """Saved view name → its link (unescaped), as the page shows them."""
    nav = _views_nav(html)
    return {
        htmllib.unescape(name): htmllib.unescape(href)
        for href, name in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    }


def test_save_stores_the_filters_and_sort_and_redirects_to_them(ws, client_for):
    manager = client_for(ws.manager)
    response = manager.post(
        f"{SAVE}?min_days=38&currency=eur&sort=-customer&page=2", {"name": "  Long late  "}
    )
    assert response.status_code == 302
    view = SavedView.objects.get(user=ws.manager)
    assert (view.name, view.entity, view.page) == ("Long late", ws.acme, "worklist")
    assert view.params == {"currency": "EUR", "min_days": "38", "sort": "-customer"}  # no page
    assert response["Location"] == f"{WORKLIST}?currency=EUR&min_days=38&sort=-customer"
    assert "View “Long late” saved." in manager.get(response["Location"]).content.decode()


def test_saved_views_are_listed_for_their_owner_and_entity_only(ws, client_for):
    manager = client_for(ws.manager)
    manager.post(f"{SAVE}?min_days=30", {"name": "Over 30 days"})
    manager.post(f"{SAVE}?sort=customer", {"name": "A to Z"})
    html = manager.get(WORKLIST).content.decode()
    assert list(_view_links(html)) == ["A to Z", "Over 30 days"]  # by name
    # another user of the same entity sees none of them; nor does the manager on another entity
    assert "ws-views" not in client_for(ws.bob).get(WORKLIST).content.decode()
    SavedView.objects.filter(user=ws.manager).update(entity=ws.globex)
    assert "ws-views" not in manager.get(WORKLIST).content.decode()


def test_the_link_reproduces_the_filtered_list_and_is_marked_current(ws, client_for):
    _many(ws, 40)
    manager = client_for(ws.manager)
    query = {"min_days": "38", "collector": str(ws.ana.pk), "sort": "-customer"}
    manager.post(f"{SAVE}?{'&'.join(f'{k}={v}' for k, v in query.items())}", {"name": "Ana, 38+"})
    manager.post(f"{SAVE}?currency=USD", {"name": "Dollars"})

    link = _view_links(manager.get(WORKLIST).content.decode())["Ana, 38+"]
    applied = manager.get(link).content.decode()
    assert _refs(applied) == _refs(manager.get(WORKLIST, query).content.decode()) == {"C-LATE"}
    current = re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', _views_nav(applied))
    assert current == ["Ana, 38+"]  # the other view is a plain link

    dollars = manager.get(_view_links(applied)["Dollars"]).content.decode()
    assert _refs(dollars) == {"C-M000", "C-M010", "C-M020", "C-M030"}
    assert re.findall(r'aria-current="page">([^<]+)</a>', _views_nav(dollars)) == ["Dollars"]


def test_delete_removes_the_view(ws, client_for):
    manager = client_for(ws.manager)
    manager.post(f"{SAVE}?min_days=30", {"name": "Over 30 days"})
    view = SavedView.objects.get(user=ws.manager)
    assert manager.get(reverse("workspace:worklist_view_delete", args=[view.pk])).status_code == 405
    response = manager.post(reverse("workspace:worklist_view_delete", args=[view.pk]))
    assert response.status_code == 302 and response["Location"] == WORKLIST
    assert not SavedView.objects.filter(pk=view.pk).exists()
    html = manager.get(WORKLIST).content.decode()
    assert "View “Over 30 days” deleted." in html and "ws-views" not in html


def test_another_users_view_is_a_404_and_stays(ws, client_for):
    client_for(ws.ana).post(f"{SAVE}?min_days=30", {"name": "Mine"})
    view = SavedView.objects.get(user=ws.ana)
    for user in (ws.bob, ws.manager):
        response = client_for(user).post(reverse("workspace:worklist_view_delete", args=[view.pk]))
        assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_taken_or_empty_name_is_refused_in_a_sentence_keeping_what_was_typed(ws, client_for):
    manager = client_for(ws.manager)
    manager.post(f"{SAVE}?min_days=30", {"name": "Late ones"})
    response = manager.post(f"{SAVE}?currency=EUR&min_days=40", {"name": "late ONES"})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "You already have a view called &#x27;late ONES&#x27;: choose another name or delete that one."
        in html
    )
    assert 'name="name" maxlength="80" required value="late ONES" aria-invalid="true"' in html
    assert f'action="{SAVE}?currency=EUR&amp;min_days=40"' in html  # the filters are kept too
    assert SavedView.objects.filter(user=ws.manager).count() == 1

    empty = manager.post(f"{SAVE}?min_days=30", {"name": "   "})
    assert empty.status_code == 400 and "Give the view a name." in empty.content.decode()
    # the same name is free for another user
    assert client_for(ws.bob).post(f"{SAVE}?min_days=30", {"name": "Late ones"}).status_code == 302


def test_unknown_and_invalid_parameters_are_dropped(ws, client_for):
    manager = client_for(ws.manager)
    manager.post(
        f"{SAVE}?min_days=38&evil=<script>&entity=globex&page=3&next=//x.test"
        "&currency=EURO&min_overdue=-5&collector=abc&sort=password&segment=retail",
        {"name": "Cleaned"},
    )
    view = SavedView.objects.get(user=ws.manager)
    assert view.params == {"segment": "retail", "min_days": "38"}
    assert _view_links(manager.get(WORKLIST).content.decode())["Cleaned"] == (
        f"{WORKLIST}?segment=retail&min_days=38"
    )


def test_at_most_twenty_views_per_user(ws, client_for):
    manager = client_for(ws.manager)
    for n in range(20):
        assert manager.post(f"{SAVE}?min_days={n}", {"name": f"View {n}"}).status_code == 302
    response = manager.post(f"{SAVE}?min_days=99", {"name": "One more"})
    assert response.status_code == 400
    assert "You have 20 saved views already: delete one first." in response.content.decode()
    assert SavedView.objects.filter(user=ws.manager).count() == 20


def test_read_only_roles_save_no_views(ws, client_for):
    """An auditor's POST is refused, with no exception for preferences; the page offers no form."""
    auditor = client_for(ws.auditor)
    assert auditor.post(f"{SAVE}?min_days=30", {"name": "Audit sample"}).status_code == 403
    assert not SavedView.objects.filter(user=ws.auditor).exists()
    page = auditor.get(WORKLIST).content.decode()
    assert 'id="save-view"' not in page
