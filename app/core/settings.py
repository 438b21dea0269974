"""Service configuration, read once from the environment (prefix ``CPRO_``) and ``.env``."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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
    """The service's public URL, used in the ids and uris it publishes (certificates,
    credentials, CASE documents and packages)."""

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

    framework_cache_seconds: float = 5.0
    """How long a process serves a framework's current version without asking the database. A
    publish or retire shows at once in the process that did it, in others within this time."""

    opentelemetry: bool = False
    """FastAPI's own OpenTelemetry spans, metrics and logs, for an operator who configures an
    OpenTelemetry SDK. Off by default: the service's access log and Prometheus metrics cover
    every request, and looking for a configured provider costs each request several
    microseconds."""

    db_pool_size: int = 10
    db_statement_timeout_ms: int = 15_000

    db_transaction_pooler: bool = False
    """The database URL points at PgBouncer in transaction mode: prepared statements are
    neither cached nor reused by name (asyncpg ``statement_cache_size=0``)."""

    retention_days: int = Field(default=0, ge=0)
    """Days after which a withdrawn, forfeited or re-enrollment-required candidate, untouched
    since, is anonymized by ``cpro privacy-sweep`` and the hourly background sweep; 0 keeps
    everyone."""

    max_body_bytes: int = Field(default=1_048_576, ge=1)
    """Largest request body accepted, in bytes (counted as it streams in); larger: 413. A
    portfolio document upload has its own limit, ``max_document_bytes``."""

    max_document_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """Largest portfolio document accepted, in bytes (counted as it streams in); larger: 413."""

    max_portfolio_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    """Largest total of one candidate's portfolio documents, in bytes; beyond it an upload: 413."""

    bulk_concurrency: int = Field(default=2, ge=0)
    """Bulk requests (``candidates:batch``, ``candidates:import``, ``assessments:release``) one
    API process runs at once while it serves nothing else (see ``bulk_concurrency_when_busy``);
    the others wait their turn. 0: no limit of its own."""

    bulk_concurrency_when_busy: int = Field(default=1, ge=0)
    """Bulk requests one API process runs at once while it is also serving other requests made
    with credentials (one arrived in the last second), so that callers' reads come first; the
    bulk requests already running finish. 0: ``bulk_concurrency`` at all times."""

    bulk_process: bool = True
    """``cpro serve`` hands bulk requests to a worker process beside each API process, so that
    their Python work never holds up other requests; while it (re)starts, the API process
    serves them itself. false: always in the API process."""

    bulk_workers: int = Field(default=2, ge=1, le=16)
    """Bulk worker processes beside each API process (with ``bulk_process``); each bulk request
    goes to the one with the fewest in hand, so that two run on two cores. Each costs about
    140-210 MiB and its own pool of ``db_pool_size`` database connections (and as many in
    overflow). ``bulk_process=false`` serves bulk requests with none."""

    rate_limit_anonymous: int = Field(default=600, ge=0)
    """Requests per minute per client address for calls without a key; 0 turns the limit off."""

    rate_limit_key: int = Field(default=6000, ge=0)
    """Requests per minute per API key; 0 turns the limit off."""

    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    """How long opening a database connection may take before the request gets a 503."""

    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    """How long a request waits for a free pooled connection before it gets a 503."""

    db_command_timeout_seconds: float | None = Field(default=None, gt=0)
    """How long the service waits for any answer from the database before it gives the request
    a 503: the bound when the connection itself is silently gone (a dropped network path,
    where the server's own ``statement_timeout`` can never answer). Unset: the statement
    timeout plus 5 s; when set, it must be longer than the statement timeout."""

    @property
    def public_root(self) -> str:
        """``public_base_url`` without a trailing slash, for joining paths to."""
        return self.public_base_url.rstrip("/")

    @property
    def db_command_timeout(self) -> float:
        if self.db_command_timeout_seconds is not None:
            return self.db_command_timeout_seconds
        return self.db_statement_timeout_ms / 1000 + 5.0

    jwt_issuer: str | None = None
    """The CSI portal identity provider's ``iss``; required when token keys are configured."""

    jwt_audience: str | None = None
    """The ``aud`` that portal tokens for this service carry; required with token keys."""

    jwt_public_key_file: Path | None = None
    """A PEM public key (RSA, P-256 or Ed25519) that verifies portal tokens."""

    jwt_jwks_file: Path | None = None
    """A JWKS JSON file with the identity provider's public keys (chosen by ``kid``)."""

    jwt_role_claim: str = "cpro_role"
    """The token claim naming the role: ``staff``, ``assessor``, ``reader`` or ``candidate``."""

    jwt_candidate_claim: str = "cpro_candidate_id"
    """The token claim carrying a ``candidate`` token's own candidate id."""

    @model_validator(mode="after")
    def _tokens_need_issuer_and_audience(self) -> "Settings":
        keys = self.jwt_public_key_file is not None or self.jwt_jwks_file is not None
        if keys and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("CPRO_JWT_ISSUER and CPRO_JWT_AUDIENCE are required with token keys")
        return self

    @model_validator(mode="after")
    def _command_timeout_outlasts_statements(self) -> "Settings":
        # Otherwise a slow statement would be abandoned by the client while the server still
        # runs it, instead of being cancelled by the server (a clean 503).
        chosen = self.db_command_timeout_seconds
        if chosen is not None and chosen * 1000 <= self.db_statement_timeout_ms:
            raise ValueError(
                "CPRO_DB_COMMAND_TIMEOUT_SECONDS must be longer than CPRO_DB_STATEMENT_TIMEOUT_MS"
            )
        return self

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
