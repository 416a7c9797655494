"""Form widgets shared by the admin forms."""

from __future__ import annotations

from typing import Any

from django import forms


class SourceTextarea(forms.Textarea):
    """A textarea for code (templates, YAML) in a monospace font: a class and a stylesheet rather than
    a ``style`` attribute, which the Content-Security-Policy refuses (docs/security.md)."""

    class Media:
        css = {"all": ["web/admin.css"]}

    def __init__(self, rows: int, cols: int, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": rows, "cols": cols, "class": "source", **(attrs or {})})
