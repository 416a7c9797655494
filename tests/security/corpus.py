"""The payload corpora under ``tests/security/corpus/``: one payload a line, ``#`` starts a comment."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def lines(name: str) -> list[str]:
    """The payloads of ``corpus/<name>`` (``.jsonl``: one JSON string a line, for control characters)."""
    path = CORPUS / name
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        found.append(json.loads(raw) if path.suffix == ".jsonl" else raw)
    return found
