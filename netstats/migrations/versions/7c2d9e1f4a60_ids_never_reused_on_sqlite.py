"""ids never reused on SQLite: AUTOINCREMENT on the tables whose ids users see

SQLite gives a new row the largest rowid plus one, so deleting the last destination and
creating another handed the old id to the new one (a bookmark or an event then pointed
elsewhere). AUTOINCREMENT needs the table rebuilt: batch mode copies each table into a new
one. Foreign keys are switched off meanwhile, since dropping the old table with them on
would cascade into every referencing row; they are checked before they are switched on
again. On a large database the copy takes a while (measurements). PostgreSQL needs
nothing: its sequences never go back.

Revision ID: 7c2d9e1f4a60
Revises: 41cf859f637e
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '7c2d9e1f4a60'
down_revision = '41cf859f637e'
branch_labels = None
depends_on = None

TABLES = ("destinations", "jobs", "job_runs", "measurements", "users", "api_tokens", "events")


def _foreign_keys(on: bool) -> None:
    # PRAGMA foreign_keys is ignored inside a transaction: end the one this migration runs
    # in and begin the next, on the driver's connection (netstats begins SQLAlchemy's
    # transactions itself, so Alembic's autocommit_block would begin one too).
    raw = op.get_bind().connection.dbapi_connection
    raw.execute("COMMIT")
    raw.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    raw.execute("BEGIN")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _foreign_keys(False)
    try:
        for table in TABLES:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
            ):
                pass
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    finally:
        _foreign_keys(True)


def upgrade():
    _rebuild(autoincrement=True)


def downgrade():
    _rebuild(autoincrement=False)
