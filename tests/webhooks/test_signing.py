"""Signing against the Standard Webhooks example, secrets' form, and the backoff's bounds."""

from __future__ import annotations

import pytest

from eventsvc.webhooks import exponential_backoff, new_secret
from eventsvc.webhooks.signing import headers, key_of, secret_problem, signature
from tests.webhooks.verify import verify

# The example in the Standard Webhooks reference libraries' tests.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_the_signature_is_the_specification_example() -> None:
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signature(key_of(SECRET), MESSAGE_ID, TIMESTAMP, BODY) == expected


def test_signed_headers_verify_by_the_specification_steps() -> None:
    signed = headers(key_of(SECRET), MESSAGE_ID, TIMESTAMP, BODY)
    verify(SECRET, signed, BODY, now=TIMESTAMP + 10)


def test_a_new_secret_has_the_form_and_no_form_problem() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert secret_problem(secret) is None
    assert new_secret() != secret


@pytest.mark.parametrize(
    ("secret", "says"),
    [("abc", "starts with"), ("whsec_***", "not base64"), ("whsec_AAAA", "24 to 64 bytes")],
)
def test_a_malformed_secret_is_named_without_quoting_it(secret: str, says: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None
    assert says in problem
    assert secret not in problem


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    delay = exponential_backoff(1.0, cap=8.0)
    for failures, full in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)):
        assert full / 2 <= delay(failures) <= full
