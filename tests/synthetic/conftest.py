"""A small generated ledger shared by the synthetic tests (generation is pure: no database)."""

from __future__ import annotations

from datetime import date

import pytest

from relance.synthetic.generator import GeneratedLedger, GeneratorConfig, generate_ledger

END = date(2026, 11, 23)
DEFAULT_CONFIG = GeneratorConfig(seed=7, customers=500, years=2, end=END)


@pytest.fixture(scope="session")
def ledger() -> GeneratedLedger:
    return generate_ledger(DEFAULT_CONFIG)
