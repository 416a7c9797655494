"""Where the browser tests put their screenshots.

By default a temporary folder: a test run changes nothing in the repository. With
``RELANCE_SCREENSHOTS=1`` they retake ``docs/screenshots/`` (the portal's pages and the workspace
pages that ``scripts/screenshots.py``'s tour of the demo does not take); any other value is a folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def screenshot_dir() -> Path:
    wanted = os.environ.get("RELANCE_SCREENSHOTS", "")
    folder = (
        DOCS
        if wanted == "1"
        else Path(wanted)
        if wanted
        else Path(tempfile.gettempdir()) / "relance-screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder
