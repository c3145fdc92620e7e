"""Public keys of trusted issuers: inline JWK Sets first, then JWK Sets fetched from allowlisted `jku` URLs.

Fetched sets are cached per URL and refreshed when a token names a `kid` they lack (key rotation) or when
they grow old, at most once per refresh interval per URL, so unknown kids cannot make us hammer a server.
A failed refresh keeps the previous set.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from .issuers import TrustedIssuer

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024


class JwksFetchError(Exception):
    pass


def fetch_jwks(session: requests.Session, url: str, timeout: float) -> list[dict]:
    """The keys of the JWK Set at url (never following redirects; size-capped); private members dropped."""
    try:
        with session.get(
            url, headers={"Accept": "application/json"}, timeout=(timeout, timeout), stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise JwksFetchError(f"answered {response.status_code}")
            body = b""
            for chunk in response.iter_content(chunk_size=16 * 1024):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksFetchError("JWK Set larger than the limit")
    except requests.RequestException as exc:
        raise JwksFetchError(type(exc).__name__) from None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise JwksFetchError("not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise JwksFetchError("not a JWK Set")
    return [key for key in keys if isinstance(key, dict) and isinstance(key.get("kid"), str) and "d" not in key]


@dataclass
class _CachedSet:
    fetched_at: float
    keys: dict[str, dict] = field(default_factory=dict)


class KeyStore:
    def __init__(
        self,
        fetch: Callable[[str], list[dict]],
        refresh_interval: float = 60.0,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._fetch = fetch
        self.refresh_interval = refresh_interval
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._sets: dict[str, _CachedSet] = {}
        self._last_attempt: dict[str, float] = {}

    def key_for(self, issuer: TrustedIssuer, kid: str, jku: str | None) -> dict | None:
        """The issuer's JWK with this kid; jku (when given) must already be checked against issuer.jku."""
        for key in issuer.keys:
            if key.get("kid") == kid:
                return key
        if not issuer.fetch_jku:
            return None
        for url in (jku,) if jku else issuer.jku:
            key = self._from_url(url, kid)
            if key is not None:
                return key
        return None

    def _from_url(self, url: str, kid: str) -> dict | None:
        with self._lock:
            cached = self._sets.get(url)
        stale = cached is None or self._clock() - cached.fetched_at > self.max_age
        if (stale or kid not in cached.keys) and self._claim_refresh(url):
            self._refresh(url)
            with self._lock:
                cached = self._sets.get(url)
        return cached.keys.get(kid) if cached else None

    def _claim_refresh(self, url: str) -> bool:
        """True for at most one caller per URL per refresh interval (across this process's threads)."""
        now = self._clock()
        with self._lock:
            last = self._last_attempt.get(url)
            if last is not None and now - last < self.refresh_interval:
                return False
            self._last_attempt[url] = now
            return True

    def _refresh(self, url: str) -> None:
        try:
            keys = self._fetch(url)
        except JwksFetchError as exc:
            log.warning("JWK Set refresh failed", extra={"reason": str(exc), "jku": url})
            return
        with self._lock:
            self._sets[url] = _CachedSet(self._clock(), {key["kid"]: key for key in keys})
        log.info("JWK Set refreshed", extra={"count": len(keys), "jku": url})
