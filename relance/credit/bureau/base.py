"""What every bureau gives, in one shape: the report as value objects, the provider interface and
its errors. Pure: no Django (the credit app stores what these return, ``services/bureau.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from relance.core.errors import RelanceError
from relance.core.money import validate_currency

# What a bureau says is wrong with a company: the kinds the adapters and the file import write.
DEROGATORY_KINDS = ("ccj", "judgment", "lien", "bankruptcy", "insolvency", "collection", "other")
DEFAULT_TIMEOUT_SECONDS = 20.0


class BureauError(RelanceError):
    """A bureau could not give a report: it names the provider and the identifier asked for, never
    the credentials. ``retry_after`` (seconds) when the bureau said when to come back (HTTP 429)."""

    code = "bureau_error"

    def __init__(
        self,
        provider: str,
        identifier: str,
        what: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        where = f" for {identifier}" if identifier else ""
        super().__init__(f"{provider}{where}: {what}", code=code)
        self.provider = provider
        self.identifier = identifier
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class DerogatoryEvent:
    """One adverse fact in a report: a court judgment, a lien, an insolvency…; ``date`` when the
    bureau gives one, ``amount`` and ``currency`` when it has a value."""

    kind: str
    date: date | None = None
    amount: Decimal | None = None
    currency: str | None = None
    text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in DEROGATORY_KINDS:
            raise ValueError(f"derogatory kind {self.kind!r}: expected one of {', '.join(DEROGATORY_KINDS)}")
        if (self.amount is None) != (self.currency is None):
            raise ValueError("a derogatory event's amount and currency go together")

    def as_json(self) -> dict[str, str | None]:
        """The event as ``BureauReport.derogatory`` keeps it (exact amounts as strings)."""
        return {
            "kind": self.kind,
            "date": self.date.isoformat() if self.date else None,
            "amount": str(self.amount) if self.amount is not None else None,
            "currency": self.currency,
            "text": self.text,
        }


@dataclass(frozen=True)
class BureauReportData:
    """A bureau's report on one company, mapped to Relance's scale: ``bureau_score`` 0–100 with
    higher safer (``None``: the bureau gives no score), next to ``provider_score`` and ``rating``
    as the bureau writes them; ``raw_payload`` is the bureau's answer, whole."""

    provider: str
    provider_company_id: str
    company_name: str
    reported_on: date
    bureau_score: float | None
    provider_score: str = ""
    rating: str = ""
    recommended_limit: Decimal | None = None
    currency: str | None = None
    identifiers: Mapping[str, str] = field(default_factory=dict)
    derogatory_events: tuple[DerogatoryEvent, ...] = ()
    raw_payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bureau_score is not None and not (
            math.isfinite(self.bureau_score) and 0 <= self.bureau_score <= 100
        ):
            raise ValueError(f"bureau_score {self.bureau_score!r}: expected 0 to 100")
        if (self.recommended_limit is None) != (self.currency is None):
            raise ValueError("a recommended limit and its currency go together")
        if self.recommended_limit is not None and self.recommended_limit < 0:
            raise ValueError(f"recommended_limit {self.recommended_limit}: expected 0 or more")

    def __hash__(self) -> int:  # the mappings are not hashable; a report is identified by these
        return hash((self.provider, self.provider_company_id, self.reported_on))


@dataclass(frozen=True)
class CompanyMatch:
    """One company a bureau's search found: ``provider_company_id`` is what ``report`` takes."""

    provider: str
    provider_company_id: str
    name: str
    country: str = ""
    status: str = ""
    identifiers: Mapping[str, str] = field(default_factory=dict)
    confidence: int | None = None  # D&B's confidence code 1–10; Creditsafe gives none

    def __hash__(self) -> int:
        return hash((self.provider, self.provider_company_id))


class BureauProvider(Protocol):
    """A credit bureau: find a company, then order its report."""

    name: str

    def search(
        self,
        *,
        country: str,
        registration_number: str | None = None,
        vat_number: str | None = None,
        name: str | None = None,
    ) -> list[CompanyMatch]: ...

    def report(self, identifier: str) -> BureauReportData: ...

    def close(self) -> None: ...


# --- reading the bureaus' JSON ------------------------------------------------------------------


