"""Creditsafe Connect (https://doc.creditsafe.com, Connect API v1): a token from the user key and
password, a company search by registration or VAT number, the credit report by connectId.

Mapped from the report (paths as Creditsafe's data dictionaries write them):
- ``report.creditScore.currentCreditRating``: ``commonValue`` (the international A–E scale) is the
  rating; ``providerValue.value`` (the local score, with ``minValue``/``maxValue``) the provider
  score; ``creditLimit`` (value, currency) the recommended limit;
- ``report.negativeInformation``: county court judgments (``countyCourtJudgements.registered.exact``,
  GB/IE: exact matches only, possible matches are not the company for sure) and a bankruptcy flag
  (``bankruptcy.hasBankruptcy``) become derogatory events.

The score on Relance's scale: Creditsafe's common bands are A 71–100 (very low risk), B 51–70,
C 30–50, D 0–29 and E not rated. The local score rescaled to 0–100 by its own range is used when it
falls in its common value's band (the Creditsafe Rating, 1–100 in most countries); otherwise (a
local scale that runs the other way, as Germany's 100–600) the middle of the band. E, or no score
at all, gives ``None``: the scorecard's "no bureau score" points apply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx

from relance.core.clock import Clock, SystemClock
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

NAME = "creditsafe"
LABEL = "Creditsafe"
PRODUCTION_URL = "https://connect.creditsafe.com/v1"
SANDBOX_URL = "https://connect.sandbox.creditsafe.com/v1"
ENV_USERNAME = "RELANCE_CREDITSAFE_USERNAME"
ENV_PASSWORD = "RELANCE_CREDITSAFE_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_URL = "RELANCE_CREDITSAFE_URL"
CREDENTIALS_HINT = f"{ENV_USERNAME} (the Connect user key, not the e-mail login) and {ENV_PASSWORD}"

# Creditsafe's international bands (help.creditsafe.com: "How does Creditsafe indicate if a company
# is creditworthy?"): the common value's range on 0–100, higher safer. E: not rated.
COMMON_BANDS: dict[str, tuple[float, float]] = {
    "A": (71.0, 100.0),
    "B": (51.0, 70.0),
    "C": (30.0, 50.0),
    "D": (0.0, 29.0),
}


def normalised_score(common_value: str, provider: Mapping[str, Any] | None) -> float | None:
    """Creditsafe's rating on Relance's 0–100 scale (higher safer): see the module's docstring."""
    band = COMMON_BANDS.get(common_value.upper())
    value = float_or_none(dig(provider, "value"))
    low, high = float_or_none(dig(provider, "minValue")), float_or_none(dig(provider, "maxValue"))
    rescaled: float | None = None
    if value is not None:
        if low is not None and high is not None and high > low:
            rescaled = (value - low) / (high - low) * 100
        elif 0 <= value <= 100:
            rescaled = value
    if rescaled is not None and 0 <= rescaled <= 100:
        if band is None and common_value == "":
            return round(rescaled, 2)
        if band is not None and band[0] <= rescaled <= band[1]:
            return round(rescaled, 2)
    if band is None:
        return None
    return (band[0] + band[1]) / 2


def map_report(payload: Mapping[str, Any], connect_id: str, reported_on: date) -> BureauReportData:
    """A Connect company credit report (``GET /companies/{connectId}``) as a ``BureauReportData``."""
    report = dig(payload, "report") or {}
    summary = dig(report, "companySummary") or {}
    basic = dig(report, "companyIdentification", "basicInformation") or {}
    rating = dig(report, "creditScore", "currentCreditRating") or dig(summary, "creditRating") or {}
    common_value = text(dig(rating, "commonValue")).upper()
    provider_value = dig(rating, "providerValue")
    provider_score = (
        text(dig(provider_value, "value")) if isinstance(provider_value, dict) else text(provider_value)
    )
    limit, currency = money(dig(rating, "creditLimit", "value"), dig(rating, "creditLimit", "currency"))
    country = text(dig(summary, "country") or dig(basic, "country")).upper()
    return BureauReportData(
        provider=NAME,
        provider_company_id=text(dig(report, "companyId")) or connect_id,
        company_name=text(
            dig(summary, "businessName") or dig(basic, "businessName") or dig(basic, "registeredCompanyName")
        ),
        reported_on=reported_on,
        bureau_score=normalised_score(
            common_value, provider_value if isinstance(provider_value, dict) else None
        ),
        provider_score=provider_score,
        rating=common_value or text(dig(rating, "commonDescription")),
        recommended_limit=limit,
        currency=currency,
        identifiers=_identifiers(
            country,
            text(dig(summary, "companyRegistrationNumber") or dig(basic, "companyRegistrationNumber")),
            text(dig(basic, "vatRegistrationNumber")),
            text(dig(summary, "companyNumber")),
        ),
        derogatory_events=_derogatory_events(dig(report, "negativeInformation") or {}),
        raw_payload=dict(payload),
    )


