"""The schema comes from migrations, and the migrations say what the models say."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from netstats.db import db, init_migrations
from tests.conftest import cli_runner


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_upgrade_twice_changes_nothing(app):
    init_migrations(app)
    with app.app_context():
        before = _schema(db.engine)
        upgrade()
        assert _schema(db.engine) == before


def test_db_upgrade_command_creates_schema_on_empty_instance(instance_path, tmp_path):
    from netstats.app import create_app

    fresh = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite'}"})
    result = cli_runner(fresh).invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        tables = set(db.inspect(db.engine).get_table_names())
    assert {"destinations", "jobs", "job_runs", "measurements", "samples", "users"} <= tables


def _schema(engine):
    inspector = db.inspect(engine)
    return {
        table: sorted(str(c) for c in inspector.get_columns(table))
        for table in inspector.get_table_names()
    }
