"""Policy versions, business days and time zones, credit holds and hand-offs, custom fields,
segments re-applied by the run, summarised suppressions — through the commands and services."""

from __future__ import annotations

import yaml

from relance.cases import selectors as case_selectors
from relance.cases import services as case_services
from relance.cases.models import CreditHold, ExternalCollection
from relance.core.actors import SYSTEM
from relance.dunning import selectors, services
from relance.dunning.models import (
    DunningAction,
    DunningRun,
    InvoiceStep,
    Policy,
    PolicyVersion,
    SegmentChange,
    Suppression,
)
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import policy_to_dict
from tests.dunning.conftest import D, command, command_json, walk


def _import(tmp_path, spec, name="policy.yaml") -> None:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    command("policy", "import", str(path))


def test_editing_a_policy_mid_way_makes_a_version_and_keeps_invoices_at_their_step_key(scenario, tmp_path):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    walk(scenario, [("2026-04-01", [("C1", "message", "reminder_1", "email", "F1", "1000")])])
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"] = [step for step in spec["steps"] if step["key"] != "pre_due"]  # indexes shift by one
    _import(tmp_path, spec)
    _import(tmp_path, spec)  # the same spec again: no new version
    policy = Policy.objects.get(key="standard")
    assert policy.version == 2
    assert list(policy.versions.values_list("version", flat=True)) == [1, 2]
    walk(scenario, [("2026-04-16", [("C1", "message", "reminder_2", "email", "F1", "1000")])])
    recorded = list(
        InvoiceStep.objects.order_by("reached_on").values_list("step_key", "step_index", "policy_version")
    )
    assert recorded == [("reminder_1", 1, 1), ("reminder_2", 1, 2)]
    assert list(DunningAction.objects.order_by("on").values_list("policy_version", flat=True)) == [1, 2]
    # A recorded step_index refers to the steps of its own version.
    for key, index, version in recorded:
        spec_then = PolicyVersion.objects.get(policy=policy, version=version or 0).spec
        assert spec_then["steps"][index]["key"] == key


CALENDAR = {
    "send_window": {"start": "08:00", "end": "18:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"]},
    "business_days": {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "holidays": "customer"},
}


def test_business_days_in_each_customers_time_zone_through_the_run(scenario, tmp_path):
    # The entity runs at 06:00 Paris time. On Friday 6 March 2026 that is Thursday 21:00 in Los
    # Angeles (delivery Friday) and Friday 18:00 in Auckland (window closed: delivery Saturday).
    scenario.entity.timezone = "Europe/Paris"
    scenario.entity.country = "FR"
    scenario.entity.save()
    _import(tmp_path, {**policy_to_dict(default_policies()["standard"]), **CALENDAR})
    scenario.customer("LA", timezone="America/Los_Angeles", country="US")
    scenario.customer("AKL", timezone="Pacific/Auckland", country="NZ")
    scenario.customer("PARIS")  # the entity's zone and country
    for ref in ("LA", "AKL", "PARIS"):
        scenario.invoice(ref, f"F-{ref}", "100.00", due="2026-03-05", issued="2026-03-04")
    outputs = walk(
        scenario,
        [
            (
                "2026-03-06",
                [
                    ("LA", "message", "reminder_1", "email", "F-LA", "100"),
                    ("PARIS", "message", "reminder_1", "email", "F-PARIS", "100"),
                ],
            ),
            ("2026-03-07", []),
            ("2026-03-09", [("AKL", "message", "reminder_1", "email", "F-AKL", "100")]),
        ],
    )
    assert outputs["2026-03-06"]["counts"]["suppressed"] == {"non_business_day": 1}
    held = Suppression.objects.get(run__as_of="2026-03-06")
    assert held.customer.external_ref == "AKL" and held.reason == "non_business_day"
    assert held.detail == "sat 2026-03-07 in Pacific/Auckland: no send window that day"


def test_a_holiday_of_the_entitys_country_for_a_customer_without_one(scenario, tmp_path):
    scenario.entity.timezone = "Europe/Paris"
    scenario.entity.country = "FR"
    scenario.entity.save()
    _import(tmp_path, {**policy_to_dict(default_policies()["standard"]), **CALENDAR})
    scenario.customer("PARIS")
    scenario.invoice("PARIS", "F1", "100.00", due="2026-05-13", issued="2026-05-01")  # +1: Ascension
    walk(
        scenario,
        [
            ("2026-05-14", []),
            ("2026-05-15", [("PARIS", "message", "reminder_1", "email", "F1", "100")]),
        ],
    )
    held = Suppression.objects.get(run__as_of="2026-05-14")
    assert held.detail == "thu 2026-05-14 in Europe/Paris: public holiday in FR (Ascension Day)"


def test_a_condition_on_a_customer_attribute(scenario, tmp_path):
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"] = spec["steps"][1:2]
    spec["steps"][0]["conditions"] = [{"field": "custom.industry", "op": "in", "value": ["retail"]}]
    _import(tmp_path, spec)
    for ref in ("SHOP", "PLANT"):
        scenario.customer(ref)
        scenario.invoice(ref, f"F-{ref}", "100.00", due="2026-03-31")
    services.customer_attribute_set(customer=scenario.customers["SHOP"], name="industry", value="retail")
    services.customer_attribute_set(customer=scenario.customers["PLANT"], name="industry", value="retail")
    services.customer_attribute_set(customer=scenario.customers["PLANT"], name="industry", value="energy")
    walk(scenario, [("2026-04-01", [("SHOP", "message", "reminder_1", "email", "F-SHOP", "100")])])


