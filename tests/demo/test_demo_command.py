"""`relance demo --no-serve`: a loaded ledger and a login, repeatable, never taking over an account."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from relance.ledger.models import Entity, Invoice


def _demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", "--customers", "20", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.RELANCE_VAR_DIR = tmp_path
    return tmp_path


def test_demo_loads_a_ledger_once_and_prints_a_working_login(db, var_dir):
    output = _demo()
    entity = Entity.objects.get(name="demo")
    invoices = Invoice.objects.filter(entity=entity).count()
    assert invoices > 100 and entity.customers.count() == 20
    password = output.split("Password: ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)

    again = _demo()
    assert "already loaded" in again
    assert Invoice.objects.filter(entity=entity).count() == invoices
    assert again.split("Password: ")[1].split()[0] == password  # the same login, printed again


def test_demo_never_takes_over_an_existing_account(db, var_dir):
    get_user_model().objects.create_user("admin", password="the owner's own")
    output = _demo()
    assert "unchanged" in output
    assert get_user_model().objects.get(username="admin").check_password("the owner's own")
