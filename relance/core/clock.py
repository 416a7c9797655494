"""The clock, injectable so that runs and tests can travel in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self, tz: tzinfo | None = None) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self, tz: tzinfo | None = None) -> date:
        return self.now().astimezone(tz or UTC).date()


@dataclass
class FrozenClock:
    """A clock that only moves when told to (tests, simulations, catch-up runs)."""

    instant: datetime

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware instant")

    def now(self) -> datetime:
        return self.instant

    def today(self, tz: tzinfo | None = None) -> date:
        return self.instant.astimezone(tz or UTC).date()

    def advance(self, **delta: float) -> None:
        self.instant += timedelta(**delta)


def zone(name: str | None) -> tzinfo:
    return ZoneInfo(name) if name else UTC
