"""``relance match`` in a process that kills itself (``os._exit``, no clean-up, no rollback by
Python) in the middle of applying its Nth line: what a ``kill -9`` or a power cut leaves.

``python tests/cashapp/match_killed.py N`` with ``DATABASE_URL`` naming the test database."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from relance.cashapp.models import KnownPayerAccount  # noqa: E402

DIE_AT = int(sys.argv[1])
real = KnownPayerAccount.objects.get_or_create
calls = 0


def dies(*args: Any, **kwargs: Any) -> Any:
    """Called inside a line's transaction, after its payment and allocations are written."""
    global calls
    calls += 1
    if calls == DIE_AT:
        os._exit(9)
    return real(*args, **kwargs)


KnownPayerAccount.objects.get_or_create = dies  # type: ignore[method-assign]
call_command("match", "--no-confirmations")
