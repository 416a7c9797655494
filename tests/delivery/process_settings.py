"""Settings of the worker processes the process tests start: real EmailChannel to the test's SMTP server."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import RELANCE_CHANNELS

RELANCE_CHANNELS = {**RELANCE_CHANNELS, "email": "relance.delivery.channels.email.EmailChannel"}
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("RELANCE_TEST_SMTP_PORT", "25"))
EMAIL_HOST_USER = EMAIL_HOST_PASSWORD = ""
EMAIL_USE_TLS = EMAIL_USE_SSL = False
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = "billing@acme.example"
RELANCE_OUTBOX_LEASE_SECONDS = float(os.environ.get("RELANCE_OUTBOX_LEASE_SECONDS", "300"))
