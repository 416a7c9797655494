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


def test_help_reads_every_command_s_help_without_loading_them(db):
    """``relance --help`` reads the help from the commands' source: every Relance command Django
    knows is listed with the first sentence of its own help, and no command module is imported
    (they load pandas, Ibis, PyArrow: a second of start-up; issue 20)."""
    from django.core.management import get_commands, load_command_class

    from relance.cli import _relance_commands

    ours = {name: app for name, app in get_commands().items() if app.startswith("relance.")}
    listed = _relance_commands()
    assert set(listed) == set(ours)
    for name, app in ours.items():
        help_text = load_command_class(app, name).help
        assert help_text.startswith(listed[name]), name
    code = "import sys; from relance.cli import print_help; print_help(); print(sorted(m for m in sys.modules if m.startswith(('django', 'pandas', 'ibis'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().endswith("[]")


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


def test_init_makes_an_entity_ready_to_collect_and_says_what_is_missing(db, capsys):
    from relance.dunning.models import SegmentPolicy

    call_command("init", entity="acme")
    out = capsys.readouterr().out
    assert "Policy standard (Standard) created (shipped)." in out
    assert "Default policy: standard" in out
    assert SegmentPolicy.objects.get(segment="").policy.key == "standard"
    for gap, fix in (
        ("no IBAN", "relance init --entity acme --iban IBAN --bic BIC"),
        ("no postal address", "relance init --entity acme --address"),
        ("sender address", "DEFAULT_FROM_EMAIL="),
    ):
        assert gap in out and fix in out

    call_command(
        "init",
        entity="acme",
        iban="FR76 3000 6000 0112 3456 7890 189",
        bic="agrifrpp",
        address="1 rue X, 75002 Paris",
    )
    out = capsys.readouterr().out
    entity = Entity.objects.get()
    assert (entity.iban, entity.bic, entity.address) == (
        "FR7630006000011234567890189",
        "AGRIFRPP",
        "1 rue X\n75002 Paris",
    )
    assert "Updated: address, iban, bic." in out or "Updated: iban, bic, address." in out
    assert "no IBAN" not in out and "no postal address" not in out
    assert "Policy standard" not in out  # a second init leaves the entity's policies alone


def test_init_without_policies_and_with_a_bad_iban(db, capsys):
    from django.core.management.base import CommandError

    from relance.dunning.models import Policy

    call_command("init", entity="acme", no_policies=True)
    assert not Policy.objects.exists()
    assert "fix: relance policy import --defaults" in capsys.readouterr().out
    with pytest.raises(CommandError, match="invalid IBAN"):
        call_command("init", entity="acme", iban="FR00 1234")
    assert Entity.objects.get().iban == ""


def test_doctor_lists_each_gap_with_its_fix_and_passes_when_ready(db, capsys, settings):
    from django.core.management.base import CommandError

    call_command("init", entity="acme", iban="FR7630006000011234567890189", bic="AGRIFRPP", address="1 rue X")
    capsys.readouterr()
    settings.DEFAULT_FROM_EMAIL = "relance@localhost"
    settings.RELANCE_PUBLIC_URL = "http://127.0.0.1:8000"
    with pytest.raises(CommandError, match="2 thing"):
        call_command("doctor", "--json")
    gaps = {gap["topic"]: gap["fix"] for gap in __import__("json").loads(capsys.readouterr().out)}
    assert set(gaps) == {"sender address", "public URL"}
    assert gaps["public URL"].startswith("set RELANCE_PUBLIC_URL=")
    settings.DEFAULT_FROM_EMAIL = "Acme billing <billing@acme.example>"
    settings.RELANCE_PUBLIC_URL = "https://relance.acme.example"
    call_command("doctor")
    assert "acme is ready to send real messages." in capsys.readouterr().out


HEAVY = ("ibis", "pandas", "pyarrow", "numpy", "duckdb")
# Still loading them for --help; remove a name once its command loads them lazily (issue 20).
HEAVY_AT_START: set[str] = set()

LOADS_HEAVY = """
import contextlib, io, json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
import django
django.setup()
from django.core.management import ManagementUtility
from relance.cli import _relance_commands
heavy = {heavy!r}
loaders = {{}}
for name in sorted(_relance_commands()):
    before = {{m for m in heavy if m in sys.modules}}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        ManagementUtility(["relance", name, "--help"]).execute()
    loaded = sorted(m for m in heavy if m in sys.modules and m not in before)
    if loaded:
        loaders[name] = loaded
print(json.dumps(loaders))
"""


