"""Settings of the webhook worker processes the process tests and the benchmark start: loopback
endpoints allowed (the receiver is on 127.0.0.1)."""

from config.settings.test import *  # noqa: F403

RELANCE_WEBHOOK_ALLOW_PRIVATE = True
