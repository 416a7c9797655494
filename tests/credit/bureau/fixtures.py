"""Bureau answers in their DOCUMENTED shapes, for the respx tests (no network). Values are made up;
the shapes, field names and endpoints come from where each block says. Nothing here was captured
from a live account.
"""

# --- Creditsafe Connect (base URL https://connect.creditsafe.com/v1) -----------------------------

# POST /authenticate {"username", "password"} → {"token"}: doc.creditsafe.com, "CONNECT
# Authenticate — Requests and Responses" (the token is a JWT valid one hour; the username is the
# user key Creditsafe gives, not the website e-mail login).
CREDITSAFE_TOKEN = {"token": "eyJhbGciOiJSUzI1NiJ9.test-creditsafe-token"}

# GET /companies?countries=GB&regNo=07495895 → {"totalSize", "companies": [{"id" (the connectId the
# report takes), "country", "regNo", "safeNo", "name", "address", "status", "type", "vatNo"}]}:
# doc.creditsafe.com Connect API reference, tag Companies ("Companies are uniquely identified by
# the connectId"); the GB-0-07495895 / GOCARDLESS LTD pair is the example of gocardless/creditsafe-ruby's
# README.
CREDITSAFE_SEARCH = {
    "totalSize": 1,
    "companies": [
        {
            "id": "GB-0-07495895",
            "country": "GB",
            "regNo": "07495895",
            "safeNo": "UK13646576",
            "name": "GOCARDLESS LTD",
            "type": "Ltd",
            "status": "Active",
            "address": {"simpleValue": "338-346 GOSWELL ROAD, LONDON", "postCode": "EC1V 7LQ"},
            "vatNo": ["GB980780684"],
        }
    ],
}

# GET /companies/{connectId}?language=en → {"correlationId", "failedSections", "report": {…}}:
# doc.creditsafe.com, operation companyCreditReport (the response's top level and
# report.companyId/language/companySummary); the paths report.companySummary.{businessName,
# country, companyNumber (the safe number), companyRegistrationNumber} and
# report.companyIdentification.basicInformation.vatRegistrationNumber from Creditsafe's "Connect
# Common Data Dictionary" v2.0.5; report.creditScore.currentCreditRating.{commonValue,
# commonDescription, creditLimit{currency, value}, providerValue{maxValue, minValue, value},
# providerDescription} and report.negativeInformation.{ccjSummary, countyCourtJudgements.registered.
# {exact, possible}[{ccjDate, court, ccjAmount, caseNumber, ccjStatus}]} from the GB company report
# example of the Connect OpenAPI (as its generated PHP models, CreditSafe\API\Model\GbCompanyReport
# ExampleResponse…, spell them) and the GB/IE data dictionaries (ccjSummary.currency).
CREDITSAFE_REPORT = {
    "correlationId": "5f1c2a8e-0000-4000-8000-000000000001",
    "failedSections": [],
    "report": {
        "companyId": "GB-0-07495895",
        "language": "EN",
        "companySummary": {
            "businessName": "GOCARDLESS LTD",
            "country": "GB",
            "companyNumber": "UK13646576",
            "companyRegistrationNumber": "07495895",
            "companyStatus": {"status": "Active", "description": "Active - Accounts Filed"},
            "creditRating": {
                "commonValue": "B",
                "commonDescription": "Low Risk",
                "creditLimit": {"currency": "GBP", "value": "25000"},
                "providerValue": {"maxValue": "100", "minValue": "1", "value": "64"},
                "providerDescription": "Low Risk",
            },
        },
        "companyIdentification": {
            "basicInformation": {
                "businessName": "GOCARDLESS LTD",
                "registeredCompanyName": "GOCARDLESS LTD",
                "companyRegistrationNumber": "07495895",
                "country": "GB",
                "vatRegistrationNumber": "GB980780684",
            }
        },
        "creditScore": {
            "currentCreditRating": {
                "commonValue": "B",
                "commonDescription": "Low Risk",
                "creditLimit": {"currency": "GBP", "value": "25000"},
                "providerValue": {"maxValue": "100", "minValue": "1", "value": "64"},
                "providerDescription": "Low Risk",
            },
            "currentContractLimit": {"currency": "GBP", "value": 30000},
            "previousCreditRating": {"commonValue": "A", "commonDescription": "Very Low Risk"},
            "latestRatingChangeDate": "2026-09-01T00:00:00Z",
        },
        "negativeInformation": {
            "ccjSummary": {"exactRegistered": 1, "possibleRegistered": 1, "currency": "GBP"},
            "countyCourtJudgements": {
                "registered": {
                    "exact": [
                        {
                            "ccjDate": "2026-03-14T00:00:00Z",
                            "court": "NORTHAMPTON",
                            "ccjAmount": 1830.5,
                            "caseNumber": "K3QZ0123",
                            "ccjStatus": "Judgment",
                        }
                    ],
                    "possible": [
                        {
                            "ccjDate": "2025-11-02T00:00:00Z",
                            "court": "LEEDS",
                            "ccjAmount": 640,
                            "caseNumber": "F9LS0456",
                            "ccjStatus": "Satisfied",
                        }
                    ],
                }
            },
        },
    },
}

# An error body with a "message": an ASSUMED shape (the Connect reference pages seen did not show
# one); the adapter quotes "message" or "details" when present and says the status without them.
CREDITSAFE_NOT_FOUND = {
    "correlationId": "5f1c2a8e-0000-4000-8000-000000000002",
    "message": "Company not found",
}

# --- Dun & Bradstreet Direct+ (base URL https://plus.dnb.com) ------------------------------------

