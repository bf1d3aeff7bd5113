"""The schema comes from migrations, and the migrations say what the models say."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from netstats.db import db, init_migrations
from tests.conftest import cli_runner


def test_models_and_migrations_agree(app):
    from netstats.engine.partitions import include_name

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, db.metadata)
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


def test_gauges_renamed_for_the_distributions_keep_their_series(app, api):
    # Series as the collectors before the distributions wrote them: dns and traceroute had a
    # gauge under the names their distributions now take; ping never had a gauge rtt_ms.
    from flask_migrate import downgrade
    from sqlalchemy import insert, select

    from netstats.models import Series

    init_migrations(app)
    dest = api.post("/destinations", json={"name": "ns", "host": "127.0.0.1"}).json["id"]
    old = {"dns": "query_time_ms", "traceroute": "rtt_ms", "ping": "rtt_ms"}
    params = {"dns": {"name": "lab.test"}, "traceroute": {}, "ping": {}}
    jobs = {}
    for collector in old:
        body = {"name": collector, "collector": collector, "params": params[collector]}
        body.update(destinations=[dest], interval_s=60)
        response = api.post("/jobs", json=body)
        assert response.status_code == 201, response.json
        jobs[response.json["id"]] = collector
    with app.app_context():
        rows = [{"destination_id": dest, "job_id": j, "metric": old[c]} for j, c in jobs.items()]
        db.session.execute(insert(Series), rows)
        db.session.commit()
        downgrade(revision="508ec8a9debd")
        upgrade()
        renamed = {jobs[s.job_id]: s.metric for s in db.session.scalars(select(Series))}
    assert renamed == {"dns": "query_time_avg_ms", "traceroute": "rtt_avg_ms", "ping": "rtt_ms"}


def test_tiers_added_to_built_rollups_are_marked_pending(app):
    # A database whose tiers were built before the 30-minute and 6-hour ones existed: the
    # migration marks them pending (the next rollup pass builds them); a new one needs not.
    from flask_migrate import downgrade
    from sqlalchemy import text

    init_migrations(app)
    with app.app_context():
        assert "rollups_30m" in db.inspect(db.engine).get_table_names()
        downgrade(revision="c4e8a1f2d6b3")
        assert "rollups_30m" not in db.inspect(db.engine).get_table_names()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO rollup_state VALUES ('rolled_up_to_us', 300000000)"))
        upgrade()
        with db.engine.connect() as conn:
            keys = set(conn.execute(text("SELECT key FROM rollup_state")).scalars())
        assert keys == {"rolled_up_to_us", "pending_30m", "pending_6h"}
        assert {"rollups_30m", "rollups_6h"} <= set(db.inspect(db.engine).get_table_names())
