"""Configuration comes from the environment; production settings pass Django's deploy checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import database_config, email_config

ROOT = Path(__file__).resolve().parents[2]


def test_database_url_defaults_to_sqlite_under_var(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = database_config()
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert str(config["NAME"]).endswith("relance.sqlite3")
    postgres = database_config("postgres://u:p@db.example:5433/relance")
    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert (postgres["HOST"], postgres["PORT"], postgres["NAME"]) == ("db.example", 5433, "relance")


def test_email_url_is_parsed_into_django_settings():
    smtp = email_config("smtp://user%40x:p%3Ass@mail.example:2525?tls=1")
    assert smtp["EMAIL_HOST"] == "mail.example" and smtp["EMAIL_PORT"] == 2525
    assert smtp["EMAIL_HOST_USER"] == "user@x" and smtp["EMAIL_HOST_PASSWORD"] == "p:ss"
    assert smtp["EMAIL_USE_TLS"] is True and smtp["EMAIL_USE_SSL"] is False
    assert email_config("smtps://h")["EMAIL_PORT"] == 465
    assert str(email_config("console://")["EMAIL_BACKEND"]).endswith("console.EmailBackend")
    with pytest.raises(ValueError, match="unknown scheme 'gopher'"):
        email_config("gopher://x")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"} | env
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        RELANCE_TRUSTED_PROXIES="10.0.0.0/8",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_behind_a_proxy_that_is_not_trusted(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        RELANCE_TRUSTED_PROXIES="",
    )
    assert result.returncode != 0
    assert "relance.W001" in result.stdout + result.stderr


def test_a_trusted_proxy_that_is_no_network_fails_the_check(tmp_path):
    result = _manage(
        "check",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        RELANCE_TRUSTED_PROXIES="10.0.0.0/33",
    )
    assert result.returncode != 0
    assert "relance.E001" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        },
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_without_secret_key_a_random_local_key_is_made_once(tmp_path, monkeypatch):
    import config.env as env

    monkeypatch.setattr(env, "VAR_DIR", tmp_path)
    first = env.local_secret_key()
    assert len(first) >= 50 and first == env.local_secret_key()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(env, "VAR_DIR", tmp_path / "other")
    assert env.local_secret_key() != first


def test_no_model_has_a_fixed_date_or_time_default():
    """Django warns of a fixed date/time default (fields.W161) only when the check runs within
    seconds of that value: `check --deploy` failed in CI at 08:00:0x UTC on `time(8)`. A callable
    default never warns, whatever the hour."""
    from django.apps import apps
    from django.db import models

    fixed = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.DateField | models.TimeField)
        and field.has_default()
        and not callable(field.default)
    ]
    assert fixed == []
