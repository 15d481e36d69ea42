"""Kling's access key + secret key authentication: an HS256 JWT, cached and renewed before expiry."""

from __future__ import annotations

import time

JWT_LIFETIME = 1800
#: Renew the JWT this long before it expires, so a token never dies in flight.
JWT_RENEW_MARGIN = 300
#: Kling's codes for a token that is not yet valid (clock skew) or expired: sign anew once.
RENEWABLE_AUTH_CODES = (1003, 1004)


class JwtToken:
    """An HS256 JWT from access key + secret key, cached and renewed well before expiry."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return "JwtToken(<redacted>)"

    def get(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self._token is None or now >= self._expires_at - JWT_RENEW_MARGIN:
            import jwt

            issued = int(now)
            claims = {"iss": self._access_key, "exp": issued + JWT_LIFETIME, "nbf": issued - 5}
            self._token = jwt.encode(claims, self._secret_key, algorithm="HS256", headers={"typ": "JWT"})
            self._expires_at = issued + JWT_LIFETIME
        return self._token

    def invalidate(self) -> None:
        self._token = None
