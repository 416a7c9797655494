"""Absolute addresses for what leaves the application: links in messages, provider callbacks."""

from __future__ import annotations

import os

from django.conf import settings

ANY_ADDRESS = {"", "0.0.0.0", "::"}


def absolute_url(path: str) -> str:
    """``RELANCE_PUBLIC_URL`` + ``path``: the public address (behind a proxy), not the request's host."""
    base: str = settings.RELANCE_PUBLIC_URL
    return base.rstrip("/") + path


def public_url_follow_server(*, host: str, port: int) -> str:
    """The public address for a server bound to ``host:port``, unless ``RELANCE_PUBLIC_URL`` is
    set: then every link printed or queued (portal links, tracking, unsubscribe) points where the
    pages are served. Also exported to the environment, so gunicorn's workers and any process
    started from this one agree. An address bound to every interface is shown as 127.0.0.1."""
    if getattr(settings, "RELANCE_PUBLIC_URL_SET", False):
        return settings.RELANCE_PUBLIC_URL
    shown = "127.0.0.1" if host in ANY_ADDRESS else host
    if ":" in shown:
        shown = f"[{shown}]"  # an IPv6 literal
    url = f"http://{shown}:{port}"
    settings.RELANCE_PUBLIC_URL = url
    os.environ["RELANCE_PUBLIC_URL"] = url
    return url
