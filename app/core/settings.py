"""Service configuration, read once from the environment (prefix ``CPRO_``) and ``.env``."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CPRO_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr | None = None
    """An external PostgreSQL (``postgresql://user:pass@host:5432/db``). Unset: embedded server."""

    data_dir: Path = Path("./.cpro")
    """Where the embedded PostgreSQL keeps its data when ``database_url`` is unset."""

    admin_api_key: SecretStr | None = None
    """When set, ``cpro serve`` makes sure an admin API key with exactly this value exists."""

    log_level: LogLevel = "INFO"

    cors_origins: Annotated[list[str], NoDecode] = []
    """Comma-separated browser origins allowed to call the API (the CSI portal)."""

    public_base_url: str = "http://127.0.0.1:8000"
    """The service's public URL, used in ids it publishes (certificates, credentials)."""

    signing_key_file: Path | None = None
    """Ed25519 key (PEM) that signs Open Badges credentials; default ``<data_dir>/keys/credentials-ed25519.pem``,
    created on first use. Back it up: credentials issued with it verify only against it."""

    run_worker: bool = True
    """Run the webhook delivery worker inside ``cpro serve`` (else run ``cpro worker``)."""

    rpl_recommendation_level: str = "advanced"
    """The self-assessment recommends RPL when every competency is self-rated at or above this
    level code (an assumption to confirm: the sources give no threshold)."""

    webhook_allow_private_targets: bool = False
    """Allow webhook URLs on loopback, private or link-local addresses (tests, local work)."""

    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 12

    db_pool_size: int = 10
    db_statement_timeout_ms: int = 15_000

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
