"""Names of files Relance hands out (downloads, e-mail attachments), built from ledger text.

An ERP reference may hold anything, a line break included; in a ``Content-Disposition`` header a
line break is a 500 (Django refuses the header) or, elsewhere, a header injection. Every download
name goes through ``download_filename``. Pure: no Django.
"""

from __future__ import annotations

import re

# Path separators, quotes and the characters Windows refuses in a file name.
_REFUSED = re.compile(r'[\\/"<>:;|?*]')
MAX_STEM = 120


def download_filename(stem: str, extension: str, *, fallback: str = "download") -> str:
    """``stem.extension`` with control characters, path separators and quotes in ``stem`` made
    ``_``, the stem at most ``MAX_STEM`` characters and never empty. Letters of any script stay."""
    cleaned = "".join("_" if not char.isprintable() or _REFUSED.match(char) else char for char in stem)
    cleaned = cleaned.strip(" ._")[:MAX_STEM] or fallback
    return f"{cleaned}.{extension}"