def test_credit_hold_and_external_collection_leave_records_and_dunning_goes_on(scenario):
    command("policy", "assign", "high_risk", "--default")
    scenario.customer("RISKY")
    scenario.invoice("RISKY", "F1", "900.00", due="2026-03-31")
    walk(
        scenario,
        [
            ("2026-04-21", [("RISKY", "credit_hold", "credit_hold", "", "F1", "900")]),  # +21 (catch-up)
            ("2026-05-01", [("RISKY", "message", "final_notice", "registered_letter", "F1", "900")]),
        ],
    )
    hold = CreditHold.objects.get()
    assert (hold.customer.external_ref, hold.status, hold.placed_on.isoformat()) == (
        "RISKY",
        "active",
        "2026-04-21",
    )
    assert hold.action.step_key == "credit_hold"
    assert case_selectors.customer_credit_hold(customer=scenario.customers["RISKY"]) == hold
    [row] = command_json("worklist")["rows"]
    assert (row["credit_hold"], row["external_collection"]) == (True, False)
    assert "(credit hold)" in command("worklist")
    walk(
        scenario, [("2026-05-30", [("RISKY", "external_collection", "external_collection", "", "F1", "900")])]
    )
    hand_off = ExternalCollection.objects.get()
    assert (hand_off.status, hand_off.status_changed_by, str(hand_off.amount)) == (
        "pending",
        "run",
        "900.0000",
    )
    assert [invoice.external_ref for invoice in hand_off.invoices.all()] == ["F1"]
    case_services.hand_off_update(
        actor=SYSTEM,
        hand_off=hand_off,
        status="accepted",
        on=D("2026-06-02"),
        by="ana@example.com",
        agency="Recouvr",
    )
    hand_off.refresh_from_db()
    assert (hand_off.status, hand_off.status_changed_by, hand_off.agency) == (
        "accepted",
        "ana@example.com",
        "Recouvr",
    )
    case_services.credit_hold_release(
        actor=SYSTEM, customer=scenario.customers["RISKY"], on=D("2026-06-03"), by="sales@example.com"
    )
    assert case_selectors.customer_credit_hold(customer=scenario.customers["RISKY"]) is None
    assert CreditHold.objects.get().released_by == "sales@example.com"


def test_the_run_re_applies_the_segmentation_rules_and_records_each_change(scenario, tmp_path):
    path = tmp_path / "rules.yaml"
    rules = {"rules": [{"segment": "big", "when": [{"field": "open_amount", "op": "ge", "value": 5000}]}]}
    path.write_text(yaml.safe_dump(rules))
    command("segment", "rules", "--import", str(path))
    command("policy", "assign", "white_glove", "--segment", "big")
    scenario.customer("BIG")
    scenario.customer("SMALL")
    scenario.invoice("BIG", "B1", "6000.00", due="2026-03-31")
    scenario.invoice("SMALL", "S1", "100.00", due="2026-03-31")
    # white glove's pre-due e-mail is at -7; the standard one only at -5.
    outputs = walk(scenario, [("2026-03-24", [("BIG", "message", "pre_due", "email", "B1", "6000")])])
    assert outputs["2026-03-24"]["decisions"][0]["policy"] == "white_glove"
    assert outputs["2026-03-24"]["counts"]["segment_changes"] == 1
    change = SegmentChange.objects.get()
    assert (change.customer.external_ref, change.from_segment, change.to_segment, change.rule) == (
        "BIG",
        "",
        "big",
        1,
    )
    assert change.run.as_of == D("2026-03-24") and change.changed_by == "relance run" and change.evidence
    # --no-segment: the rules are not applied (a new big customer keeps its empty segment).
    scenario.customer("BIG2")
    scenario.invoice("BIG2", "B2", "7000.00", due="2026-04-30", issued="2026-03-20")
    scenario.run("2026-03-25", "--no-segment")
    assert scenario.customers["BIG2"].__class__.objects.get(external_ref="BIG2").segment == ""
    assert SegmentChange.objects.count() == 1
    scenario.run("2026-03-26")
    assert SegmentChange.objects.filter(customer__external_ref="BIG2", to_segment="big").exists()


def test_identical_suppressions_of_consecutive_runs_extend_one_row(scenario):
    scenario.customer("HELD")
    scenario.invoice("HELD", "F1", "500.00", due="2026-03-31")
    command("hold", "add", "--customer", "HELD", "--kind", "legal", "--reason", "court", "--on", "2026-03-30")
    for day in ("2026-04-01", "2026-04-02", "2026-04-03"):
        assert scenario.run(day)["counts"]["suppressed"] == {"legal": 1}
    [row] = Suppression.objects.all()
    assert (row.run.as_of, row.last_run.as_of, row.count) == (D("2026-04-01"), D("2026-04-03"), 3)
    for day in ("2026-04-01", "2026-04-02", "2026-04-03"):
        run = DunningRun.objects.get(as_of=day)
        assert list(selectors.suppression_list_of_run(run=run).values_list("reason", flat=True)) == ["legal"]
    command("hold", "remove", "--customer", "HELD", "--on", "2026-04-04")
    scenario.run("2026-04-04")  # reminder_1 goes out: nothing held back
    assert not selectors.suppression_list_of_run(run=DunningRun.objects.get(as_of="2026-04-04")).exists()
    command("hold", "add", "--customer", "HELD", "--kind", "legal", "--reason", "again", "--on", "2026-04-05")
    scenario.run("2026-04-16")  # a gap between two runs holding it back: a new row
    assert Suppression.objects.count() == 2
    assert Suppression.objects.get(run__as_of="2026-04-16").count == 1