def dig(payload: Any, *path: str | int) -> Any:
    """``payload[a][b]…`` or ``None`` where any step is missing (bureaus leave sections out)."""
    current = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return None
        elif not isinstance(current, dict):
            return None
        current = current[step] if isinstance(step, int) else current.get(step)
        if current is None:
            return None
    return current


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def decimal_or_none(value: Any) -> Decimal | None:
    """A bureau's amount (a JSON number or a numeric string) as a Decimal; None when not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def float_or_none(value: Any) -> float | None:
    amount = decimal_or_none(value)
    return float(amount) if amount is not None else None


def currency_or_none(value: Any) -> str | None:
    try:
        return validate_currency(text(value)) if text(value) else None
    except RelanceError:
        return None


def date_or_none(value: Any) -> date | None:
    """``2019-01-14`` or ``2019-01-14T00:00:00Z`` (bureaus send both) as a date."""
    raw = text(value)
    if len(raw) < 10:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def money(amount: Any, currency: Any) -> tuple[Decimal | None, str | None]:
    """An amount and its currency, both or neither (an amount without a currency means nothing)."""
    value, code = decimal_or_none(amount), currency_or_none(currency)
    if value is None or code is None or value < 0:
        return None, None
    return value, code


# --- HTTP ---------------------------------------------------------------------------------------


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number of seconds or an HTTP date (RFC 9110)."""
    if not header:
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    provider: str,
    identifier: str,
    credentials_hint: str,
    provider_message: Any = None,
) -> dict[str, Any]:
    """Send ``request`` and return its JSON object, or raise a ``BureauError`` that says what went
    wrong in words: refused credentials (401/403), no such company (404), rate limited (429, with
    when to retry), a timeout, the bureau unreachable or answering something else."""
    try:
        response = client.send(request)
    except httpx.TimeoutException:
        raise BureauError(
            provider,
            identifier,
            f"no answer within {client.timeout.read or DEFAULT_TIMEOUT_SECONDS:g} s (timeout); try again later",
            code="bureau_timeout",
        ) from None
    except httpx.TransportError as exc:
        raise BureauError(
            provider,
            identifier,
            f"could not reach {request.url.host} ({type(exc).__name__})",
            code="bureau_unreachable",
        ) from None
    status = response.status_code
    said = _provider_message(response, provider_message)
    if status in (401, 403):
        raise BureauError(
            provider,
            identifier,
            f"credentials refused (HTTP {status}{said}): check {credentials_hint}",
            code="bureau_unauthorised",
            status=status,
        )
    if status == 404:
        raise BureauError(
            provider, identifier, f"no such company (HTTP 404{said})", code="bureau_not_found", status=404
        )
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        when = f"retry after {wait:g} s" if wait is not None else "retry later"
        raise BureauError(
            provider,
            identifier,
            f"rate limited (HTTP 429{said}): {when}",
            code="bureau_rate_limited",
            status=429,
            retry_after=wait,
        )
    if status >= 400:
        raise BureauError(
            provider, identifier, f"answered HTTP {status}{said}", code="bureau_failed", status=status
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BureauError(
            provider,
            identifier,
            "answered something other than a JSON object",
            code="bureau_failed",
            status=status,
        )
    return body


def _provider_message(response: httpx.Response, reader: Any) -> str:
    """The bureau's own explanation, when its error body has one (kept short: it goes in logs)."""
    if reader is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = text(reader(body))[:200]
    return f": {message}" if message else ""


class TokenSession:
    """A bureau's API over HTTPS with a bearer token, the one home of what both adapters do
    around a request: the token is asked for on first use (``token_request`` builds that request,
    ``answer_field`` names the token in its answer) and asked for again once when the bureau
    refuses it (expired); every answer goes through ``send`` (the one mapping of HTTP errors)."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        credentials_hint: str,
        provider_message: Callable[[Any], Any],
        token_request: Callable[[httpx.Client], httpx.Request],
        answer_field: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/") + "/", timeout=timeout, transport=transport)
        self._provider = provider
        self._credentials_hint = credentials_hint
        self._provider_message = provider_message
        self._token_request = token_request
        self._answer_field = answer_field
        self._headers = dict(headers or {})
        self._token: str | None = None

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: Mapping[str, str], identifier: str) -> dict[str, Any]:
        """``GET path`` with the token: the JSON object, or a ``BureauError`` in words."""
        for attempt in (1, 2):
            request = self.client.build_request(
                "GET",
                path,
                params=params,
                headers={"Authorization": f"Bearer {self._authenticate(identifier)}", **self._headers},
            )
            try:
                return self._send(request, identifier)
            except BureauError as error:
                if error.code != "bureau_unauthorised" or attempt == 2:
                    raise
                self._token = None  # expired: one new token, one more try
        raise AssertionError("unreachable")  # pragma: no cover

    def _authenticate(self, identifier: str) -> str:
        if self._token is None:
            token = text(self._send(self._token_request(self.client), identifier).get(self._answer_field))
            if not token:
                raise BureauError(
                    self._provider,
                    identifier,
                    f"the token request answered no {self._answer_field}",
                    code="bureau_failed",
                )
            self._token = token
        return self._token

    def _send(self, request: httpx.Request, identifier: str) -> dict[str, Any]:
        return send(
            self.client,
            request,
            provider=self._provider,
            identifier=identifier,
            credentials_hint=self._credentials_hint,
            provider_message=self._provider_message,
        )
