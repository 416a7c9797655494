"""Reading a spec written as data (a dunning policy, a credit scorecard: what YAML gives) with
every problem listed at once, each as ``path: expected …, found …``.

The readers never raise: they note the problem in ``Problems`` and return a harmless default, so
one pass over a spec reports all that is wrong with it; the caller raises ``ValidationFailed``
with them at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any


class Problems:
    """What is wrong with a spec, in the order found."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, expected: str, found: Any) -> None:
        self.items.append(f"{path}: expected {expected}, found {found!r}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def __str__(self) -> str:
        return "; ".join(self.items)


def number_out(value: Decimal) -> int | str:
    """A number as YAML should show it: an integer when it is one, else its exact text."""
    return int(value) if value == value.to_integral_value() else str(value)


def integer_at(data: Mapping[str, Any], name: str, path: str, problems: Problems, default: Any = ...) -> Any:
    """``data[name]`` as an integer (required unless a ``default`` is given; ``None`` allowed when
    the default is ``None``)."""
    if name not in data:
        if default is ...:
            problems.add(f"{path}.{name}", "an integer", "nothing")
            return 0
        return default
    value = data[name]
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(f"{path}.{name}", "an integer", value)
        return 0
    return value


def decimal_of(value: Any, path: str, problems: Problems) -> Decimal:
    """``value`` as an exact finite ``Decimal`` (YAML floats are read through their text)."""
    if isinstance(value, bool) or not isinstance(value, int | str | float | Decimal):
        problems.add(path, "a number", value)
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        problems.add(path, "a number", value)
        return Decimal(0)
    if not number.is_finite():
        problems.add(path, "a finite number", value)
        return Decimal(0)
    return number


def text_at(
    data: Mapping[str, Any], name: str, path: str, problems: Problems, default: str | None = None
) -> str:
    """``data[name]`` as a text (required unless a ``default`` is given)."""
    value = data.get(name, default)
    if value is None:
        problems.add(f"{path}.{name}", "a text", "nothing")
        return ""
    if not isinstance(value, str):
        problems.add(f"{path}.{name}", "a text", value)
        return ""
    return value


def check_choice(value: str, choices: Sequence[str], path: str, problems: Problems) -> None:
    if value not in choices:
        problems.add(path, "one of " + ", ".join(choices), value)


def check_known_keys(data: Mapping[str, Any], known: set[str], path: str, problems: Problems) -> None:
    """A key the spec does not know is a typo until proven otherwise: name it."""
    for name in data:
        if name not in known:
            problems.add(f"{path}.{name}", "one of " + ", ".join(sorted(known)), "an unknown key")
