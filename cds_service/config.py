"""Configuration: one object built from environment variables and passed in, never read deep inside."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT = "development"
PRODUCTION = "production"


def _number(env: dict[str, str], name: str, default: float, kind: type = float, allow_zero: bool = False) -> float:
    """A positive number from the environment; a clear start-up error naming the variable otherwise."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, not {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'0 or more' if allow_zero else 'greater than 0'}, not {raw!r}")
    return value


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    profile: str = DEVELOPMENT
    # Storage: SQLite file unless DATABASE_URL names a PostgreSQL server.
    database_url: str = ""
    sqlite_path: Path = REPO_ROOT / "var" / "cds.sqlite3"
    rule_packs_dir: Path = REPO_ROOT / "cards"
    # Outbound FHIR calls: per-request timeout, total budget for one hook call, paging bound, size cap.
    fhir_request_timeout: float = 1.5
    fhir_time_budget: float = 2.0
    fhir_max_pages: int = 5
    fhir_max_response_bytes: int = 8 * 1024 * 1024
    fhir_max_workers: int = 8
    # Inbound limits.
    max_body_bytes: int = 2 * 1024 * 1024
    max_bundle_entries: int = 2000
    max_json_depth: int = 64
    # Trust.
    trusted_issuers_file: Path | None = None
    auth_required: bool = False
    trust_forwarded_headers: bool = False
    public_base_url: str = ""
    # The CDS Hooks sandbox's issuer (its private key is public): development only, from an inline JWK Set.
    trust_sandbox_issuer: bool = True
    jwt_leeway_seconds: int = 60
    jwt_max_lifetime_seconds: int = 3600
    jwks_refresh_interval: float = 60.0
    playground_enabled: bool = True
    json_logs: bool = False
    # Audit writer (store/audit.py): batch window, queue bound, and how long a call waits for room.
    audit_batch_ms: float = 50.0
    audit_queue_size: int = 2000
    audit_submit_wait: float = 1.0
    # /metrics: a token it requires, or a separate port (served by the gunicorn master) instead of the app.
    metrics_token: str = ""
    metrics_port: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.profile == PRODUCTION

    @property
    def requires_authentication(self) -> bool:
        return self.production or self.auth_required

    @property
    def trusts_sandbox_issuer(self) -> bool:
        return self.trust_sandbox_issuer and not self.production

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        profile = env.get("CDS_PROFILE", DEVELOPMENT).strip().lower()
        if profile not in (DEVELOPMENT, PRODUCTION):
            raise ValueError(f"CDS_PROFILE must be '{DEVELOPMENT}' or '{PRODUCTION}', not {profile!r}")
        production = profile == PRODUCTION
        if production and not _bool(env.get("CDS_AUTH_REQUIRED"), True):
            raise ValueError("CDS_AUTH_REQUIRED cannot be turned off in the production profile")
        if production and _bool(env.get("CDS_TRUST_SANDBOX"), False):
            raise ValueError("CDS_TRUST_SANDBOX cannot be on in production: the sandbox's private key is public")
        issuers = env.get("CDS_TRUSTED_ISSUERS")
        defaults = cls()
        return cls(
            profile=profile,
            database_url=env.get("DATABASE_URL", ""),
            sqlite_path=Path(env.get("CDS_SQLITE_PATH", str(defaults.sqlite_path))),
            rule_packs_dir=Path(env.get("CDS_RULE_PACKS", str(defaults.rule_packs_dir))),
            fhir_request_timeout=_number(env, "CDS_FHIR_TIMEOUT", defaults.fhir_request_timeout),
            fhir_time_budget=_number(env, "CDS_FHIR_BUDGET", defaults.fhir_time_budget),
            fhir_max_pages=_number(env, "CDS_FHIR_MAX_PAGES", defaults.fhir_max_pages, int),
            max_body_bytes=_number(env, "CDS_MAX_BODY_BYTES", defaults.max_body_bytes, int),
            trusted_issuers_file=Path(issuers) if issuers else None,
            auth_required=_bool(env.get("CDS_AUTH_REQUIRED"), production),
            trust_forwarded_headers=_bool(env.get("CDS_TRUST_FORWARDED"), False),
            public_base_url=env.get("CDS_PUBLIC_BASE_URL", "").rstrip("/"),
            trust_sandbox_issuer=_bool(env.get("CDS_TRUST_SANDBOX"), not production),
            jwt_leeway_seconds=_number(env, "CDS_JWT_LEEWAY", defaults.jwt_leeway_seconds, int, allow_zero=True),
            jwt_max_lifetime_seconds=_number(env, "CDS_JWT_MAX_LIFETIME", defaults.jwt_max_lifetime_seconds, int),
            jwks_refresh_interval=_number(env, "CDS_JWKS_REFRESH_INTERVAL", defaults.jwks_refresh_interval),
            playground_enabled=_bool(env.get("CDS_PLAYGROUND"), not production),
            json_logs=_bool(env.get("CDS_JSON_LOGS"), production),
            audit_batch_ms=_number(env, "CDS_AUDIT_BATCH_MS", defaults.audit_batch_ms, allow_zero=True),
            audit_queue_size=_number(env, "CDS_AUDIT_QUEUE_SIZE", defaults.audit_queue_size, int),
            audit_submit_wait=_number(env, "CDS_AUDIT_SUBMIT_WAIT", defaults.audit_submit_wait, allow_zero=True),
            metrics_token=env.get("CDS_METRICS_TOKEN", "").strip(),
            metrics_port=_number(env, "CDS_METRICS_PORT", defaults.metrics_port, int, allow_zero=True),
        )
