"""The policy step editor: the form over the YAML, the review (changes in words, YAML diff,
affected customers), saving with a comment, the history and the rollback, and who may do what."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml
from django.urls import reverse

from relance.audit.models import AuditEvent
from relance.dunning.models import Policy, PolicyVersion
from relance.engine.dunning.policy import policy_from_dict, policy_to_dict
from relance.workspace import policy_editing
from relance.workspace.policy_editing import StepRow, policy_changes, rows_apply, step_rows_from_spec


def _standard():
    from relance.engine.dunning.defaults import default_policies

    return default_policies()["standard"]


def _changed(**steps: dict) -> dict:
    """The standard policy's dict with the given steps' fields replaced, by step key."""
    spec = policy_to_dict(_standard())
    for step in spec["steps"]:
        step.update(steps.get(step["key"], {}))
    return spec


def _form(spec: dict, *, op: str, **typed: str) -> dict[str, str]:
    """What the step editor posts for ``spec``'s steps (as the page renders them), with fields
    ``steps-N-<field>`` overridden by ``typed`` (``steps_1_offset_days="10"``)."""
    rows = step_rows_from_spec(spec)
    data = {
        "editor": "steps",
        "op": op,
        "spec": yaml.safe_dump(spec, sort_keys=False),
        "name": spec["name"],
        "description": spec.get("description", ""),
        "steps-count": str(len(rows)),
    }
    for index, row in enumerate(rows):
        for name in policy_editing.STEP_FORM_FIELDS:
            data[f"steps-{index}-{name}"] = getattr(row, name)
    data.update({key.replace("_", "-", 2): value for key, value in typed.items()})
    return data


# --------------------------------------------------------------------------- changes in words


def test_changes_say_step_by_step_what_moves():
    new = policy_from_dict(
        _changed(
            reminder_2={"offset_days": 10, "channels": ["email", "sms"]},
            final_notice={
                "tone": "urgent",
                "conditions": [{"field": "amount_due", "op": "ge", "value": 500}],
            },
        )
    )
    assert policy_changes(_standard(), new) == [
        "Step 3 (reminder_2): day 15 → day 10; channel e-mail + letter → e-mail + SMS",
        "Step 7 (final_notice): tone final → urgent; conditions none → amount due ≥ 500",
    ]


def test_changes_name_added_removed_moved_steps_and_cadence():
    spec = policy_to_dict(_standard())
    spec["name"] = "Standard, firmer"
    spec["cadence"]["max_contacts"] = 3
    removed = spec["steps"].pop(5)  # notify_owner
    spec["steps"][3], spec["steps"][4] = spec["steps"][4], spec["steps"][3]  # reminder_4 before reminder_3
    spec["steps"][3]["offset_days"], spec["steps"][4]["offset_days"] = 30, 45
    spec["steps"].append(
        {"key": "legal", "offset_days": 90, "action": "external_collection", "template": "legal"}
    )
    lines = policy_changes(_standard(), policy_from_dict(spec))
    assert lines == [
        "Name: Standard → Standard, firmer",
        "Cadence: max contacts 4 → 3",
        "Step 4 (reminder_4): moved from step 5; day 45 → day 30",
        "Step 5 (reminder_3): moved from step 4; day 30 → day 45",
        "Step 8 (legal) added: day 90, external collection (template legal, neutral)",
        f"Step 6 ({removed['key']}) removed (was day 55, notify owner (template owner_before_final_notice, neutral))",
    ]


def test_yaml_diff_marks_added_and_removed_lines():
    lines = policy_editing.yaml_diff("a: 1\nb: 2\n", "a: 1\nb: 3\n", old_label="version 1", new_label="draft")
    assert [(line.kind, line.text) for line in lines if line.kind in ("add", "remove", "file")] == [
        ("file", "--- version 1"),
        ("file", "+++ draft"),
        ("remove", "-b: 2"),
        ("add", "+b: 3"),
    ]


# --------------------------------------------------------------------------- the form over the YAML


def test_form_rows_write_back_the_same_policy():
    spec = _changed(reminder_2={"conditions": [{"field": "risk", "op": "in", "value": ["high", "medium"]}]})
    rows = step_rows_from_spec(spec)
    assert rows[2].conditions == "risk in high, medium" and rows[2].channels == "email, letter"
    again = policy_editing.spec_with_rows(spec, name=spec["name"], description=spec["description"], rows=rows)
    assert policy_from_dict(again) == policy_from_dict(spec)


def test_rows_add_remove_and_move():
    rows = [StepRow(key="a", offset_days="1"), StepRow(key="b", offset_days="5")]
    added = rows_apply("add", rows)
    assert [(r.key, r.offset_days, r.channels) for r in added] == [
        ("a", "1", ""),
        ("b", "5", ""),
        ("step_3", "12", "email"),
    ]
    assert [r.key for r in rows_apply("up-1", rows)] == ["b", "a"]
    assert [r.key for r in rows_apply("down-0", rows)] == ["b", "a"]
    assert [r.key for r in rows_apply("remove-0", rows)] == ["b"]
    assert [r.key for r in rows_apply("remove-9", rows)] == ["a", "b"]


def test_editor_shows_each_step_in_the_form_and_the_yaml(ws, client_for):
    response = client_for(ws.manager).get(reverse("workspace:policy_edit", args=[ws.policy.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="policy-step') == len(ws.policy.spec["steps"])
    assert 'name="steps-2-offset_days" value="15"' in html
    assert 'name="steps-2-channels" value="email, letter"' in html
    assert 'aria-label="policy YAML"' in html


def test_add_and_remove_steps_in_the_form_save_nothing(ws, client_for):
    url = reverse("workspace:policy_edit", args=[ws.policy.pk])
    manager = client_for(ws.manager)
    html = manager.post(url, _form(ws.policy.spec, op="add")).content.decode()
    count = len(ws.policy.spec["steps"])
    assert html.count('class="policy-step') == count + 1
    assert f'name="steps-{count}-key" value="step_{count + 1}"' in html
    html = manager.post(url, _form(ws.policy.spec, op="remove-0")).content.decode()
    assert html.count('class="policy-step') == count - 1 and 'value="pre_due"' not in html
    assert Policy.objects.get(pk=ws.policy.pk).version == 1


def test_invalid_input_is_kept_with_a_sentence_next_to_the_field(ws, client_for):
    response = client_for(ws.manager).post(
        reverse("workspace:policy_edit", args=[ws.policy.pk]),
        _form(
            ws.policy.spec,
            op="review",
            steps_2_offset_days="soon",
            steps_3_channels="email, fax",
            steps_4_conditions="amount_due",
        ),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'name="steps-2-offset_days" value="soon"' in html and 'aria-invalid="true"' in html
    step_2 = html.split('id="step-2"')[1].split("</fieldset>")[0]
    assert re.search(
        r'id="steps-2-offset_days-error"[^>]*>The day \(from the due date\) must be an integer; it is &#x27;soon&#x27;\.',
        step_2,
    )
    step_3 = html.split('id="step-3"')[1].split("</fieldset>")[0]
    assert 'value="email, fax"' in step_3
    assert (
        "Channel 2 must be one of email, sms, letter, registered_letter, call; it is &#x27;fax&#x27;."
        in step_3
    )
    step_4 = html.split('id="step-4"')[1].split("</fieldset>")[0]
    assert (
        "Condition 1 needs a field, an operator and a value" in step_4 and ">amount_due</textarea>" in step_4
    )
    assert 'id="confirm-form"' not in html
    assert Policy.objects.get(pk=ws.policy.pk).version == 1


def test_nothing_changed_is_not_reviewed(ws, client_for):
    response = client_for(ws.manager).post(
        reverse("workspace:policy_edit", args=[ws.policy.pk]), _form(ws.policy.spec, op="review")
    )
    assert response.status_code == 400
    assert "The draft is the same as version 1: there is nothing to save." in response.content.decode()


# --------------------------------------------------------------------------- review, save, history


def test_review_shows_the_changes_and_saves_only_when_confirmed(ws, client_for):
    url = reverse("workspace:policy_edit", args=[ws.policy.pk])
    manager = client_for(ws.manager)
    review = manager.post(
        url, _form(ws.policy.spec, op="review", steps_2_offset_days="10", steps_2_channels="email, sms")
    )
    html = review.content.decode()
    assert review.status_code == 200
    changes = html.split('id="changes"')[1].split("</ul>")[0]
    assert "Step 3 (reminder_2): day 15 → day 10; channel e-mail + letter → e-mail + SMS" in changes
    diff = html.split('class="policy-diff"')[1].split("</pre>")[0]
    assert '<span class="d-remove">-  offset_days: 15</span>' in diff
    assert '<span class="d-add">+  offset_days: 10</span>' in diff
    assert Policy.objects.get(pk=ws.policy.pk).version == 1
    draft = re.search(
        r'<input type="hidden" name="spec" value="([^"]*)">', html.split('id="confirm-form"')[1]
    )
    import html as html_lib

    text = html_lib.unescape(draft.group(1))
    saved = manager.post(
        url, {"spec": text, "editor": "yaml", "op": "save", "base_version": "1", "comment": "Q4 push"}
    )
    assert saved.status_code == 302 and saved["Location"] == reverse(
        "workspace:policy_history", args=[ws.policy.pk]
    )
    ws.policy.refresh_from_db()
    assert ws.policy.version == 2 and ws.policy.spec["steps"][2]["channels"] == ["email", "sms"]
    version = PolicyVersion.objects.get(policy=ws.policy, version=2)
    assert (version.created_by, version.comment, version.restores) == (ws.manager, "Q4 push", None)


def test_a_save_over_a_newer_version_is_refused(ws, client_for):
    from relance.dunning.services import policy_import

    spec = _changed(reminder_2={"offset_days": 12})
    policy_import(entity=ws.acme, spec=_changed(reminder_1={"offset_days": 2}))  # someone else, meanwhile
    response = client_for(ws.manager).post(
        reverse("workspace:policy_edit", args=[ws.policy.pk]),
        {"spec": yaml.safe_dump(spec), "editor": "yaml", "op": "save", "base_version": "1"},
    )
    assert response.status_code == 409
    assert "changed since you started: version 2 is now the current one, not 1" in response.content.decode()
    ws.policy.refresh_from_db()
    assert ws.policy.version == 2 and ws.policy.spec["steps"][2]["offset_days"] == 15


def test_history_lists_versions_with_author_comment_and_changes(ws, client_for):
    from relance.dunning.services import policy_import

    policy_import(
        entity=ws.acme, spec=_changed(reminder_2={"offset_days": 10}), author=ws.manager, comment="faster"
    )
    html = (
        client_for(ws.auditor).get(reverse("workspace:policy_history", args=[ws.policy.pk])).content.decode()
    )
    newest = html.split('id="version-2"')[1].split("</li>\n")[0]
    assert "cm@acme.test" in newest and "“faster”" in newest and "current" in newest
    assert "Step 3 (reminder_2): day 15 → day 10" in newest
    oldest = html.split('id="version-1"')[1]
    assert "import or command line" in oldest and "The first version kept." in oldest
    assert "Roll back to version 1" not in html  # an auditor reads, does not roll back
    html = (
        client_for(ws.manager).get(reverse("workspace:policy_history", args=[ws.policy.pk])).content.decode()
    )
    assert "Roll back to version 1" in html and "Roll back to version 2" not in html


def test_rollback_reviews_then_stores_the_old_spec_as_a_new_version_and_audits(ws, client_for):
    from relance.dunning.services import policy_import

    first = dict(ws.policy.spec)
    policy_import(entity=ws.acme, spec=_changed(reminder_2={"offset_days": 10}), author=ws.manager)
    url = reverse("workspace:policy_rollback", args=[ws.policy.pk])
    manager = client_for(ws.manager)
    review = manager.post(url, {"version": "1", "base_version": "2"})
    assert review.status_code == 200
    assert "Step 3 (reminder_2): day 10 → day 15" in review.content.decode()
    assert Policy.objects.get(pk=ws.policy.pk).version == 2
    done = manager.post(url, {"version": "1", "base_version": "2", "op": "save", "comment": "too early"})
    assert done.status_code == 302
    ws.policy.refresh_from_db()
    assert ws.policy.version == 3 and ws.policy.spec == first
    version = PolicyVersion.objects.get(policy=ws.policy, version=3)
    assert (version.restores, version.created_by, version.comment) == (1, ws.manager, "too early")
    event = AuditEvent.objects.get(action="policy_rollback")
    assert (event.actor_user, event.before, event.after["version"], event.after["restores"]) == (
        ws.manager,
        {"version": 2},
        3,
        1,
    )


def test_rollback_to_the_current_or_an_unknown_version(ws, client_for):
    url = reverse("workspace:policy_rollback", args=[ws.policy.pk])
    manager = client_for(ws.manager)
    assert manager.post(url, {"version": "7", "op": "save"}).status_code == 404
    same = manager.post(url, {"version": "1", "op": "save"}, follow=True)
    assert "there is nothing to save" in same.content.decode()
    assert Policy.objects.get(pk=ws.policy.pk).version == 1


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("workspace:policy_edit", "get"),
        ("workspace:policy_edit", "post"),
        ("workspace:policy_history", "get"),
        ("workspace:policy_rollback", "post"),
    ],
)
def test_another_entitys_policy_is_not_found(ws, client_for, name, method):
    client = client_for(ws.globex_manager)
    url = reverse(name, args=[ws.policy.pk])
    response = client.get(url) if method == "get" else client.post(url, {"version": "1", "op": "save"})
    assert response.status_code == 404


@pytest.mark.parametrize("user", ["ana", "auditor"])
def test_roles_without_the_permission_cannot_edit_or_roll_back(ws, client_for, user):
    client = client_for(getattr(ws, user))
    assert client.get(reverse("workspace:policy_edit", args=[ws.policy.pk])).status_code == 403
    rollback = client.post(
        reverse("workspace:policy_rollback", args=[ws.policy.pk]), {"version": "1", "op": "save"}
    )
    assert rollback.status_code == 403
    assert client.get(reverse("workspace:policy_history", args=[ws.policy.pk])).status_code == 200


# --------------------------------------------------------------------------- affected customers


def _simulated(ws, spec):
    from relance.dunning.selectors import policy_map
    from relance.workspace.simulation import simulate

    tomorrow = ws.today + timedelta(days=1)
    current = policy_map(entity=ws.acme)["standard"]
    draft = policy_from_dict(spec)
    return (
        (current, simulate(entity=ws.acme, as_of=tomorrow, policy=current, samples=0)),
        (draft, simulate(entity=ws.acme, as_of=tomorrow, policy=draft, samples=0)),
    )


def test_affected_customers_earlier_and_later_by_the_steps_they_reached(ws_engine):
    """Today's run contacted everyone (the cadence holds tomorrow's run back), so the next contact
    is the step after the one each invoice reached: reminder_3 for Other and Second, reminder_4
    (L1) for Late. Moving reminder_3 to day 27 and reminder_4 to day 50 moves them."""
    from relance.accounts.selectors import customers_visible
    from relance.workspace.policy_impact import EARLIER, LATER, affected_customers

    ws = ws_engine
    spec = policy_to_dict(_standard())
    spec["steps"][3]["offset_days"], spec["steps"][4]["offset_days"] = 27, 50
    current, draft = _simulated(ws, spec)
    assert current[1].contacts == {} == draft[1].contacts
    from relance.ledger.models import Invoice

    due = dict(Invoice.objects.filter(entity=ws.acme).values_list("external_ref", "due_date"))
    affected = affected_customers(
        customers=customers_visible(ws.manager, entity=ws.acme),
        policy=ws.policy,
        current=current,
        draft=draft,
    )
    assert [(a.name, a.kind, a.days, a.before.on, a.after.on, a.after.step_key) for a in affected] == [
        (
            "Other Account SA",
            EARLIER,
            3,
            due["INV-O1"] + timedelta(30),
            due["INV-O1"] + timedelta(27),
            "reminder_3",
        ),
        (
            "Second Buyer SARL",
            EARLIER,
            3,
            due["INV-S1"] + timedelta(30),
            due["INV-S1"] + timedelta(27),
            "reminder_3",
        ),
        (
            "Late Payer GmbH",
            LATER,
            5,
            due["INV-L1"] + timedelta(45),
            due["INV-L1"] + timedelta(50),
            "reminder_4",
        ),
    ]
    assert affected[2].change.startswith("Chased 5 days later: reminder_4 (message by e-mail + letter) on ")
    only_late = affected_customers(
        customers=customers_visible(ws.manager, entity=ws.acme).filter(pk=ws.late.pk),
        policy=ws.policy,
        current=current,
        draft=draft,
    )
    assert [a.name for a in only_late] == ["Late Payer GmbH"]  # what the user may see, nothing more


def test_affected_customers_no_longer_chased_when_their_steps_are_removed(ws_engine):
    from relance.accounts.selectors import customers_visible
    from relance.workspace.policy_impact import LATER, NOT_CHASED, affected_customers

    ws = ws_engine
    spec = policy_to_dict(_standard())
    spec["steps"] = spec["steps"][:3]  # pre_due, reminder_1, reminder_2
    current, draft = _simulated(ws, spec)
    affected = affected_customers(
        customers=customers_visible(ws.manager, entity=ws.acme),
        policy=ws.policy,
        current=current,
        draft=draft,
    )
    assert [(a.name, a.kind, a.after.step_key if a.after else None) for a in affected] == [
        ("Other Account SA", NOT_CHASED, None),
        ("Second Buyer SARL", NOT_CHASED, None),
        ("Late Payer GmbH", LATER, "reminder_2"),  # INV-L2 still has reminder_2 ahead
    ]
    assert affected[0].change.startswith("Would no longer be chased (was reminder_3 ")


def test_preview_lists_affected_customers_with_links_to_their_page(ws_engine, client_for):
    ws = ws_engine
    response = client_for(ws.manager).post(
        reverse("workspace:policy_edit", args=[ws.policy.pk]),
        _form(ws.policy.spec, op="preview", steps_3_offset_days="27"),
    )
    html = response.content.decode()
    assert response.status_code == 200
    table = html.split('id="affected-list"')[1].split("</table>")[0]
    assert reverse("workspace:customer", args=[ws.other.pk]) in table
    assert reverse("workspace:customer", args=[ws.second.pk]) in table
    assert reverse("workspace:customer", args=[ws.late.pk]) not in table  # its next step is reminder_4
    assert "Chased 3 days earlier" in table
