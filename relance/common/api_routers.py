"""Routers that apps above the API add to ``/api/v1`` (the workspace's worklist and notes).

An app registers its router by dotted path in its ``ready()``: registering imports nothing, so a
command's start-up loads neither the API nor ninja (issue 20); ``relance.api.api`` imports and
mounts them when the API itself is built (the URL configuration, the OpenAPI schema).
"""

from __future__ import annotations

_ROUTERS: list[str] = []


def api_router_register(dotted_path: str) -> None:
    """``"package.module.router"``: added to ``/api/v1`` when the API is built (once)."""
    if dotted_path not in _ROUTERS:
        _ROUTERS.append(dotted_path)


def api_routers() -> list[str]:
    return list(_ROUTERS)
