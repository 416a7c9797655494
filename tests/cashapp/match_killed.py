"""``relance match`` in a process that kills itself (``os._exit``, no clean-up, no rollback by
Python) in the middle of writing its Nth batch of lines (1, 2, 4… lines), after the batch's
payments are written and before its commit: what a ``kill -9`` or a power cut leaves.

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

from relance.cashapp import matching  # noqa: E402

DIE_AT = int(sys.argv[1])
real = matching._payers_learn
calls = 0


def dies(*args: Any, **kwargs: Any) -> Any:
    """Called inside a batch's transaction, after its payments and allocations are written."""
    global calls
    calls += 1
    if calls == DIE_AT:
        os._exit(9)
    return real(*args, **kwargs)


matching._payers_learn = dies
call_command("match", "--no-confirmations")
