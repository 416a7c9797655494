"""What an import tells the apps above it (which ingest cannot import: the layers contract).

``import_committed`` is sent once a file import was committed (not for a dry run or a rejected
file), with ``entity``, ``kind`` and ``rows``. A receiver returns a line for the importer to show
(or None): the data-quality monitoring (relance.quality) answers with the problems it found new."""

from __future__ import annotations

from django.dispatch import Signal

import_committed = Signal()
