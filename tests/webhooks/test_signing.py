"""Standard Webhooks signatures: the spec's published vector, the reference verifier, rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from relance.webhooks import signing

# The Standard Webhooks specification's test vector (standard-webhooks/standard-webhooks, the
# reference libraries' tests): this secret, id, timestamp and body give this signature.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_spec_vector():
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_reference_library_signs_the_vector_the_same():
    stamp = datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)
    assert Webhook(SPEC_SECRET).sign(SPEC_ID, stamp, SPEC_BODY.decode()) == SPEC_SIGNATURE


def test_our_headers_verify_with_the_reference_verifier():
    secret = signing.secret_new()
    body = json.dumps({"type": "invoice.paid", "data": {"amount": "10.00"}}).encode()
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([secret], "msg_abc", now, body)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(now)
    assert Webhook(secret).verify(body, headers) == {"type": "invoice.paid", "data": {"amount": "10.00"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.secret_new()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_both_secrets_verify():
    old, new = signing.secret_new(), signing.secret_new()
    body = b'{"type":"promise.created"}'
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([new, old], "msg_rot", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_a_new_secret_is_the_whsec_form_of_256_bits():
    secret = signing.secret_new()
    assert secret.startswith("whsec_")
    assert len(signing.secret_key(secret)) == 32
    assert signing.secret_new() != secret


@pytest.mark.parametrize("bad", ["not base64!", "whsec_c2hvcnQ="])
def test_a_bad_secret_says_what_is_expected(bad):
    with pytest.raises(signing.BadSecret, match="whsec_|at least 24 bytes"):
        signing.secret_key(bad)
