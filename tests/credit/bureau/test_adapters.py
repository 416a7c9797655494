"""The Creditsafe and D&B adapters against their documented payloads (respx: no network)."""

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from relance.core.clock import FrozenClock
from relance.credit.bureau import BureauError, DerogatoryEvent, provider_from_env
from relance.credit.bureau.base import retry_after_seconds
from relance.credit.bureau.creditsafe import CreditsafeProvider, normalised_score
from relance.credit.bureau.dnb import DnbProvider
from tests.credit.bureau import fixtures

CS = "https://connect.creditsafe.com/v1"
DNB = "https://plus.dnb.com"
CLOCK = FrozenClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def creditsafe():
    provider = CreditsafeProvider("user-key", "s3cret-pw", clock=CLOCK)
    yield provider
    provider.close()


@pytest.fixture
def dnb():
    provider = DnbProvider("dnb-key", "dnb-s3cret", clock=CLOCK)
    yield provider
    provider.close()


@respx.mock
def test_creditsafe_authenticates_searches_and_maps_the_report(creditsafe):
    auth = respx.post(f"{CS}/authenticate").respond(json=fixtures.CREDITSAFE_TOKEN)
    search = respx.get(f"{CS}/companies", params={"countries": "GB", "regNo": "07495895"}).respond(
        json=fixtures.CREDITSAFE_SEARCH
    )
    report = respx.get(f"{CS}/companies/GB-0-07495895", params={"language": "en"}).respond(
        json=fixtures.CREDITSAFE_REPORT
    )

    [match] = creditsafe.search(country="gb", registration_number="07495895")
    assert match.provider_company_id == "GB-0-07495895"
    assert match.name == "GOCARDLESS LTD"
    assert match.identifiers == {
        "country": "GB",
        "vat": "GB980780684",
        "creditsafe_safe_number": "UK13646576",
        "company_number": "07495895",
    }
    data = creditsafe.report(match.provider_company_id)

    assert auth.call_count == 1  # one token for both calls
    assert json.loads(auth.calls[0].request.content) == {"username": "user-key", "password": "s3cret-pw"}
    assert search.calls[0].request.headers["Authorization"] == "Bearer " + fixtures.CREDITSAFE_TOKEN["token"]
    assert report.call_count == 1
    assert data.provider == "creditsafe"
    assert data.provider_company_id == "GB-0-07495895"
    assert data.company_name == "GOCARDLESS LTD"
    assert data.reported_on == date(2026, 12, 1)
    assert data.rating == "B"
    assert data.provider_score == "64"
    assert data.bureau_score == pytest.approx(63.64, abs=0.01)  # 64 on 1–100, within B's 51–70
    assert (data.recommended_limit, data.currency) == (Decimal("25000"), "GBP")
    assert data.identifiers["company_number"] == "07495895"
    assert data.derogatory_events == (  # the exact match only: a possible match may be another company
        DerogatoryEvent(
            kind="ccj",
            date=date(2026, 3, 14),
            amount=Decimal("1830.5"),
            currency="GBP",
            text="County court judgment K3QZ0123 at NORTHAMPTON (Judgment)",
        ),
    )
    assert data.raw_payload == fixtures.CREDITSAFE_REPORT


@pytest.mark.parametrize(
    ("common", "provider", "expected"),
    [
        ("A", {"value": "90", "minValue": "1", "maxValue": "100"}, 89.9),
        ("C", {"value": "45"}, 45.0),
        (
            "A",
            {"value": "150", "minValue": "100", "maxValue": "600"},
            85.5,
        ),  # a scale that runs the other way
        ("D", {"value": "n/a"}, 14.5),
        ("E", {"value": "0", "minValue": "0", "maxValue": "100"}, None),  # not rated
        ("", {"value": "72", "minValue": "0", "maxValue": "100"}, 72.0),
        ("", None, None),
    ],
)
def test_creditsafe_scores_on_relances_scale(common, provider, expected):
    score = normalised_score(common, provider)
    assert score == (pytest.approx(expected, abs=0.01) if expected is not None else None)


