"""The README's "first real import" block, run as written on an empty SQLite database (issue 21).

Every line of the block is run by a shell in a fresh directory that has what the README assumes:
``.venv/bin/relance`` (this interpreter's console script), ``docs/mappings/`` (the repository's)
and the three export files (made here). It must end with reminders queued for the overdue
customers, and nothing for the customer who paid or the one not yet due.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

CUSTOMERS_CSV = """\
customer_ref,name,email,segment,language,country
C-1001,Dupont SARL,ap@dupont.example,SMB,fr,FR
C-1002,Brightline Ltd,accounts@brightline.example,Enterprise,en,GB
C-1003,Nordwind GmbH,buchhaltung@nordwind.example,SMB,de,DE
C-1004,Acme Corp,ap@acmecorp.example,Enterprise,en,US
"""
# The ERP's columns, as docs/mappings/example-erp.yaml reads them; the currency left empty, as
# ERPs do for the company's own currency. As of 2026-10-31: SI-10021 is 48 days late, SI-10022 11
# days, SI-10023 is paid (payments.csv), SI-10024 is not due for a month.
INVOICE_HEADER = (
    "Document No.",
    "Customer No.",
    "Posting Date",
    "Due Date",
    "Currency Code",
    "Amount Incl. VAT",
    "External Document No.",
)
INVOICE_ROWS = (
    ("SI-10021", "C-1001", date(2026, 8, 14), date(2026, 9, 13), None, Decimal("1234.50"), "PO-889"),
    ("SI-10022", "C-1002", date(2026, 9, 20), date(2026, 10, 20), None, Decimal("560.00"), None),
    ("SI-10023", "C-1003", date(2026, 9, 1), date(2026, 10, 1), "EUR", Decimal("980.00"), None),
    ("SI-10024", "C-1004", date(2026, 10, 15), date(2026, 11, 30), None, Decimal("2100.00"), "PO-12"),
)
PAYMENTS_CSV = """\
payment_ref,customer_ref,date,amount,currency,invoice_ref
PAY-501,C-1003,2026-10-05,980.00,EUR,SI-10023
"""


def readme_first_import_block() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"A first real import[^\n]*\n\n```sh\n(.*?)```", text, flags=re.S)
    assert match, "README.md has no 'A first real import' sh block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def write_exports(directory: Path) -> None:
    from openpyxl import Workbook

    (directory / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    (directory / "payments.csv").write_text(PAYMENTS_CSV, encoding="utf-8")
    book = Workbook()
    sheet = book.active
    sheet.title = "Open items"
    sheet.append(INVOICE_HEADER)
    for row in INVOICE_ROWS:
        sheet.append([float(cell) if isinstance(cell, Decimal) else cell for cell in row])
    book.save(directory / "invoices.xlsx")


def install_like_the_readme(directory: Path) -> None:
    """``.venv/bin/relance`` and ``docs/`` where the README's commands look for them."""
    bin_dir = directory / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    script = Path(sys.executable).parent / "relance"
    if script.exists():
        (bin_dir / "relance").symlink_to(script)
    else:  # an interpreter without the console script: the same entry point
        (bin_dir / "relance").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m relance.cli "$@"\n')
        (bin_dir / "relance").chmod(0o755)
    (directory / "docs").symlink_to(REPO / "docs")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    install_like_the_readme(tmp_path)
    write_exports(tmp_path)
    return tmp_path


def run(line: str, directory: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"sqlite:///{directory / 'relance.sqlite3'}",
        "RELANCE_VAR_DIR": str(directory / "var"),
        "EMAIL_URL": "console://",
        "COLUMNS": "200",
    }
    # shell: the README's command lines, run as a reader would type them
    return subprocess.run(  # noqa: S602
        line,
        shell=True,
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_readme_first_import_block_works_as_written(workdir: Path) -> None:
    lines = readme_first_import_block()
    assert lines[0].startswith(".venv/bin/relance init ") and any(" run --as-of " in line for line in lines)
    outputs = {}
    for line in lines:
        result = run(line, workdir)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        outputs[line] = result.stdout

    init = outputs[lines[0]]
    assert "Policy standard (Standard) created" in init
    assert "Default policy: standard" in init
    assert "sender address" in init and "DEFAULT_FROM_EMAIL" in init  # what is left, with its fix
    assert "no IBAN" not in init  # the block gives the bank details

    [run_line] = [line for line in lines if " run --as-of " in line]
    table = outputs[run_line]
    assert "no_policy" not in table
    assert "€1,234.50" in table and "€560.00" in table  # the entity's language (en), as the pages
    assert "1234.5000" not in table

    queued = json.loads(run(".venv/bin/relance outbox list --json", workdir).stdout)
    reminded = {(message["customer_ref"], message["template_key"]) for message in queued}
    assert reminded == {("C-1001", "overdue_urgent"), ("C-1002", "overdue_friendly")}
    assert {message["status"] for message in queued} == {"queued"}
    dupont = next(message for message in queued if message["customer_ref"] == "C-1001")
    assert (dupont["recipient"], dupont["amount_due"], dupont["currency"]) == (
        "ap@dupont.example",
        "1234.5000",  # --json keeps the exact decimal
        "EUR",
    )
    shown = run(f".venv/bin/relance outbox show {dupont['id']}", workdir).stdout
    assert "amount_due: €1,234.50" in shown


def test_a_run_without_a_default_policy_says_which_command_fixes_it(db, tmp_path: Path) -> None:
    """The issue's path, in process: an entity made without the shipped policies, then policies
    imported from files but none the default. Never a silent "no_policy"."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    write_exports(tmp_path)
    mapping = str(REPO / "docs" / "mappings" / "example-erp.yaml")
    call_command("init", entity="acme", no_policies=True, stdout=io.StringIO())
    call_command("import", "customers", str(tmp_path / "customers.csv"), "--quiet", stdout=io.StringIO())
    call_command(
        "import",
        "invoices",
        str(tmp_path / "invoices.xlsx"),
        "--mapping",
        mapping,
        "--quiet",
        stdout=io.StringIO(),
    )
    with pytest.raises(CommandError, match=r"has no dunning policy: import one \(relance policy import"):
        call_command("run", "--as-of", "2026-10-31", "--quiet")

    shipped = REPO / "relance" / "engine" / "dunning" / "policies"
    call_command(
        "policy",
        "import",
        str(shipped / "white_glove.yaml"),
        str(shipped / "standard.yaml"),
        stdout=io.StringIO(),
    )
    with pytest.raises(CommandError) as refused:
        call_command("run", "--as-of", "2026-10-31", "--quiet")
    assert str(refused.value) == (
        "4 customer(s) of entity acme follow no dunning policy (segment 'Enterprise', 'SMB'): "
        "make one the default with `relance policy assign standard --default` "
        "(or give their segment one with --segment)"
    )
    doctor = io.StringIO()
    with pytest.raises(CommandError, match="to fix before sending real messages"):
        call_command("doctor", stdout=doctor)
    assert "fix: relance policy assign standard --default" in doctor.getvalue()

    imported = io.StringIO()
    call_command("policy", "import", "--defaults", stdout=imported)
    assert "Default policy: standard" in imported.getvalue()
    applied = io.StringIO()
    call_command("run", "--as-of", "2026-10-31", "--json", "--no-queue", stdout=applied)
    decisions = json.loads(applied.getvalue())["decisions"]
    assert {row["customer_ref"] for row in decisions} == {"C-1001", "C-1002", "C-1003"}  # no payments
