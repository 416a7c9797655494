"""Jobs the worker runs between passes: apps above the worker register them (the worker cannot
import them: docs/architecture.md, the layers).

A job is called after every pass with the current instant and decides itself whether anything is
due (the connectors keep a next-sync instant per connector). A failing job is logged and does not
stop the worker or the other jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

logger = logging.getLogger(__name__)

PeriodicJob = Callable[[datetime], object]

_JOBS: dict[str, PeriodicJob] = {}


def periodic_job_register(name: str, job: PeriodicJob) -> None:
    """Register (or replace) the job called ``name``."""
    _JOBS[name] = job


def periodic_jobs_run(now: datetime) -> dict[str, object]:
    """Run every registered job once; what each returned, or the error's text."""
    results: dict[str, object] = {}
    for name, job in sorted(_JOBS.items()):
        try:
            results[name] = job(now)
        except Exception as exc:  # one job's failure must not stop the delivery loop
            logger.exception("periodic job %s failed", name)
            results[name] = f"error: {exc}"
    return results
