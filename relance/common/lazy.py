"""Functions registered at start-up whose module loads when they are first called."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string


def imported_on_call(dotted_path: str) -> Callable[..., Any]:
    """A function that imports ``dotted_path`` on its first call and then calls it.

    For what an app's ``ready()`` hands to another app (a reader, a link maker, a signal
    receiver): registering it no longer imports its module (selectors, services) at every start
    of every command (issue 20). Connect it to a signal with ``weak=False``: nothing else holds it.
    """
    target: Callable[..., Any] | None = None

    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal target
        if target is None:
            target = import_string(dotted_path)
        return target(*args, **kwargs)

    call.__name__ = call.__qualname__ = dotted_path.rsplit(".", 1)[-1]
    call.__doc__ = f"{dotted_path}, imported on the first call."
    return call
