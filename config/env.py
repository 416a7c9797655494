"""Configuration from the environment, read once at settings import.

Only settings modules import this; application code reads ``django.conf.settings``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RELANCE_VAR_DIR", BASE_DIR / "var"))


def package_dir(name: str) -> Path:
    """The directory of an installed package, found without importing it (its templates and
    static files, for a library that is not an installed app)."""
    from importlib.util import find_spec

    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def local_secret_key() -> str:
    """A random key kept in ``var/secret_key`` (mode 600), made on first use.

    Without ``SECRET_KEY`` in the environment, a local install still never signs sessions with a
    key that is published in the source code.
    """
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    partial = path.with_name(f".secret_key.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    try:
        os.link(partial, path)  # atomic: the first process to get here wins, the others read its key
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        partial.unlink()
    return key


def default_database_url() -> str:
    return f"sqlite:///{VAR_DIR / 'relance.sqlite3'}"


def database_config(url: str | None = None) -> dict[str, Any]:
    url = url or env_str("DATABASE_URL") or default_database_url()
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the web server read while an import writes.
        config.setdefault("OPTIONS", {})["init_command"] = (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
        )
        config["CONN_MAX_AGE"] = 0
    elif config["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "RELANCE_PREPARED_STATEMENTS", True
    ):
        # The hot reads' fixed SQL (relance.common.fixed_sql) runs as prepared statements from its
        # fifth run on a connection; Django's other queries bind on the client and never prepare.
        # Off for a pooler that cannot keep them (PgBouncer before 1.21 in transaction mode).
        config.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    return config


EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "submission": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "anymail": "anymail.backends.<provider>.EmailBackend",
}


def email_config(url: str) -> dict[str, object]:
    """Turn ``EMAIL_URL`` (``smtp://user:pass@host:587?tls=1``) into Django EMAIL_* settings."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in EMAIL_BACKENDS:
        raise ValueError(
            f"EMAIL_URL: unknown scheme {scheme!r}; expected one of {', '.join(sorted(EMAIL_BACKENDS))}"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme == "anymail":  # anymail://postmark → django-anymail's Postmark backend
        return {"EMAIL_BACKEND": f"anymail.backends.{parts.hostname}.EmailBackend"}
    config: dict[str, object] = {"EMAIL_BACKEND": EMAIL_BACKENDS[scheme]}
    if scheme == "file":
        config["EMAIL_FILE_PATH"] = unquote(parts.path) or str(VAR_DIR / "mail")
        return config
    if scheme in {"smtp", "smtps", "submission"}:
        config.update(
            EMAIL_HOST=parts.hostname or "localhost",
            EMAIL_PORT=parts.port or {"smtps": 465, "submission": 587}.get(scheme, 25),
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_SSL=scheme == "smtps" or query.get("ssl", "").lower() in {"1", "true"},
            EMAIL_USE_TLS=scheme == "submission" or query.get("tls", "").lower() in {"1", "true"},
            EMAIL_TIMEOUT=int(query.get("timeout", "30")),
        )
    return config
