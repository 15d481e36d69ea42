"""Who is calling: a Bearer API key, or a Bearer HS256 JWT signed with an access/secret key pair."""

from __future__ import annotations

import hmac

import jwt

from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.state import SimulatorConfig


def identify_caller(authorization: str | None, config: SimulatorConfig) -> str:
    """The key the request acts for (an API key or a JWT's access key); :class:`ApiError` 401 otherwise.

    Codes follow Kling: 1001 empty, 1002 invalid, 1003 not yet valid, 1004 expired.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if not scheme or (scheme.lower() == "bearer" and not token):
        raise ApiError(401, 1001, "Authorization is empty")
    if scheme.lower() != "bearer":
        raise ApiError(401, 1002, "Authorization is invalid: expected 'Bearer <key>'")
    for key in config.api_keys:
        if hmac.compare_digest(token.encode(), key.encode()):
            return key
    if token.count(".") == 2 and config.jwt_keys:
        return _access_key_from_jwt(token, config)
    raise ApiError(401, 1002, "Authorization is invalid")


def _access_key_from_jwt(token: str, config: SimulatorConfig) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ApiError(401, 1002, "Authorization is invalid: malformed token") from None
    access_key = claims.get("iss")
    secret_key = config.jwt_keys.get(access_key) if isinstance(access_key, str) else None
    if not isinstance(access_key, str) or secret_key is None:
        raise ApiError(401, 1002, "Authorization is invalid: unknown access key")
    try:
        jwt.decode(token, secret_key, algorithms=["HS256"])
    except jwt.ExpiredSignatureError:
        raise ApiError(401, 1004, "Authorization is expired") from None
    except jwt.ImmatureSignatureError:
        raise ApiError(401, 1003, "Authorization is not yet valid") from None
    except jwt.PyJWTError:
        raise ApiError(401, 1002, "Authorization is invalid: bad signature") from None
    return access_key
