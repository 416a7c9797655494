"""Dun & Bradstreet Direct+ (https://directplus.documentation.dnb.com): an OAuth2 client-credentials
token (``POST /v3/token``, HTTP Basic with the key and secret), data blocks by D-U-N-S number
(``GET /v1/data/duns/{duns}?blockIDs=…``) and identity resolution (``GET /v1/match/cleanseMatch``).

Mapped from ``organization``:
- ``dnbAssessment.failureScore.nationalPercentile`` (1–100, 100 the least likely to fail) is the
  bureau score as it is, on Relance's scale already; 0 or missing: no score (``None``);
- ``dnbAssessment.standardRating.rating`` (e.g. ``5A2``) the rating, else the failure score's class
  description; the provider score reads ``percentile 83, class 2``;
- ``dnbAssessment.creditLimitRecommendation.maximumRecommendedLimit`` (value, currency) the
  recommended limit;
- ``legalEvents`` (the eventfilings block): open bankruptcy, open judgments, open liens and
  insolvency become derogatory events (D&B gives flags there, without dates or amounts).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import httpx

from relance.core.clock import Clock, SystemClock
from relance.core.errors import ValidationFailed
from relance.core.identifiers import validate_identifier
from relance.credit.bureau.base import (
    DEFAULT_TIMEOUT_SECONDS,
    BureauError,
    BureauReportData,
    CompanyMatch,
    DerogatoryEvent,
    TokenSession,
    date_or_none,
    dig,
    float_or_none,
    money,
    text,
)

NAME = "dnb"
LABEL = "D&B Direct+"
PRODUCTION_URL = "https://plus.dnb.com"
ENV_KEY = "RELANCE_DNB_KEY"
ENV_SECRET = "RELANCE_DNB_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_URL = "RELANCE_DNB_URL"
ENV_BLOCKS = "RELANCE_DNB_BLOCKS"
CREDENTIALS_HINT = f"{ENV_KEY} and {ENV_SECRET} (the Direct+ consumer key and secret)"
# companyinfo: name, registration numbers; financialstrengthinsight: failure and delinquency scores,
# standard rating, credit limit recommendation; paymentinsight: paydex (kept in the raw payload);
# eventfilings: legal events. Your contract decides which you may order (RELANCE_DNB_BLOCKS).
DEFAULT_BLOCKS = (
    "companyinfo_L2_v1",
    "financialstrengthinsight_L2_v1",
    "paymentinsight_L1_v1",
    "eventfilings_L1_v1",
)
LEGAL_EVENT_FLAGS = (
    ("hasOpenBankruptcy", "bankruptcy", "Open bankruptcy on file"),
    ("hasInsolvency", "insolvency", "Insolvency on file"),
    ("hasOpenJudgments", "judgment", "Open judgments on file"),
    ("hasOpenLiens", "lien", "Open liens on file"),
)


def map_report(payload: Mapping[str, Any], duns: str, reported_on: date) -> BureauReportData:
    """A Direct+ data blocks answer as a ``BureauReportData``; ``reported_on`` when D&B's
    transaction timestamp is missing."""
    organization = dig(payload, "organization") or {}
    assessment = dig(organization, "dnbAssessment") or {}
    failure = dig(assessment, "failureScore") or {}
    percentile = float_or_none(dig(failure, "nationalPercentile"))
    score = percentile if percentile is not None and 0 < percentile <= 100 else None
    words = []
    if percentile is not None:
        words.append(f"percentile {text(failure.get('nationalPercentile'))}")
    if text(failure.get("classScore")):
        words.append(f"class {text(failure.get('classScore'))}")
    recommended = dig(assessment, "creditLimitRecommendation", "maximumRecommendedLimit") or {}
    limit, currency = money(dig(recommended, "value"), dig(recommended, "currency"))
    country = text(
        dig(organization, "countryISOAlpha2Code")
        or dig(organization, "primaryAddress", "addressCountry", "isoAlpha2Code")
    )
    return BureauReportData(
        provider=NAME,
        provider_company_id=text(organization.get("duns")) or duns,
        company_name=text(organization.get("primaryName")),
        reported_on=date_or_none(dig(payload, "transactionDetail", "transactionTimestamp")) or reported_on,
        bureau_score=score,
        provider_score=", ".join(words),
        rating=text(dig(assessment, "standardRating", "rating"))
        or text(failure.get("classScoreDescription")),
        recommended_limit=limit,
        currency=currency,
        identifiers=_identifiers(
            text(organization.get("duns")) or duns, country.upper(), organization.get("registrationNumbers")
        ),
        derogatory_events=tuple(
            DerogatoryEvent(kind=kind, text=words_)
            for flag, kind, words_ in LEGAL_EVENT_FLAGS
            if dig(organization, "legalEvents", flag) is True
        ),
        raw_payload=dict(payload),
    )


def _identifiers(duns: str, country: str, registrations: Any) -> dict[str, str]:
    found = {"duns": duns, "country": country}
    numbers = [
        item
        for item in registrations or []
        if isinstance(item, dict) and text(item.get("registrationNumber"))
    ]
    preferred = [item for item in numbers if item.get("isPreferredRegistrationNumber") is True] or numbers
    if preferred:
        found["registration_number"] = text(preferred[0].get("registrationNumber"))
    return {key: value for key, value in found.items() if value}


def _basic_auth(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")


def _error_message(body: Any) -> Any:
    return dig(body, "error", "errorMessage")


class DnbProvider:
    """D&B Direct+ over HTTPS. The token is asked for on first use and again once when D&B refuses
    it (expired)."""

    name = NAME

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        base_url: str = PRODUCTION_URL,
        blocks: Sequence[str] = DEFAULT_BLOCKS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not key or not secret:
            raise BureauError(
                LABEL, "", f"not configured: set {ENV_KEY} and {ENV_SECRET}", code="bureau_not_configured"
            )
        authorization = _basic_auth(key, secret)
        self._blocks = ",".join(blocks)
        self._clock = clock or SystemClock()
        self._session = TokenSession(
            provider=LABEL,
            base_url=base_url,
            credentials_hint=CREDENTIALS_HINT,
            provider_message=_error_message,
            token_request=lambda client: client.build_request(
                "POST",
                "v3/token",
                json={"grant_type": "client_credentials"},
                headers={"Authorization": authorization},
            ),
            answer_field="access_token",
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:  # never the credentials
        return f"DnbProvider(base_url={str(self._session.client.base_url)!r}, blocks={self._blocks!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> DnbProvider:
        env = os.environ if environ is None else environ
        blocks = [block.strip() for block in env.get(ENV_BLOCKS, "").split(",") if block.strip()]
        return cls(
            env.get(ENV_KEY, ""),
            env.get(ENV_SECRET, ""),
            base_url=env.get(ENV_URL) or PRODUCTION_URL,
            blocks=blocks or DEFAULT_BLOCKS,
            **options,
        )

    def close(self) -> None:
        self._session.close()

    def search(
        self,
        *,
        country: str,
        registration_number: str | None = None,
        vat_number: str | None = None,
        name: str | None = None,
    ) -> list[CompanyMatch]:
        """Identity resolution (``cleanseMatch``): candidates with D&B's confidence code, best first.
        A VAT number is a registration number to D&B."""
        params = {
            "countryISOAlpha2Code": country.upper(),
            "registrationNumber": registration_number or vat_number,
            "name": name,
        }
        query = {key: value for key, value in params.items() if value}
        identifier = registration_number or vat_number or name or country
        body = self._session.get("v1/match/cleanseMatch", query, identifier)
        matches = []
        for candidate in body.get("matchCandidates") or []:
            organization = dig(candidate, "organization") or {}
            duns = text(organization.get("duns"))
            if not duns:
                continue
            code = text(
                organization.get("countryISOAlpha2Code")
                or dig(organization, "primaryAddress", "addressCountry", "isoAlpha2Code")
            )
            confidence = dig(candidate, "matchQualityInformation", "confidenceCode")
            matches.append(
                CompanyMatch(
                    provider=NAME,
                    provider_company_id=duns,
                    name=text(organization.get("primaryName")),
                    country=code.upper(),
                    status=text(dig(organization, "dunsControlStatus", "operatingStatus", "description")),
                    identifiers=_identifiers(duns, code.upper(), organization.get("registrationNumbers")),
                    confidence=int(confidence) if isinstance(confidence, int) else None,
                )
            )
        return matches

    def report(self, identifier: str) -> BureauReportData:
        """``GET /v1/data/duns/{duns}?blockIDs=…``: the data blocks, mapped."""
        try:
            duns = validate_identifier("duns", identifier)
        except ValidationFailed as exc:
            raise BureauError(LABEL, text(identifier), exc.message, code="invalid") from None
        body = self._session.get(f"v1/data/duns/{duns}", {"blockIDs": self._blocks}, duns)
        return map_report(body, duns, self._clock.today())
