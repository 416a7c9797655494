"""Credit bureaus (issue 15, item 3): one report shape for every bureau, adapters for Creditsafe
Connect and D&B Direct+, and the report files bureaus deliver. Pure: no Django here; the credit
app's ``services/bureau.py`` stores the reports and says when one is a deterioration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relance.credit.bureau.base import (
    DEROGATORY_KINDS,
    BureauError,
    BureauProvider,
    BureauReportData,
    CompanyMatch,
    DerogatoryEvent,
)
from relance.credit.bureau.files import BureauFileReport, parse_bureau_file

__all__ = [
    "DEROGATORY_KINDS",
    "PROVIDERS",
    "BureauError",
    "BureauFileReport",
    "BureauProvider",
    "BureauReportData",
    "CompanyMatch",
    "DerogatoryEvent",
    "parse_bureau_file",
    "provider_from_env",
]

# The bureaus with an adapter (--provider NAME); a file import takes any bureau's name.
PROVIDERS = ("creditsafe", "dnb")


def provider_from_env(name: str, environ: Mapping[str, str] | None = None, **options: Any) -> BureauProvider:
    """The adapter for ``name`` with its credentials from the environment (docs/credit.md lists
    the variables); a ``BureauError`` when they are not set."""
    if name == "creditsafe":
        from relance.credit.bureau.creditsafe import CreditsafeProvider

        return CreditsafeProvider.from_env(environ, **options)
    if name == "dnb":
        from relance.credit.bureau.dnb import DnbProvider

        return DnbProvider.from_env(environ, **options)
    raise BureauError(name, "", f"no adapter: expected one of {', '.join(PROVIDERS)}", code="invalid")
