"""Helpers for import tests: write small files and run ``relance import`` in-process."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@dataclass
class Run:
    ok: bool
    stdout: str
    stderr: str
    error: str = ""

    @property
    def outcome(self) -> dict:
        return json.loads(self.stdout)


@pytest.fixture
def write(tmp_path: Path):
    def make(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return make


@pytest.fixture
def run_import(entity):
    def run(kind: str, path: Path, *args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("import", kind, str(path), "--json", *args, stdout=out, stderr=err)
        except CommandError as exc:
            return Run(False, out.getvalue(), err.getvalue(), str(exc))
        return Run(True, out.getvalue(), err.getvalue())

    return run


CUSTOMERS_CSV = """customer_ref,name,currency,payment_terms_days,credit_limit,segment,language,country,email,phone
C1,Dupont SARL,EUR,30,50000,SMB,fr,FR,ap@dupont.fr,01 23 45 67 89
C2,Acme Ltd,GBP,45,,Enterprise,en,GB,,
C3,Müller GmbH,EUR,14,1000.50,SMB,de,DE,buchhaltung@mueller.de,+49 30 1234567
"""

INVOICES_CSV = """invoice_ref,customer_ref,issue_date,due_date,currency,amount
I1,C1,2026-01-05,2026-02-04,EUR,1200.00
I2,C1,2026-01-20,2026-02-19,EUR,300.50
I3,C2,2026-01-10,2026-02-24,GBP,999.99
I4,C3,2026-02-01,2026-02-15,EUR,50
"""


@pytest.fixture
def customers_loaded(write, run_import):
    run = run_import("customers", write("customers.csv", CUSTOMERS_CSV))
    assert run.ok, run.stderr + run.error
    return run


@pytest.fixture
def invoices_loaded(customers_loaded, write, run_import):
    run = run_import("invoices", write("invoices.csv", INVOICES_CSV))
    assert run.ok, run.stderr + run.error
    return run
