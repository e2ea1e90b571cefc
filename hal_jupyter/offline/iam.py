"""IBM Cloud IAM's token endpoint, as the IBM emulators need it.

``POST /identity/token`` with ``apikey=...`` answers a JWT bearer token that
lives ``TOKEN_TTL_S`` seconds, so clients must refresh it.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs

import jwt

from . import credentials

API_KEY = credentials.IBM_CLOUD_API_KEY
TOKEN_TTL_S = 3
SIGNING_KEY = "hal-jupyter-iam-emulator-signing-key"  # 32+ bytes, as PyJWT wants for HS256


class Iam:
    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.token_requests = 0
        self._guard = threading.Lock()

    def exchange(self, form_body: bytes) -> tuple[int, dict[str, Any]]:
        if parse_qs(form_body.decode()).get("apikey") != [API_KEY]:
            return 400, {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."}
        now = int(time.time())
        with self._guard:
            self.token_requests += 1
            token = jwt.encode({"iat": now, "exp": now + TOKEN_TTL_S, "sub": "hal-tests", "jti": str(self.token_requests)}, SIGNING_KEY, algorithm="HS256")
            self.tokens.add(token)
        return 200, {"access_token": token, "refresh_token": "unused", "token_type": "Bearer", "expires_in": TOKEN_TTL_S, "expiration": now + TOKEN_TTL_S}

    def valid(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer ") or header[7:] not in self.tokens:
            return False
        return jwt.decode(header[7:], options={"verify_signature": False})["exp"] >= time.time()
