"""Policy editor and "what would tomorrow's run do": validation by line, preview without saving."""

from __future__ import annotations

from datetime import timedelta

import yaml
from django.urls import reverse

from relance.dunning.models import DunningRun, Policy, PolicyVersion
from relance.workspace.simulation import policy_parse, policy_problems


def _spec_text(ws) -> str:
    from relance.dunning.selectors import policy_export_yaml

    return policy_export_yaml(policy=ws.policy)


def test_simulation_counts_what_a_dry_run_decides_and_writes_nothing(ws):
    from collections import Counter

    from relance.dunning.selectors import policy_map
    from relance.dunning.services import run_start
    from relance.workspace.simulation import simulate

    tomorrow = ws.today + timedelta(days=1)
    runs = DunningRun.objects.count()
    result = simulate(entity=ws.acme, as_of=tomorrow, policy=policy_map(entity=ws.acme)["standard"])
    assert DunningRun.objects.count() == runs
    DunningRun.objects.filter(entity=ws.acme).delete()  # the recorded run of today would hide contacts
    result = simulate(entity=ws.acme, as_of=tomorrow, policy=policy_map(entity=ws.acme)["standard"])
    dry = run_start(entity=ws.acme, as_of=tomorrow, dry_run=True)
    expected = Counter(
        (d["step"], d["action"], d["channel"] or "—") for d in dry.decisions if d["policy"] == "standard"
    )
    assert {(s, a, c): n for s, a, c, n in result.by_step_channel} == dict(expected)
    assert result.decisions == sum(expected.values()) > 0
    assert result.samples and all(not sample["error"] for sample in result.samples)
    assert result.samples[0]["text"].strip()


def test_edited_policy_is_simulated_not_saved(ws, client_for):
    manager = client_for(ws.manager)
    DunningRun.objects.filter(entity=ws.acme).delete()
    spec = yaml.safe_load(_spec_text(ws))
    for step in spec["steps"]:
        if step.get("channels"):
            step["channels"] = ["sms"]
    response = manager.post(
        reverse("workspace:policy_edit", args=[ws.policy.pk]),
        {"spec": yaml.safe_dump(spec, sort_keys=False), "editor": "yaml", "op": "preview"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    table = html.split('id="simulation"')[1].split("</table>")[0]
    assert "<td>sms</td>" in table and "<td>email</td>" not in table
    ws.policy.refresh_from_db()
    assert ws.policy.version == 1 and "sms" not in str([s.get("channels") for s in ws.policy.spec["steps"]])


def test_invalid_edit_shows_problems_by_line_and_field(ws, client_for):
    text = _spec_text(ws)
    lines = text.splitlines()
    offset_line = next(i for i, line in enumerate(lines) if "offset_days" in line) + 1
    broken = "\n".join(
        line.replace(line.split(":")[1], " soon") if i + 1 == offset_line else line
        for i, line in enumerate(lines)
    )
    response = client_for(ws.manager).post(
        reverse("workspace:policy_edit", args=[ws.policy.pk]), {"spec": broken, "save": "1"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f"line {offset_line}: <code>steps[0].offset_days</code>: expected" in html
    assert Policy.objects.get(pk=ws.policy.pk).version == 1


def test_valid_edit_is_saved_as_a_new_version(ws, client_for):
    spec = yaml.safe_load(_spec_text(ws))
    spec["name"] = "Standard, firmer"
    spec["steps"][-1]["offset_days"] = spec["steps"][-1]["offset_days"] + 5
    manager = client_for(ws.manager)
    url = reverse("workspace:policy_edit", args=[ws.policy.pk])
    text = yaml.safe_dump(spec, sort_keys=False)
    review = manager.post(url, {"spec": text, "editor": "yaml", "op": "review"})
    assert review.status_code == 200 and 'id="confirm-form"' in review.content.decode()
    ws.policy.refresh_from_db()
    assert ws.policy.version == 1  # reviewing saves nothing
    response = manager.post(url, {"spec": text, "editor": "yaml", "op": "save", "base_version": "1"})
    assert response.status_code == 302
    ws.policy.refresh_from_db()
    assert ws.policy.version == 2 and ws.policy.name == "Standard, firmer"
    assert PolicyVersion.objects.filter(policy=ws.policy).count() == 2


def test_key_cannot_change_and_yaml_errors_have_lines():
    _, _, problems = policy_parse(text="key: other\nname: x\nsteps: []\n", key="standard")
    assert (problems[0].line, problems[0].field) == (1, "key")
    _, _, problems = policy_parse(text="key: standard\nsteps: [\n", key="standard")
    assert problems[0].line >= 2 and "not valid YAML" in problems[0].message


def test_problems_are_located_on_nested_paths():
    text = "key: k\nname: n\nsteps:\n  - key: a\n    offset_days: x\n    action: message\n  - key: a\n    offset_days: 3\n"
    problems = policy_problems(
        text=text,
        message="policy k: steps[0].offset_days: expected an integer, found 'x'; steps[1].key: expected a key not used by another step, found 'a'",
    )
    assert [(p.line, p.field) for p in problems] == [(5, "steps[0].offset_days"), (7, "steps[1].key")]


def test_policy_list_links_to_simulation_and_edit_for_managers_only(ws, client_for):
    html = client_for(ws.manager).get(reverse("workspace:policies")).content.decode()
    assert reverse("workspace:policy_simulate", args=[ws.policy.pk]) in html
    assert reverse("workspace:policy_edit", args=[ws.policy.pk]) in html and "(default)" in html
    html = client_for(ws.ana).get(reverse("workspace:policies")).content.decode()
    assert reverse("workspace:policy_simulate", args=[ws.policy.pk]) in html
    assert reverse("workspace:policy_edit", args=[ws.policy.pk]) not in html
    html = client_for(ws.globex_manager).get(reverse("workspace:policies")).content.decode()
    assert reverse("workspace:policy_simulate", args=[ws.policy.pk]) not in html
