from pathlib import Path

import pytest

from app.core.settings import Settings


def test_env_prefix_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPRO_DATABASE_URL", raising=False)
    monkeypatch.setenv("CPRO_LOG_LEVEL", "debug")
    monkeypatch.setenv("CPRO_CORS_ORIGINS", "https://portal.example, https://csi.example")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url is None
    assert settings.data_dir == Path("./.cpro")
    assert settings.log_level == "DEBUG"
    assert settings.cors_origins == ["https://portal.example", "https://csi.example"]


def test_dotenv_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPRO_ADMIN_API_KEY", raising=False)
    env = tmp_path / ".env"
    env.write_text("CPRO_ADMIN_API_KEY=from-dotenv\nCPRO_DATA_DIR=/srv/cpro\n")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.admin_api_key is not None
    assert settings.admin_api_key.get_secret_value() == "from-dotenv"
    assert settings.data_dir == Path("/srv/cpro")
    assert "from-dotenv" not in repr(settings)


def test_every_setting_is_documented_in_the_readme() -> None:
    from app.core.schema_version import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = [
        f"CPRO_{name.upper()}"
        for name in Settings.model_fields
        if f"`CPRO_{name.upper()}`" not in readme
    ]
    assert undocumented == []


def test_the_command_timeout_must_outlast_the_statement_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CPRO_DB_STATEMENT_TIMEOUT_MS", "30000")
    monkeypatch.setenv("CPRO_DB_COMMAND_TIMEOUT_SECONDS", "20")
    with pytest.raises(ValueError, match="CPRO_DB_COMMAND_TIMEOUT_SECONDS"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("CPRO_DB_COMMAND_TIMEOUT_SECONDS", "35")
    assert Settings(_env_file=None).db_command_timeout == 35  # type: ignore[call-arg]
    monkeypatch.delenv("CPRO_DB_COMMAND_TIMEOUT_SECONDS")
    assert Settings(_env_file=None).db_command_timeout == 35  # type: ignore[call-arg]
