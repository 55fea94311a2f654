"""Standard Webhooks signing: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signature is ``v1,`` + base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")), with the
secret given in the ``whsec_<base64>`` form; signing and verification use the
``standardwebhooks`` package so receivers can verify with any Standard Webhooks library.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from detector.errors import ConfigError

__all__ = ["WebhookVerificationError", "event_body", "new_secret", "sign_headers", "verify",
           "webhook_for"]


def new_secret() -> str:
    """A fresh random 32-byte secret in the ``whsec_`` form."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def webhook_for(secret: str, where: str = "hook secret") -> Webhook:
    """The signer for ``secret``; a ConfigError naming ``where`` when it is not usable."""
    try:
        return Webhook(secret)
    except Exception as exc:
        raise ConfigError(f"{where}: expected a 'whsec_<base64>' secret, got an unusable one "
                          f"({type(exc).__name__})") from None


def event_body(event_type: str, created_at: str, payload_json: str) -> str:
    """The JSON body of an event: ``{"type", "timestamp", "data"}``, identical on every attempt."""
    return ('{"data":' + payload_json + ',"timestamp":' + json.dumps(created_at)
            + ',"type":' + json.dumps(event_type) + "}")


def sign_headers(webhook: Webhook, msg_id: str, body: str,
                 when: dt.datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (timestamp = now by default)."""
    when = when or dt.datetime.now(dt.UTC)
    stamp = dt.datetime.fromtimestamp(int(when.timestamp()), dt.UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": webhook.sign(msg_id, stamp, body),
    }


def verify(secret: str, body: bytes | str, headers: dict[str, str]) -> Any:
    """Verify a received webhook and return its parsed JSON; raises WebhookVerificationError."""
    return Webhook(secret).verify(body, headers)
