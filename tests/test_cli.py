"""The `relance` entry point: one command, every subcommand documented, init harmless to repeat."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from relance.ledger.models import Entity

EXPECTED_COMMANDS = ["demo", "generate", "import", "init", "kpi", "serve", "token"]


def _relance(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "relance.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_every_relance_command():
    result = _relance("--help")
    assert result.returncode == 0, result.stderr
    for name in EXPECTED_COMMANDS:
        assert f"  {name} " in result.stdout, f"{name} missing from relance --help"


@pytest.mark.parametrize("name", EXPECTED_COMMANDS)
def test_every_command_has_help(name):
    result = _relance(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: relance" in result.stdout


def test_init_creates_the_entity_and_is_harmless_to_repeat(db, capsys):
    call_command("init", entity="acme", currency="usd", language="fr")
    call_command("init", entity="acme", currency="EUR")
    entity = Entity.objects.get()
    assert (entity.name, entity.currency, entity.language) == ("acme", "USD", "fr")
    assert "already exists" in capsys.readouterr().out


def test_init_rejects_an_unknown_currency(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ISO 4217"):
        call_command("init", entity="acme", currency="EURO")
    assert not Entity.objects.exists()
