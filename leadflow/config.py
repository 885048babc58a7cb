"""Settings: one pydantic-settings class, read from ``LEADFLOW_*`` variables and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"

__all__ = ["InsecureSecret", "Settings", "get_settings", "reset_settings", "PROJECT_ROOT"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable about a Leadflow process."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    home: Path = Path(".leadflow")
    database_url: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_ui_url: str | None = None
    task_queue: str = "leadflow"
    # Workflows a worker keeps in memory (LEADFLOW_WORKER_CACHE). A journey waiting in a timer
    # does not need to stay cached: an evicted one is replayed from its history when it wakes.
    # The cache bounds a worker's memory however many leads wait (bench/journeys.py).
    worker_cache: int = Field(default=2000, ge=0)
    # The workflow sandbox (LEADFLOW_WORKFLOW_SANDBOX): "fast" runs workflows without
    # Temporal's sandbox; "strict" runs them in it, which refuses the clock, randomness and I/O
    # in workflow code at run time, at a cost (leadflow.cli.wiring.workflow_runner). The
    # tests always run strict.
    workflow_sandbox: Literal["fast", "strict"] = "fast"
    # The outbox drainer (leadflow.intents) in the API and worker processes, and how often it
    # runs the reconciler (seconds; 0: never, run `leadflow doctor` instead).
    outbox_drain: bool = True
    reconcile_every: float = 300.0
    # Delivered rows of that outbox (temporal_intent) are deleted once older than this many days,
    # by the Temporal schedule "leadflow-housekeeping" the worker creates (hourly); 0 keeps them.
    intent_retention_days: float = Field(default=7.0, ge=0)
    email_backend: Literal["outbox", "smtp", "sendgrid"] = "outbox"
    email_from: str = "Leadflow <marketing@example.com>"
    postal_address: str = "Leadflow Inc., 1 Example Street, Springfield"
    sendgrid_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SENDGRID_API_KEY", "LEADFLOW_SENDGRID_API_KEY")
    )
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = None
    sendgrid_sandbox: bool = False
    sendgrid_asm_group_id: int | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # The address links in mail point to; `leadflow dev` defaults it to where it listens.
    public_url: str = "http://127.0.0.1:8000"
    port: int = 8000  # the API's port for `leadflow dev` and `leadflow api` (LEADFLOW_PORT)
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    admin_key: SecretStr | None = None
    default_timezone: str = "UTC"
    frequency_cap: int = 3
    frequency_cap_days: int = 7
    # "consent": marketing mail only to leads whose consent is "granted". "legitimate_interest":
    # also to leads with no consent statement at all (a warning is logged at start). denied,
    # withdrawn, pending and suppressed addresses are never mailed in either mode.
    consent_mode: Literal["consent", "legitimate_interest"] = "consent"
    # Deprecated (LEADFLOW_REQUIRE_CONSENT): false means consent_mode=legitimate_interest.
    require_consent: bool | None = None
    email_tracking: bool = True
    email_reconcile_window_seconds: float = 900.0
    sendgrid_webhook_tolerance_seconds: float = 600.0
    capture_rate_limit: int = 10  # submissions per client address, form and window
    capture_rate_window_seconds: float = 60.0
    # Proxies whose X-Forwarded-For is believed (CIDRs, comma-separated); none by default.
    trusted_proxies: str = ""
    # Hosts webhook and notify URLs may reach over plain http (comma-separated; tests, intranets).
    allowed_hook_hosts: str = ""
    json_logs: bool = False
    # Sales handoffs: a CRM endpoint told of every assignment, signed with secret_key.
    handoff_webhook_url: str | None = None

    @model_validator(mode="after")
    def _deprecated_require_consent(self) -> Settings:
        if self.require_consent is not None and "consent_mode" not in self.model_fields_set:
            self.consent_mode = "consent" if self.require_consent else "legitimate_interest"
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'leadflow.db').resolve()}"

    @field_validator("trusted_proxies", "allowed_hook_hosts")
    @classmethod
    def _address_list(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "trusted_proxies":
            from leadflow.client_address import parse_networks

            parse_networks(value)  # a typo must stop the start, not silently trust nobody
        return value

    @property
    def secret_is_placeholder(self) -> bool:
        value = self.secret_key.get_secret_value().strip()
        return not value or value == PLACEHOLDER_SECRET

    def check_secrets(self) -> None:
        """Refuse the placeholder or an empty secret outside tests.

        ``leadflow dev`` generates a secret under ``LEADFLOW_HOME`` before it gets here, so
        development links are not forgeable either.

        Raises:
            InsecureSecret: the secret would let anyone forge unsubscribe and tracking links.
        """
        if self.env != "test" and self.secret_is_placeholder:
            raise InsecureSecret(
                "LEADFLOW_SECRET_KEY is not set (or is the placeholder): it signs unsubscribe, "
                "tracking and webhook links, so anyone could forge them. Set it to a long "
                "random value, e.g. LEADFLOW_SECRET_KEY=$(openssl rand -hex 32); `leadflow dev` "
                "makes one for you.")


class InsecureSecret(RuntimeError):
    """The configured secret is the placeholder or empty."""


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
