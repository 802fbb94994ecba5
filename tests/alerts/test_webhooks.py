"""Signatures and secrets of webhooks, checked against the reference implementation of
Standard Webhooks (the `standardwebhooks` package). Where they may be sent: test_egress.py."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.alerts import webhooks
from app.core.flag_events import RUPTURE_EVENT_TYPES


def test_our_signature_verifies_with_the_reference_implementation() -> None:
    secret = webhooks.new_secret()
    body = b'{"type":"rupture.raised","data":{"flag":{"rule":"v_drop"}}}'
    headers = webhooks.signed_headers(secret, "b1c2", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {
        "type": "rupture.raised",
        "data": {"flag": {"rule": "v_drop"}},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_the_signature_is_the_known_answer_of_the_standard() -> None:
    # The example of the Standard Webhooks specification (spec/standard-webhooks.md).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_a_secret_is_whsec_and_the_base64_of_32_random_bytes() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert webhooks.new_secret() != secret


def test_the_wire_event_types_are_the_alert_and_rupture_types() -> None:
    from typing import get_args

    from app.alerts.schemas import EventType

    literal, _ = get_args(EventType.__value__)  # Annotated[Literal[...], named(...)]
    assert get_args(literal) == webhooks.EVENT_TYPES
    assert set(RUPTURE_EVENT_TYPES) < set(webhooks.EVENT_TYPES)
