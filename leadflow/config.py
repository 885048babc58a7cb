"""Settings: one pydantic-settings class, read from ``LEADFLOW_*`` variables and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"

__all__ = ["Settings", "get_settings", "reset_settings", "PROJECT_ROOT"]

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
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    admin_key: SecretStr | None = None
    default_timezone: str = "UTC"
    frequency_cap: int = 3
    frequency_cap_days: int = 7
    # Without it, a lead with no consent record at all is mailed (legitimate interest); with it
    # only leads whose latest consent is "granted" are (LEADFLOW_REQUIRE_CONSENT=true).
    require_consent: bool = False
    email_tracking: bool = True
    email_reconcile_window_seconds: float = 900.0
    sendgrid_webhook_tolerance_seconds: float = 600.0
    capture_rate_limit: int = 10  # submissions per IP and window
    capture_rate_window_seconds: float = 60.0
    json_logs: bool = False
    # Sales handoffs: a CRM endpoint told of every assignment, signed with secret_key.
    handoff_webhook_url: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'leadflow.db').resolve()}"

    def check_secrets(self) -> None:
        """Refuse placeholder secrets outside development and tests."""
        if self.env == "production" and self.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
            raise RuntimeError("LEADFLOW_SECRET_KEY must be set to a real secret in production")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
