"""402 responses: INSUFFICIENT_BALANCE for API keys, x402 PAYMENT_REQUIRED for wallets.

The wallet variant follows the spec's X402InferencePaymentRequired schema, with placeholder
addresses (the local backend takes no payments).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time

from .._constants import PAYMENT_REQUIRED_HEADER, SIWX_HEADER, SIWX_LEGACY_HEADER, TOP_UP_URL
from ._api_error import ApiError

_RECEIVER = "<RECEIVER_WALLET_ADDRESS>"
_USDC = "<USDC_TOKEN_ADDRESS>"
_BASE = "eip155:8453"
_SOLANA = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
MINIMUM_TOP_UP_USD = 5
SUGGESTED_TOP_UP_USD = 10


def insufficient_balance(balance: float, price: float) -> ApiError:
    return ApiError(
        402,
        "INSUFFICIENT_BALANCE",
        f"Insufficient USD or Diem balance: ${balance:.6f} available, this request needs "
        f"${price:.6f}. Add credits at {TOP_UP_URL}.",
    )


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def payment_required(balance: float, price: float, resource_url: str, now: float) -> ApiError:
    """x402 402: structured body plus a base64-JSON ``PAYMENT-REQUIRED`` header."""
    nonce = hashlib.sha256(f"{resource_url}{now}".encode()).hexdigest()[:32]
    body = {
        "reason": "insufficient_balance",
        "message": f"Insufficient x402 balance: ${balance:.6f} available, this request needs "
        f"${price:.6f}. Top up via POST /api/v1/x402/top-up.",
        "currentBalanceUsd": round(balance, 6),
        "minimumBalanceUsd": round(price, 6),
        "description": "Venice API",
        "suggestedTopUpUsd": SUGGESTED_TOP_UP_USD,
        "minimumTopUpUsd": MINIMUM_TOP_UP_USD,
        "supportedTokens": ["USDC"],
        "supportedChains": ["base", "solana"],
        "topUpInstructions": {
            "step1": "POST /api/v1/x402/top-up with no payment header to get payment requirements",
            "step2": "Choose a payment option from accepts and sign a USDC transfer authorization "
            "using the x402 SDK (createPaymentHeader)",
            "step3": "POST /api/v1/x402/top-up with the signed PAYMENT-SIGNATURE header",
            "receiverWallet": _RECEIVER,
            "tokenAddress": _USDC,
            "tokenDecimals": 6,
            "network": _BASE,
            "minimumAmountUsd": MINIMUM_TOP_UP_USD,
        },
        "siwxChallenge": {
            "info": {
                "domain": "api.venice.ai",
                "uri": resource_url,
                "version": "1",
                "nonce": nonce,
                "issuedAt": _iso(now),
                "expirationTime": _iso(now + 300),
                "statement": "Sign in to Venice AI",
            },
            "supportedChains": [
                {"chainId": _BASE, "type": "eip191"},
                {"chainId": _SOLANA, "type": "ed25519"},
            ],
        },
    }
    requirements = {
        "x402Version": 2,
        "error": "Payment required",
        "resource": {"url": resource_url, "description": "Venice API", "mimeType": "image/png"},
        "accepts": [
            {
                "scheme": "exact",
                "network": _BASE,
                "asset": _USDC,
                "amount": str(round(MINIMUM_TOP_UP_USD * 1_000_000)),
                "payTo": _RECEIVER,
                "maxTimeoutSeconds": 300,
                "extra": {"name": "USD Coin", "version": "2"},
            }
        ],
        "authOptions": {
            "apiKey": {
                "header": "Authorization: Bearer YOUR_API_KEY",
                "getKey": TOP_UP_URL,
                "docs": "https://docs.venice.ai/api-reference",
            },
            "x402Wallet": {
                "header": SIWX_HEADER,
                "legacyHeader": SIWX_LEGACY_HEADER,
                "topUp": "POST /api/v1/x402/top-up",
                "docs": "https://docs.venice.ai/api-reference/endpoint/x402/top-up",
            },
        },
    }
    header = base64.b64encode(json.dumps(requirements).encode()).decode("ascii")
    return ApiError(
        402,
        "PAYMENT_REQUIRED",
        "Payment required",
        headers={PAYMENT_REQUIRED_HEADER: header},
        body=body,
    )
