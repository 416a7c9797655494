"""Absolute addresses for what leaves the application: links in messages, provider callbacks."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    """``RELANCE_PUBLIC_URL`` + ``path``: the public address (behind a proxy), not the request's host."""
    base: str = settings.RELANCE_PUBLIC_URL
    return base.rstrip("/") + path
