"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

If this fails after a change to ``leadflow/models.py``, the change needs a migration.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, pool, text
from sqlmodel import SQLModel

from leadflow import migrate
from tests.pg import throwaway_postgres


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrated.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database: the migrations make every table."""
    with throwaway_postgres("leadflow_migrations") as url:
        yield url


def _url(request: pytest.FixtureRequest, backend: str) -> str:
    return request.getfixturevalue(f"{backend}_url")


def _assert_matches_models(url: str) -> None:
    diffs = migrate.schema_differences(url)
    assert not diffs, (
        "the migrated schema differs from leadflow/models.py; "
        f"{migrate.AUTOGENERATE_HINT}\n" + "\n".join(f"  {d!r}" for d in diffs)
    )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_to_head_builds_exactly_the_models(
    request: pytest.FixtureRequest, backend: str
) -> None:
    url = _url(request, backend)
    assert migrate.current(url) is None

    assert migrate.upgrade(url) == migrate.head()

    _assert_matches_models(url)
    # Upgrading an up-to-date database is a no-op, as `docker compose up` does on every start.
    assert migrate.upgrade(url) == migrate.head()


@pytest.mark.postgres
def test_downgrade_to_base_removes_every_table(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    assert migrate.downgrade(postgres_url, "base") is None
    engine = create_engine(postgres_url, poolclass=pool.NullPool)
    left = set(inspect(engine).get_table_names()) - {migrate.VERSION_TABLE}
    engine.dispose()
    assert left == set()


def test_dev_database_made_by_create_all_is_adopted(sqlite_url: str) -> None:
    """A database the embedded dev mode created is stamped, not re-created, by upgrade."""
    engine = create_engine(sqlite_url, poolclass=pool.NullPool)
    SQLModel.metadata.create_all(engine)
    engine.dispose()

    assert migrate.upgrade(sqlite_url) == migrate.head()
    _assert_matches_models(sqlite_url)


def test_unversioned_database_that_differs_is_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, poolclass=pool.NullPool)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE lead ADD COLUMN legacy_notes TEXT"))
    engine.dispose()

    with pytest.raises(migrate.SchemaDrift, match="no migration history"):
        migrate.upgrade(sqlite_url)


def test_autogenerate_writes_nothing_when_migrations_are_complete() -> None:
    versions = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))

    assert migrate.autogenerate("nothing changed") is None

    assert sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py")) == versions


def test_check_command_reports_drift_with_the_fix(sqlite_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    migrate.upgrade(sqlite_url)
    engine = create_engine(sqlite_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_lead_company"))
    engine.dispose()

    assert migrate.main(["check", "--url", sqlite_url]) == 1
    assert "python -m leadflow.migrate autogenerate" in capsys.readouterr().err