@respx.mock
def test_dnb_token_data_blocks_and_mapping(dnb):
    token = respx.post(f"{DNB}/v3/token").respond(json=fixtures.DNB_TOKEN)
    blocks = respx.get(f"{DNB}/v1/data/duns/804735132").respond(json=fixtures.DNB_REPORT)
    match = respx.get(f"{DNB}/v1/match/cleanseMatch").respond(json=fixtures.DNB_MATCH)

    [candidate] = dnb.search(country="US", registration_number="12-3456789")
    data = dnb.report("80-473-5132")

    sent = token.calls[0].request
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"dnb-key:dnb-s3cret").decode()
    assert json.loads(sent.content) == {"grant_type": "client_credentials"}
    assert token.call_count == 1
    assert match.calls[0].request.url.params["registrationNumber"] == "12-3456789"
    assert (candidate.provider_company_id, candidate.confidence) == ("804735132", 10)
    assert blocks.calls[0].request.url.params["blockIDs"] == (
        "companyinfo_L2_v1,financialstrengthinsight_L2_v1,paymentinsight_L1_v1,eventfilings_L1_v1"
    )
    assert blocks.calls[0].request.headers["Authorization"] == "Bearer test-dnb-access-token"
    assert data.provider == "dnb"
    assert data.provider_company_id == "804735132"
    assert data.company_name == "Acme Corporation"
    assert data.reported_on == date(2026, 11, 30)  # D&B's transaction date, not the clock's
    assert data.bureau_score == 83.0
    assert data.provider_score == "percentile 83, class 2"
    assert data.rating == "5A2"
    assert (data.recommended_limit, data.currency) == (Decimal("75000"), "USD")
    assert data.identifiers == {"duns": "804735132", "country": "US", "registration_number": "12-3456789"}
    assert [event.kind for event in data.derogatory_events] == ["judgment"]
    assert data.raw_payload == fixtures.DNB_REPORT


def test_dnb_without_a_score_or_limit_gives_none():
    from relance.credit.bureau.dnb import map_report

    payload = {
        "organization": {
            "duns": "332716757",
            "dnbAssessment": {"failureScore": {"nationalPercentile": 0}, "creditLimitRecommendation": {}},
        }
    }
    data = map_report(payload, "332716757", date(2026, 12, 1))
    assert (data.bureau_score, data.recommended_limit, data.currency, data.reported_on) == (
        None,
        None,
        None,
        date(2026, 12, 1),
    )


@respx.mock
def test_an_expired_token_is_renewed_once(creditsafe):
    auth = respx.post(f"{CS}/authenticate").respond(json=fixtures.CREDITSAFE_TOKEN)
    report = respx.get(f"{CS}/companies/GB-0-07495895").mock(
        side_effect=[
            httpx.Response(401, json={"message": "Token expired"}),
            httpx.Response(200, json=fixtures.CREDITSAFE_REPORT),
        ]
    )
    assert creditsafe.report("GB-0-07495895").rating == "B"
    assert (auth.call_count, report.call_count) == (2, 2)


@respx.mock
def test_refused_credentials_name_the_provider_the_company_and_the_variables_never_the_secret(creditsafe):
    respx.post(f"{CS}/authenticate").respond(401, json={"message": "Invalid username or password"})
    with pytest.raises(BureauError) as raised:
        creditsafe.report("GB-0-07495895")
    error = raised.value
    assert error.code == "bureau_unauthorised"
    assert str(error) == (
        "Creditsafe for GB-0-07495895: credentials refused (HTTP 401: Invalid username or password): check "
        "RELANCE_CREDITSAFE_USERNAME (the Connect user key, not the e-mail login) and RELANCE_CREDITSAFE_PASSWORD"
    )
    assert "s3cret" not in str(error) and "s3cret" not in repr(creditsafe)


@respx.mock
def test_dnb_refusal_after_a_new_token_quotes_dnb(dnb):
    respx.post(f"{DNB}/v3/token").respond(json=fixtures.DNB_TOKEN)
    respx.get(f"{DNB}/v1/data/duns/804735132").respond(401, json=fixtures.DNB_UNAUTHORISED)
    with pytest.raises(
        BureauError,
        match=r"D&B Direct\+ for 804735132: credentials refused \(HTTP 401: You are not currently authorised",
    ):
        dnb.report("804735132")


@respx.mock
def test_unknown_company_is_a_clear_404(creditsafe, dnb):
    respx.post(f"{CS}/authenticate").respond(json=fixtures.CREDITSAFE_TOKEN)
    respx.get(f"{CS}/companies/GB-0-99999999").respond(404, json=fixtures.CREDITSAFE_NOT_FOUND)
    respx.post(f"{DNB}/v3/token").respond(json=fixtures.DNB_TOKEN)
    respx.get(f"{DNB}/v1/data/duns/999999999").respond(404, json=fixtures.DNB_NOT_FOUND)
    with pytest.raises(
        BureauError, match=r"^Creditsafe for GB-0-99999999: no such company \(HTTP 404: Company not found\)$"
    ):
        creditsafe.report("GB-0-99999999")
    with pytest.raises(
        BureauError, match=r"^D&B Direct\+ for 999999999: no such company \(HTTP 404: Not Found\)$"
    ) as raised:
        dnb.report("999999999")
    assert raised.value.code == "bureau_not_found"


