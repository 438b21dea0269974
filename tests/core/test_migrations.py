from alembic import command
from alembic.script import ScriptDirectory

from app.core.schema_version import alembic_config
from tests.database import fresh_database


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_upgrade_downgrade_upgrade_and_models_match_migrations() -> None:
    with fresh_database("cpro_migrations") as url:
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        # Raises when autogenerate would find any difference between the models and the schema.
        command.check(config)
