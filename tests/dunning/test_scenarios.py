"""Scenarios through the commands, as readable tables: a customer, its invoices and history, the run
days → what each run decided. The real engine decides; the app applies and records.

Each table lists every day a run happens. Between two consecutive runs at most one step comes
due, so a run on the listed days decides what daily runs would (the catch-up scenario is the
exception, on purpose); windows that matter (the 15-day rule) are walked day by day.
"""

from __future__ import annotations

import pytest

from relance.cases.models import Promise
from relance.dunning.models import DunningAction, DunningRun, InvoiceStep, Suppression
from relance.dunning.selectors import suppression_list_of_run
from relance.ledger.models import Contact
from tests.dunning.conftest import command, command_json, walk

NOTHING: list[tuple[str, ...]] = []


def suppressed(day: str, customer: str) -> set[str]:
    run = DunningRun.objects.get(as_of=day)
    return set(
        suppression_list_of_run(run=run)
        .filter(customer__external_ref=customer)
        .values_list("reason", flat=True)
    )


def test_the_life_of_an_invoice_under_the_standard_policy(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    # fmt: off
    outputs = walk(scenario, [
        ("2026-03-25", NOTHING),
        ("2026-03-26", [("C1", "message", "pre_due", "email", "F1", "1000")]),
        ("2026-03-31", NOTHING),                                                    # due today
        ("2026-04-01", [("C1", "message", "reminder_1", "email", "F1", "1000")]),
        # reminder_2 is due at +15 (04-15) but the last contact was 04-01: not more often than
        # every 15 days during the first 60 days past due, so it waits one day. Day by day:
        ("2026-04-13", NOTHING),
        ("2026-04-14", NOTHING),
        ("2026-04-15", NOTHING),
        ("2026-04-16", [("C1", "message", "reminder_2", "email", "F1", "1000")]),
        ("2026-04-17", NOTHING),
        ("2026-05-01", [("C1", "message", "reminder_3", "email", "F1", "1000")]),
        ("2026-05-16", [("C1", "message", "reminder_4", "email", "F1", "1000")]),
        ("2026-05-25", [("C1", "notify_owner", "notify_owner", "", "F1", "1000")]),  # internal: no cadence
        ("2026-05-30", NOTHING),                                                    # +60, still in the 15-day phase
        ("2026-05-31", [("C1", "message", "final_notice", "letter", "F1", "1000")]),  # letter first
        ("2026-06-14", [("C1", "task", "collector_call", "call", "F1", "1000")]),
        ("2026-06-30", NOTHING),
    ])
    # fmt: on
    assert suppressed("2026-04-15", "C1") == {"cadence"}
    assert suppressed("2026-05-30", "C1") == {"cadence"}
    [reminder] = outputs["2026-04-16"]["decisions"]
    assert (
        reminder["offset_days"] == 15
        and reminder["tone"] == "neutral"
        and reminder["max_days_past_due"] == 16
    )
    assert [reason["code"] for reason in reminder["reasons"]][0] == "step_due"
    reached = InvoiceStep.objects.filter(invoice__external_ref="F1").order_by("reached_on")
    assert [step.step_key for step in reached] == [
        "pre_due",
        "reminder_1",
        "reminder_2",
        "reminder_3",
        "reminder_4",
        "notify_owner",
        "final_notice",
        "collector_call",
    ]
    # Running a date again adds nothing and reports what that run did.
    before = (DunningRun.objects.count(), DunningAction.objects.count(), InvoiceStep.objects.count())
    again = scenario.run("2026-04-16")
    assert again["status"] == "already_applied" and again["decisions"] == outputs["2026-04-16"]["decisions"]
    assert (DunningRun.objects.count(), DunningAction.objects.count(), InvoiceStep.objects.count()) == before


def test_promise_kept_and_promise_broken(scenario):
    scenario.customer("KEPT")
    scenario.customer("BROKEN")
    scenario.invoice("KEPT", "K1", "800.00", due="2026-03-31", issued="2026-03-20")
    scenario.invoice("BROKEN", "B1", "900.00", due="2026-03-31", issued="2026-03-20")
    walk(
        scenario,
        [
            (
                "2026-04-01",
                [
                    ("KEPT", "message", "reminder_1", "email", "K1", "800"),
                    ("BROKEN", "message", "reminder_1", "email", "B1", "900"),
                ],
            )
        ],
    )
    for customer in ("KEPT", "BROKEN"):
        command("promise", "add", "--customer", customer, "--date", "2026-04-20", "--on", "2026-04-05")
    scenario.pay("KEPT", "PK", "K1", "800.00", "2026-04-19")
    # fmt: off
    outputs = walk(scenario, [
        ("2026-04-16", NOTHING),     # reminder_2 due, but both promised: paused
        ("2026-04-23", NOTHING),     # promised date + 3 days' grace: still paused
        ("2026-04-24", [("BROKEN", "message", "reminder_2", "email", "B1", "900")]),  # broken: resumes
        ("2026-05-09", [("BROKEN", "message", "reminder_3", "email", "B1", "900")]),
    ])
    # fmt: on
    assert suppressed("2026-04-16", "KEPT") == {"promise_active"}
    assert suppressed("2026-04-16", "BROKEN") == {"promise_active"}
    [resumed] = outputs["2026-04-24"]["decisions"]
    assert resumed["broken_promise"] is True
    assert "promise_broken" in [reason["code"] for reason in resumed["reasons"]]
    [worklist_row] = command_json("worklist")["rows"]
    assert worklist_row["customer_ref"] == "BROKEN" and worklist_row["broken_promises"] == 1
    # The run marks the kept promise kept (paid by its date + grace) and writes the broken one
    # back as broken (the engine and the behaviour metrics read that status).
    assert dict(Promise.objects.values_list("customer__external_ref", "status")) == {
        "KEPT": "kept",
        "BROKEN": "broken",
    }
    [listed] = command_json("promise", "list", "--customer", "BROKEN")
    assert listed["status"] == "broken"
    evidence = {row["customer_ref"]: row for row in command_json("segment", "show", "--as-of", "2026-05-09")}
    assert "promises 1 made, 1 kept, 0 broken" in evidence["KEPT"]["evidence"]
    assert "promises 1 made, 0 kept, 1 broken" in evidence["BROKEN"]["evidence"]
    assert evidence["BROKEN"]["behaviour"] == "at_risk"


def test_dispute_opened_then_resolved_and_a_partial_dispute(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    scenario.invoice("C1", "F2", "500.00", due="2026-03-31")
    full = command_json("dispute", "open", "--invoice", "F1", "--reason", "quality", "--on", "2026-03-28")
    command(
        "dispute", "open", "--invoice", "F2", "--reason", "pricing", "--amount", "100", "--on", "2026-03-28"
    )
    outputs = walk(scenario, [("2026-04-01", [("C1", "message", "reminder_1", "email", "F2", "400")])])
    codes = [reason["code"] for reason in outputs["2026-04-01"]["decisions"][0]["reasons"]]
    assert "partially_disputed" in codes
    assert ("F1", "disputed") in set(
        Suppression.objects.filter(run__as_of="2026-04-01").values_list("invoice__external_ref", "reason")
    )
    command("dispute", "resolve", str(full["id"]), "--resolution", "rejected", "--on", "2026-04-10")
    # F1 is chased again from the resolution; it never had a reminder, so it catches up with F2.
    walk(scenario, [("2026-04-16", [("C1", "message", "reminder_2", "email", "F1 F2", "1400")])])


def test_payment_plan_replaces_dunning_by_installment_reminders(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    walk(scenario, [("2026-04-01", [("C1", "message", "reminder_1", "email", "F1", "1000")])])
    plan = command_json(
        "plan",
        "create",
        "--customer",
        "C1",
        "--installments",
        "2",
        "--first",
        "2026-04-20",
        "--every",
        "30",
        "--on",
        "2026-04-05",
    )
    assert [item["amount"] for item in plan["installments"]] == ["500.0000", "500.0000"]
    scenario.pay("C1", "P1", "F1", "500.00", "2026-04-19")
    # fmt: off
    outputs = walk(scenario, [
        ("2026-04-16", NOTHING),                                                         # reminder_2 replaced by the plan
        ("2026-04-17", [("C1", "message", f"installment:{plan['id']}:1:upcoming", "email", "", "500")]),
        ("2026-04-21", NOTHING),                                                         # paid on 04-19
        ("2026-05-17", [("C1", "message", f"installment:{plan['id']}:2:upcoming", "email", "", "500")]),
    ])
    # fmt: on
    assert suppressed("2026-04-16", "C1") == {"payment_plan"}
    assert outputs["2026-04-17"]["decisions"][0]["kind"] == "installment"
    assert command_json("plan", "show", "--customer", "C1")["installments"][0]["paid_on"] == "2026-04-19"


def test_partial_payment_and_a_payment_the_morning_of_a_reminder(scenario):
    scenario.customer("PART")
    scenario.customer("MORNING")
    scenario.invoice("PART", "P1", "1000.00", due="2026-03-31", issued="2026-03-20")
    scenario.invoice("MORNING", "M1", "700.00", due="2026-03-31", issued="2026-03-20")
    walk(
        scenario,
        [
            (
                "2026-04-01",
                [
                    ("PART", "message", "reminder_1", "email", "P1", "1000"),
                    ("MORNING", "message", "reminder_1", "email", "M1", "700"),
                ],
            )
        ],
    )
    scenario.pay("PART", "PP", "P1", "600.00", "2026-04-10")
    scenario.pay("MORNING", "PM", "M1", "700.00", "2026-04-16")  # booked before the run of 04-16
    walk(scenario, [("2026-04-16", [("PART", "message", "reminder_2", "email", "P1", "400")])])
    assert [row["customer_ref"] for row in command_json("worklist")["rows"]] == ["PART"]


def test_catch_up_after_an_outage_sends_only_the_most_advanced_step(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    # fmt: off
    outputs = walk(scenario, [
        ("2026-03-26", [("C1", "message", "pre_due", "email", "F1", "1000")]),
        ("2026-04-01", [("C1", "message", "reminder_1", "email", "F1", "1000")]),
        # down from 04-02 to 05-01: reminder_2 (+15) and reminder_3 (+30) came due meanwhile
        ("2026-05-02", [("C1", "message", "reminder_3", "email", "F1", "1000")]),
        ("2026-05-16", NOTHING),   # reminder_4 due at +45, but 14 days after the last contact
        ("2026-05-17", [("C1", "message", "reminder_4", "email", "F1", "1000")]),
    ])
    # fmt: on
    [caught] = outputs["2026-05-02"]["decisions"]
    assert caught["catch_up"] is True and "catch_up" in [reason["code"] for reason in caught["reasons"]]
    assert "reminder_2" not in set(DunningAction.objects.values_list("step_key", flat=True))


def test_holds_stop_everything_until_lifted(scenario):
    scenario.customer("C1")
    scenario.customer("C2")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31", issued="2026-03-20")
    scenario.invoice("C2", "G1", "300.00", due="2026-03-31", issued="2026-03-20")
    command(
        "hold", "add", "--customer", "C1", "--kind", "legal", "--reason", "in court", "--on", "2026-03-20"
    )
    command(
        "hold",
        "add",
        "--customer",
        "C2",
        "--kind",
        "do_not_contact",
        "--reason",
        "asked",
        "--on",
        "2026-03-20",
    )
    walk(scenario, [("2026-04-01", NOTHING)])
    assert suppressed("2026-04-01", "C1") == {"legal"} and suppressed("2026-04-01", "C2") == {
        "do_not_contact"
    }
    command("hold", "remove", "--customer", "C1", "--on", "2026-04-16")
    walk(scenario, [("2026-04-16", [("C1", "message", "reminder_2", "email", "F1", "1000")])])


def test_one_message_per_customer_and_opted_out_channels(scenario):
    scenario.customer("C1")
    scenario.customer("NOMAIL")
    Contact.objects.filter(customer__external_ref="NOMAIL").update(opt_out_email=True)
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31", issued="2026-03-01")
    scenario.invoice("C1", "F2", "250.50", due="2026-03-31", issued="2026-03-02")
    scenario.invoice("C1", "F3", "99.00", due="2026-04-06", issued="2026-03-03")
    scenario.invoice("NOMAIL", "N1", "400.00", due="2026-03-31", issued="2026-03-01")
    # fmt: off
    outputs = walk(scenario, [
        ("2026-04-01", [
            ("C1", "message", "pre_due", "email", "F3", "99"),                # one "upcoming" message
            ("C1", "message", "reminder_1", "email", "F1 F2", "1250.5"),      # and one "overdue", grouped
            ("NOMAIL", "message", "reminder_1", "letter", "N1", "400"),       # e-mail opted out: next channel
        ]),
    ])
    # fmt: on
    kinds = [(row["customer_ref"], row["kind"]) for row in outputs["2026-04-01"]["decisions"]]
    assert kinds == [("C1", "upcoming"), ("C1", "overdue"), ("NOMAIL", "overdue")]
    nomail = outputs["2026-04-01"]["decisions"][2]
    assert "channel_fallback" in [reason["code"] for reason in nomail["reasons"]]


def test_segments_choose_the_policy(scenario):
    command("policy", "assign", "white_glove", "--segment", "prompt")
    command("policy", "assign", "high_risk", "--segment", "risky")
    scenario.customer("GOOD", segment="prompt")
    scenario.customer("RISK", segment="risky")
    scenario.customer("STD")
    for customer, ref in (("GOOD", "G1"), ("RISK", "R1"), ("STD", "S1")):
        scenario.invoice(customer, ref, "20000.00", due="2026-03-31", issued="2026-03-01")
    # fmt: off
    outputs = walk(scenario, [
        ("2026-03-21", [("RISK", "message", "pre_due_1", "email", "R1", "20000")]),   # -10
        ("2026-03-24", [("GOOD", "message", "pre_due", "email", "G1", "20000")]),     # -7
        ("2026-03-26", [("STD", "message", "pre_due", "email", "S1", "20000")]),      # -5
        # white glove's personal call is due at -3 for large amounts, but its policy wants 5
        # days between contacts and the pre-due e-mail went out at -7: the call waits a day.
        ("2026-03-28", [("RISK", "message", "pre_due_2", "email", "R1", "20000")]),
        ("2026-03-29", [("GOOD", "task", "personal_call", "call", "G1", "20000")]),
    ])
    # fmt: on
    assert suppressed("2026-03-28", "GOOD") == {"cadence"}
    assert [row["policy"] for row in outputs["2026-03-29"]["decisions"]] == ["white_glove"]
    assert [row["policy"] for row in outputs["2026-03-21"]["decisions"]] == ["high_risk"]


def test_dry_run_through_the_command_matches_the_real_run(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    dry = scenario.run("2026-03-26", "--dry-run")
    assert not DunningRun.objects.exists()
    real = scenario.run("2026-03-26")
    assert dry["decisions"] == real["decisions"] and real["status"] == "applied"


@pytest.mark.slow
def test_the_whole_life_walked_day_by_day_matches_the_table(scenario):
    """Every calendar day from 10 days before due to +80: the same eight touchpoints, no others."""
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    assert scenario.days("2026-03-21", "2026-06-19") == {
        "2026-03-26": [("C1", "message", "pre_due", "email")],
        "2026-04-01": [("C1", "message", "reminder_1", "email")],
        "2026-04-16": [("C1", "message", "reminder_2", "email")],
        "2026-05-01": [("C1", "message", "reminder_3", "email")],
        "2026-05-16": [("C1", "message", "reminder_4", "email")],
        "2026-05-25": [("C1", "notify_owner", "notify_owner", "")],
        "2026-05-31": [("C1", "message", "final_notice", "letter")],
        "2026-06-14": [("C1", "task", "collector_call", "call")],
    }
    assert DunningRun.objects.count() == 91 and DunningAction.objects.count() == 8


def test_a_call_logged_by_hand_counts_for_the_cadence(scenario):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    walk(scenario, [("2026-04-01", [("C1", "message", "reminder_1", "email", "F1", "1000")])])
    out = command(
        "contact",
        "log",
        "--customer",
        "C1",
        "--channel",
        "call",
        "--note",
        "will pay soon",
        "--on",
        "2026-04-10",
    )
    assert "Contact with C1 by call on 2026-04-10 logged." in out
    # fmt: off
    walk(scenario, [
        ("2026-04-16", NOTHING),   # reminder_2 due, 15 days after the run's e-mail, but 6 after the call
        ("2026-04-24", NOTHING),
        ("2026-04-25", [("C1", "message", "reminder_2", "email", "F1", "1000")]),
    ])
    # fmt: on
    assert suppressed("2026-04-16", "C1") == {"cadence"}
    assert command_json("contact", "list", "--customer", "C1") == [
        {"on": "2026-04-10", "channel": "call", "note": "will pay soon"}
    ]