@respx.mock
def test_rate_limit_says_when_to_come_back(dnb):
    respx.post(f"{DNB}/v3/token").respond(json=fixtures.DNB_TOKEN)
    respx.get(f"{DNB}/v1/data/duns/804735132").respond(429, headers={"Retry-After": "30"})
    with pytest.raises(
        BureauError, match=r"^D&B Direct\+ for 804735132: rate limited \(HTTP 429\): retry after 30 s$"
    ) as raised:
        dnb.report("804735132")
    assert (raised.value.code, raised.value.retry_after, raised.value.status) == (
        "bureau_rate_limited",
        30.0,
        429,
    )


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Tue, 01 Dec 2026 09:01:30 GMT", now) == 90.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


@respx.mock
def test_a_timeout_is_named(creditsafe):
    respx.post(f"{CS}/authenticate").respond(json=fixtures.CREDITSAFE_TOKEN)
    respx.get(f"{CS}/companies/GB-0-07495895").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(
        BureauError,
        match=r"^Creditsafe for GB-0-07495895: no answer within 20 s \(timeout\); try again later$",
    ) as raised:
        creditsafe.report("GB-0-07495895")
    assert raised.value.code == "bureau_timeout"


@respx.mock
def test_unreachable_and_not_json(dnb):
    respx.post(f"{DNB}/v3/token").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(BureauError, match=r"could not reach plus.dnb.com \(ConnectError\)"):
        dnb.report("804735132")
    respx.post(f"{DNB}/v3/token").respond(200, text="<html>maintenance</html>")
    with pytest.raises(BureauError, match="answered something other than a JSON object"):
        dnb.report("804735132")


def test_a_malformed_duns_is_refused_before_any_call(dnb):
    with pytest.raises(BureauError, match=r"^D&B Direct\+ for 12345: invalid D-U-N-S number '12345'"):
        dnb.report("12345")


def test_credentials_come_from_the_environment():
    provider = provider_from_env(
        "dnb", {"RELANCE_DNB_KEY": "k", "RELANCE_DNB_SECRET": "s", "RELANCE_DNB_BLOCKS": "companyinfo_L2_v1"}
    )
    assert repr(provider) == "DnbProvider(base_url='https://plus.dnb.com/', blocks='companyinfo_L2_v1')"
    sandbox = provider_from_env(
        "creditsafe",
        {
            "RELANCE_CREDITSAFE_USERNAME": "u",
            "RELANCE_CREDITSAFE_PASSWORD": "p",
            "RELANCE_CREDITSAFE_URL": "https://connect.sandbox.creditsafe.com/v1",
        },
    )
    assert repr(sandbox) == "CreditsafeProvider(base_url='https://connect.sandbox.creditsafe.com/v1/')"
    with pytest.raises(
        BureauError,
        match="^Creditsafe: not configured: set RELANCE_CREDITSAFE_USERNAME and RELANCE_CREDITSAFE_PASSWORD$",
    ):
        provider_from_env("creditsafe", {})
    with pytest.raises(BureauError, match="no adapter: expected one of creditsafe, dnb"):
        provider_from_env("experian", {})


@given(
    common=st.sampled_from(["A", "B", "C", "D", "E", "", "Z"]),
    value=st.one_of(st.none(), st.integers(-1000, 1000).map(str), st.text(max_size=5)),
    low=st.one_of(st.none(), st.integers(-100, 700).map(str)),
    high=st.one_of(st.none(), st.integers(-100, 700).map(str)),
)
def test_the_creditsafe_score_is_always_on_relances_scale_or_none(common, value, low, high):
    score = normalised_score(common, {"value": value, "minValue": low, "maxValue": high})
    assert score is None or 0 <= score <= 100
    if common in ("A", "B", "C", "D"):  # a rated company always gets a score within its band
        band = {"A": (71, 100), "B": (51, 70), "C": (30, 50), "D": (0, 29)}[common]
        assert score is not None and band[0] <= score <= band[1]


@respx.mock
def test_creditsafe_searches_by_vat_number(creditsafe):
    respx.post(f"{CS}/authenticate").respond(json=fixtures.CREDITSAFE_TOKEN)
    search = respx.get(f"{CS}/companies", params={"countries": "GB", "vatNo": "GB980780684"}).respond(
        json=fixtures.CREDITSAFE_SEARCH
    )
    [match] = creditsafe.search(country="GB", vat_number="GB980780684")
    assert search.call_count == 1 and match.provider_company_id == "GB-0-07495895"
