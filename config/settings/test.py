"""Test settings: fast hashing, in-memory mail, the database from DATABASE_URL (SQLite by default)."""

from __future__ import annotations

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
RELANCE_PUBLIC_URL = "http://testserver"
RELANCE_CHANNELS = {
    "email": "relance.delivery.channels.memory.MemoryChannel",
    "sms": "relance.delivery.channels.memory.MemoryChannel",
    "letter": "relance.delivery.channels.memory.MemoryChannel",
    "call": "relance.delivery.channels.memory.MemoryChannel",
    "portal": "relance.delivery.channels.memory.MemoryChannel",
}
