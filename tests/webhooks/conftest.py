from __future__ import annotations

import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def allow_private(settings):
    """Loopback endpoints allowed (the receiver is on 127.0.0.1), short retries."""
    settings.RELANCE_WEBHOOK_ALLOW_PRIVATE = True
    settings.RELANCE_WEBHOOK_RETRY_SECONDS = 1
    settings.RELANCE_WEBHOOK_TIMEOUT_SECONDS = 5
    return settings
