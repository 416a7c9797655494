"""The real `relance import` process: exit status, stderr lines and nothing written on rejection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def relance(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from relance.cli import main; main()", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_a_rejected_file_exits_non_zero_and_a_good_one_zero(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
    }
    assert relance("migrate", "-v", "0", env=env).returncode == 0
    setup = "from relance.ledger.services import entity_create_or_update as e; e(name='acme')"
    assert relance("shell", "-c", setup, env=env).returncode == 0
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_ref,name\nC1,Dupont\n", encoding="utf-8")
    bad = tmp_path / "invoices.csv"
    bad.write_text("invoice_ref,customer_ref,issue_date,due_date,amount\nI1,C2,2026-01-01,2026-01-31,10\n")

    good = relance("import", "customers", str(customers), env=env)
    assert good.returncode == 0, good.stderr
    assert "customers were created: 1" in good.stdout

    rejected = relance("import", "invoices", str(bad), env=env)
    assert rejected.returncode == 1
    assert f"{bad}:2: customer_ref: expected a customer_ref already imported for this entity, found 'C2'" in (
        rejected.stderr
    )
    assert "nothing was imported" in rejected.stderr
    count = "from relance.ledger.models import Invoice; print(Invoice.objects.count())"
    assert relance("shell", "-c", count, env=env).stdout.strip().splitlines()[-1] == "0"
