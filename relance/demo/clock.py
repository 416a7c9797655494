"""Django's clock set to a past instant while the demo replays a day of collection work.

The services stamp what they write with ``timezone.now()`` (``created_at``, audit events,
portal events, link expiry). Replaying two years through them with the real clock would date
every promise and audit event today; inside ``clock_at`` they carry the day they stand for.
Only for ``relance demo``, which runs it before the server starts, in one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock


@contextmanager
def clock_at(instant: datetime) -> Iterator[None]:
    """``django.utils.timezone.now()`` returns ``instant`` inside the block."""
    with mock.patch("django.utils.timezone.now", return_value=instant):
        yield