def _identifiers(country: str, registration: str, vat: str, safe_number: str) -> dict[str, str]:
    found = {"country": country, "vat": vat, "creditsafe_safe_number": safe_number}
    if registration:
        kind = {"GB": "company_number", "FR": "siren"}.get(country, "registration_number")
        found[kind] = registration
    return {key: value for key, value in found.items() if value}


def _derogatory_events(negative: Mapping[str, Any]) -> tuple[DerogatoryEvent, ...]:
    events: list[DerogatoryEvent] = []
    summary_currency = dig(negative, "ccjSummary", "currency")
    for ccj in dig(negative, "countyCourtJudgements", "registered", "exact") or []:
        if not isinstance(ccj, dict):
            continue
        amount, currency = money(ccj.get("ccjAmount"), ccj.get("currency") or summary_currency)
        words = ["County court judgment", text(ccj.get("caseNumber"))]
        if text(ccj.get("court")):
            words.append(f"at {text(ccj.get('court'))}")
        status = text(ccj.get("ccjStatus"))
        events.append(
            DerogatoryEvent(
                kind="ccj",
                date=date_or_none(ccj.get("ccjDate")),
                amount=amount,
                currency=currency,
                text=" ".join(word for word in words if word) + (f" ({status})" if status else ""),
            )
        )
    if dig(negative, "bankruptcy", "hasBankruptcy") is True:
        events.append(DerogatoryEvent(kind="bankruptcy", text="Bankruptcy on file"))
    return tuple(events)


def _error_message(body: Any) -> Any:
    return dig(body, "message") or dig(body, "details") or dig(body, "error")


class CreditsafeProvider:
    """Creditsafe Connect over HTTPS. The token (valid one hour) is asked for on first use and asked
    for again once when Creditsafe refuses it (expired)."""

    name = NAME

    def __init__(
        self,
        username: str,
        password: str,
        *,
        base_url: str = PRODUCTION_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not username or not password:
            raise BureauError(
                LABEL,
                "",
                f"not configured: set {ENV_USERNAME} and {ENV_PASSWORD}",
                code="bureau_not_configured",
            )
        credentials = {"username": username, "password": password}
        self._clock = clock or SystemClock()
        self._session = TokenSession(
            provider=LABEL,
            base_url=base_url,
            credentials_hint=CREDENTIALS_HINT,
            provider_message=_error_message,
            token_request=lambda client: client.build_request("POST", "authenticate", json=credentials),
            answer_field="token",
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:  # never the credentials
        return f"CreditsafeProvider(base_url={str(self._session.client.base_url)!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> CreditsafeProvider:
        env = os.environ if environ is None else environ
        return cls(
            env.get(ENV_USERNAME, ""),
            env.get(ENV_PASSWORD, ""),
            base_url=env.get(ENV_URL) or PRODUCTION_URL,
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
        """``GET /companies?countries=GB&regNo=…`` (or ``vatNo``, ``name``): the companies found."""
        params = {
            "countries": country.upper(),
            "regNo": registration_number,
            "vatNo": vat_number,
            "name": name,
        }
        query = {key: value for key, value in params.items() if value}
        identifier = registration_number or vat_number or name or country
        body = self._session.get("companies", query, identifier)
        matches = []
        for company in body.get("companies") or []:
            if not isinstance(company, dict) or not text(company.get("id")):
                continue
            vat = company.get("vatNo")
            vat_text = text(vat[0]) if isinstance(vat, list) and vat else text(vat)
            country_code = text(company.get("country")).upper()
            matches.append(
                CompanyMatch(
                    provider=NAME,
                    provider_company_id=text(company.get("id")),
                    name=text(company.get("name")),
                    country=country_code,
                    status=text(company.get("status")),
                    identifiers=_identifiers(
                        country_code, text(company.get("regNo")), vat_text, text(company.get("safeNo"))
                    ),
                )
            )
        return matches

    def report(self, identifier: str) -> BureauReportData:
        """``GET /companies/{connectId}``: the company credit report, mapped."""
        connect_id = text(identifier)
        if not connect_id:
            raise BureauError(
                LABEL, "", "expected a connectId (from a search) such as GB-0-07495895", code="invalid"
            )
        body = self._session.get(f"companies/{connect_id}", {"language": "en"}, connect_id)
        return map_report(body, connect_id, self._clock.today())
