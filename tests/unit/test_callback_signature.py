"""Standard Webhooks verification: Kling's checked test vector, rotation, freshness, malformed headers."""

from __future__ import annotations

import base64

import pytest

from airflow_provider_kling.callbacks.signature import (
    TIMESTAMP_TOLERANCE,
    WebhookVerificationError,
    parse_secrets,
    signature,
    verify_webhook,
)

# The checked vector of Kling's callbacks page.
VECTOR_SECRET = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
VECTOR_ID = "9876543210"
VECTOR_TS = 1781080794
VECTOR_BODY = (
    b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
    b'"update_time":1781080794151}'
)
VECTOR_SIGNATURE = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4="
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-byte").decode()


def keys(*secrets: str) -> tuple[bytes, ...]:
    return tuple(secret.key for secret in parse_secrets(list(secrets)))


def headers(signature_value: str = VECTOR_SIGNATURE, **override: str) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": signature_value,
        **override,
    }


def test_klings_test_vector_signs_and_verifies() -> None:
    (key,) = keys(VECTOR_SECRET)

    assert "v1," + signature(key, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    verified = verify_webhook(headers(), VECTOR_BODY, [key], now=VECTOR_TS + 1)
    assert (verified.webhook_id, verified.timestamp) == (VECTOR_ID, VECTOR_TS)


@pytest.mark.parametrize(
    "changed",
    [
        {"body": VECTOR_BODY + b" "},
        {"webhook-id": "9876543211"},
        {"webhook-timestamp": str(VECTOR_TS + 1)},
        {"webhook-signature": "v1," + base64.b64encode(b"\0" * 32).decode()},
        {"webhook-signature": VECTOR_SIGNATURE.replace("v1,", "v2,")},
    ],
    ids=["body", "id", "timestamp", "signature", "scheme"],
)
def test_any_change_to_a_signed_part_is_refused(changed: dict[str, object]) -> None:
    body = changed.pop("body", VECTOR_BODY)
    assert isinstance(body, bytes)

    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(headers(**changed), body, keys(VECTOR_SECRET), now=VECTOR_TS)  # type: ignore[arg-type]

    assert refused.value.reason == "bad_signature"


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no v1 signature"):
        verify_webhook(headers(), VECTOR_BODY, keys(OTHER_SECRET), now=VECTOR_TS)


def test_during_rotation_either_secret_and_either_signature_verifies() -> None:
    (new_key,) = keys(OTHER_SECRET)
    new_signature = "v1," + signature(new_key, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    both = f"{new_signature} {VECTOR_SIGNATURE}"

    # Kling signs with old and new; the receiver knows only the new one, or only the old one.
    verify_webhook(headers(both), VECTOR_BODY, keys(OTHER_SECRET), now=VECTOR_TS)
    verify_webhook(headers(both), VECTOR_BODY, keys(VECTOR_SECRET), now=VECTOR_TS)
    # Kling signs with the new one only; the receiver still lists both.
    verify_webhook(headers(new_signature), VECTOR_BODY, keys(VECTOR_SECRET, OTHER_SECRET), now=VECTOR_TS)


@pytest.mark.parametrize("offset", [TIMESTAMP_TOLERANCE + 1, -TIMESTAMP_TOLERANCE - 1])
def test_a_timestamp_outside_five_minutes_is_stale_even_when_signed(offset: int) -> None:
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(headers(), VECTOR_BODY, keys(VECTOR_SECRET), now=VECTOR_TS + offset)

    assert refused.value.reason == "stale"


def test_a_timestamp_at_the_edge_of_the_window_is_accepted() -> None:
    verify_webhook(headers(), VECTOR_BODY, keys(VECTOR_SECRET), now=VECTOR_TS + TIMESTAMP_TOLERANCE)
    verify_webhook(headers(), VECTOR_BODY, keys(VECTOR_SECRET), now=VECTOR_TS - TIMESTAMP_TOLERANCE)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_message_without_a_signature_header_is_unsigned(missing: str) -> None:
    sent = headers()
    del sent[missing]

    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(sent, VECTOR_BODY, keys(VECTOR_SECRET), now=VECTOR_TS)

    assert refused.value.reason == "unsigned"


@pytest.mark.parametrize("timestamp", ["1781080794.5", "-1781080794", "soon", "9" * 20])
def test_a_timestamp_that_is_not_unix_seconds_is_malformed(timestamp: str) -> None:
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(headers(**{"webhook-timestamp": timestamp}), VECTOR_BODY, keys(VECTOR_SECRET))

    assert refused.value.reason == "malformed"


def test_no_key_verifies_nothing() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers(), VECTOR_BODY, [], now=VECTOR_TS)


def test_secrets_are_read_from_one_string_with_spaces_or_commas_or_from_a_list() -> None:
    assert keys(VECTOR_SECRET) == tuple(s.key for s in parse_secrets(f" {VECTOR_SECRET} "))
    two = (VECTOR_SECRET, OTHER_SECRET)
    assert [s.key for s in parse_secrets(f"{VECTOR_SECRET}, {OTHER_SECRET}")] == list(keys(*two))
    assert [s.key for s in parse_secrets(f"{VECTOR_SECRET}\n{OTHER_SECRET}")] == list(keys(*two))
    assert parse_secrets(None) == parse_secrets("") == ()
    # without the prefix it is the same key
    assert keys(VECTOR_SECRET.removeprefix("whsec_")) == keys(VECTOR_SECRET)


def test_a_secret_that_is_not_base64_is_refused_by_position_without_showing_it() -> None:
    with pytest.raises(ValueError, match=r"webhook_secret: secret 2 must be base64") as refused:
        parse_secrets(f"{VECTOR_SECRET} whsec_not!base64")

    assert "not!base64" not in str(refused.value)


def test_a_secrets_repr_never_shows_it() -> None:
    (secret,) = parse_secrets(VECTOR_SECRET)

    assert VECTOR_SECRET not in repr(secret)
    assert "dGVzdHNlY3" not in repr(secret)


@pytest.mark.parametrize("timestamp", ["\u00b2\u00b3", "\u0663", "12 ", "+12", "1_000", "1" * 13])
def test_a_timestamp_of_anything_but_ascii_digits_is_a_verification_error(timestamp: str) -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": timestamp, "webhook-signature": "v1,x"}

    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(headers, b"{}", [b"key"], now=0)
    assert refused.value.reason == "malformed"