# POST /v3/token, HTTP Basic base64(key:secret), body {"grant_type": "client_credentials"} →
# {"access_token", "token_type", "expirationDateTime"}: the Direct+ OpenAPI's generateAccessToken
# (example in api-evangelist/dun-and-bradstreet, examples/dnb-direct-plus-generate-access-token-
# example.json). The adapter reads access_token only.
DNB_TOKEN = {
    "access_token": "test-dnb-access-token",
    "token_type": "Bearer",
    "expirationDateTime": "2026-11-30T22:30:00Z",
}

# GET /v1/data/duns/{duns}?blockIDs=companyinfo_L2_v1,financialstrengthinsight_L2_v1,… →
# {"transactionDetail", "inquiryDetail", "organization": {…}}: the envelope, organization.duns,
# primaryName, primaryAddress and registrationNumbers[{registrationNumber, typeDescription}] as the
# Direct+ getDataBlocksByDuns example (api-evangelist/dun-and-bradstreet,
# examples/dnb-direct-plus-get-data-blocks-by-duns-example.json); the financialstrengthinsight
# paths organization.dnbAssessment.{failureScore{nationalPercentile, classScore,
# classScoreDescription, scoreDate}, delinquencyScore, standardRating{rating, financialStrength,
# riskSegment}, creditLimitRecommendation{assessmentDate, maximumRecommendedLimit{value, currency}}}
# and the eventfilings flags organization.legalEvents.{hasOpenBankruptcy, hasOpenJudgments,
# hasOpenLiens, hasInsolvency} as a Salesforce integration's field-mapping documentation of those
# blocks quotes them, with its test mocks (D&B's own data block reference sits behind a login, so
# these paths are second-hand: the adapter reads each with a fallback to "not given").
DNB_REPORT = {
    "transactionDetail": {
        "transactionID": "rrt-0123456789abcdef-c-iad-12345-678903-1",
        "transactionTimestamp": "2026-11-30T09:13:00Z",
        "inLanguage": "en-US",
        "serviceVersion": "1",
    },
    "inquiryDetail": {
        "duns": "804735132",
        "blockIDs": [
            "companyinfo_L2_v1",
            "financialstrengthinsight_L2_v1",
            "paymentinsight_L1_v1",
            "eventfilings_L1_v1",
        ],
    },
    "organization": {
        "duns": "804735132",
        "primaryName": "Acme Corporation",
        "countryISOAlpha2Code": "US",
        "primaryAddress": {
            "streetAddress": {"line1": "123 Main St"},
            "addressLocality": {"name": "Boston"},
            "addressRegion": {"name": "Massachusetts", "abbreviatedName": "MA"},
            "postalCode": "02101",
            "addressCountry": {"isoAlpha2Code": "US"},
        },
        "registrationNumbers": [
            {
                "registrationNumber": "12-3456789",
                "typeDescription": "US Employer ID",
                "isPreferredRegistrationNumber": True,
            }
        ],
        "dnbAssessment": {
            "failureScore": {
                "nationalPercentile": 83,
                "classScore": 2,
                "classScoreDescription": "Low risk of severe financial stress",
                "scoreDate": "2026-11-28",
            },
            "delinquencyScore": {"nationalPercentile": 71, "classScore": 2},
            "standardRating": {"rating": "5A2", "financialStrength": "5A", "riskSegment": "2"},
            "creditLimitRecommendation": {
                "assessmentDate": "2026-11-28",
                "maximumRecommendedLimit": {"value": 75000, "currency": "USD"},
            },
        },
        "legalEvents": {
            "hasOpenBankruptcy": False,
            "hasOpenJudgments": True,
            "hasOpenLiens": False,
            "hasInsolvency": False,
        },
        "businessTrading": [{"summary": [{"paydexScore": 78}]}],
    },
}

# GET /v1/match/cleanseMatch?countryISOAlpha2Code=US&registrationNumber=… → {"matchCandidates":
# [{"displaySequence", "matchQualityInformation": {"confidenceCode", "matchGrade"}, "organization":
# {"duns", "primaryName", "primaryAddress", "countryISOAlpha2Code"}}]}: the Direct+ cleanseMatch
# example (api-evangelist/dun-and-bradstreet, examples/dnb-direct-plus-cleanse-match-example.json).
DNB_MATCH = {
    "transactionDetail": {"transactionID": "rrt-0123456789abcdef-c-iad-12345-678901-1"},
    "inquiryDetail": {"countryISOAlpha2Code": "US", "registrationNumber": "12-3456789"},
    "matchCandidates": [
        {
            "displaySequence": 1,
            "matchQualityInformation": {"confidenceCode": 10, "matchGrade": "AAAAAAFAZZ"},
            "organization": {
                "duns": "804735132",
                "primaryName": "Acme Corporation",
                "countryISOAlpha2Code": "US",
                "primaryAddress": {"addressCountry": {"isoAlpha2Code": "US"}},
            },
        }
    ],
}

# Every Direct+ error: {"transactionDetail", "error": {"errorCode", "errorMessage"}} (no problem+json):
# the Direct+ OpenAPI's Error schema; code 00004 is the 401 "not authorised" answer.
DNB_UNAUTHORISED = {
    "transactionDetail": {
        "transactionID": "6b37ae26-0000",
        "transactionTimestamp": "2026-11-30T02:28:58.626Z",
    },
    "error": {
        "errorMessage": "You are not currently authorised to access this product. Please contact your D&B account representative",
        "errorCode": "00004",
    },
}
DNB_NOT_FOUND = {
    "transactionDetail": {"transactionID": "6b37ae26-0001"},
    "error": {"errorMessage": "Not Found", "errorCode": "00037"},
}
