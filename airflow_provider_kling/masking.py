"""Secrets registered with Airflow's secrets masker: one low place for the hook and the callback receiver."""

from __future__ import annotations


def mask_secrets(*secrets: str | None) -> None:
    """Register keys with Airflow's secrets masker (a second line of defence; we never log them)."""
    try:
        from airflow.sdk.log import mask_secret  # Airflow only where a secret is read, not at import
    except ImportError:  # pragma: no cover - older task SDKs
        return
    for secret in secrets:
        if secret:
            mask_secret(secret)