def test_command_help_does_not_load_the_data_libraries():
    """``relance COMMAND --help`` answers without loading pandas, Ibis, PyArrow, NumPy or DuckDB
    (each command loads them when it runs): start-up, issue 20."""
    import json

    code = LOADS_HEAVY.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaders = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(loaders) <= HEAVY_AT_START, loaders


def test_import_help_does_not_load_the_import_machinery():
    """``relance import --help`` answers without the ingest services and mapping reader (they load
    when a file is imported): 0.47 → 0.39 s on the quiet machine."""
    code = (
        "import contextlib, io, os, sys\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.base')\n"
        "import django\n"
        "django.setup()\n"
        "from django.core.management import ManagementUtility\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    ManagementUtility(['relance', 'import', '--help']).execute()\n"
        "print(sorted(m for m in ('relance.ingest.services', 'relance.ingest.mappings') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# Loaded only by what uses them (a page, the API, a sign-in, a migrate): never by django.setup().
NOT_AT_SETUP = (
    "ninja",
    "pydantic",
    "anymail.checks",
    "requests",
    "yaml",
    "relance.accounts.services",
    "relance.portal.selectors",
    "relance.portal.links",
    "config.urls",
)


def test_django_setup_does_not_load_the_api_anymail_or_the_apps_services():
    """Issue 20: ninja (and pydantic) and anymail's checks (and requests) are not loaded by the
    set-up every command pays, nor the services and selectors the apps' ``ready()`` hands over."""
    code = (
        "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.base'); "
        "import django; django.setup(); "
        f"print(sorted(m for m in {NOT_AT_SETUP!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_what_ready_hands_over_lazily_still_works(db):
    """The receivers and readers registered without importing their module are connected and
    answer: the roles' sync after migrate, the sign-in receivers, the portal's link maker and
    plan-request reader (comms), anymail's tracking receiver."""
    from anymail.signals import tracking
    from django.contrib.auth.signals import user_logged_in, user_login_failed
    from django.db.models.signals import post_migrate

    from relance.comms import facts, links

    def uids(signal):
        return {entry[0][0] for entry in signal.receivers}  # (lookup key = (uid, sender), receiver, …)

    assert "relance.accounts.roles_sync" in uids(post_migrate)
    assert "relance.accounts.login_failed" in uids(user_login_failed)
    assert "relance.accounts.logged_in" in uids(user_logged_in)
    assert "relance.delivery.tracking" in uids(tracking)
    assert links._maker and getattr(links._maker[0], "__name__", "") == "message_link_url"
    assert facts._readers["decided_plan_request"].__name__ == "plan_request_decided_last"


def test_anymail_checks_still_run(settings):
    """anymail's own checks are registered lazily (``relance.delivery.apps.AnymailConfig``)."""
    from django.core import checks

    settings.ANYMAIL = {"WEBHOOK_AUTHORIZATION": "user:pass"}
    assert "anymail.E001" in {message.id for message in checks.run_checks()}


def test_a_relance_command_runs_every_check_but_the_pages_ones():
    """``relance COMMAND`` (but serve and demo) skips the URL, template and admin checks: the URL
    checks import every view and the API (seconds of start-up); Django's commands keep them all."""
    from django.core.management.base import ALL_CHECKS

    from relance.cli import PAGE_CHECKS, utility

    relance = utility(["relance"])
    engine = relance.fetch_command("engine")
    assert engine.requires_system_checks != ALL_CHECKS
    assert not PAGE_CHECKS & set(engine.requires_system_checks)
    assert {"models", "database", "security"} <= set(engine.requires_system_checks)
    for name in ("serve", "demo", "check", "migrate"):
        assert relance.fetch_command(name).requires_system_checks in (ALL_CHECKS, []), name


def test_a_relance_command_starts_without_the_url_configuration(tmp_path):
    """A real command (its checks run, then it fails: no such entity) never imports the URLs
    (hence no view, no API), and leaves the garbage collector on."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(sorted(m for m in ('config.urls', 'ninja', 'ibis') if m in sys.modules),"
        " gc.isenabled()))\n"
        "from relance.cli import main\n"
        "main(['relance', 'portal', 'links', 'NOBODY', '--entity', 'nowhere'])\n"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "RELANCE_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "System check identified" not in done.stderr, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] True", done.stdout + done.stderr
