"""event ids are never reused on SQLite (AUTOINCREMENT)

A SQLite rowid table without AUTOINCREMENT gives a new row the largest id plus one: once
retention has deleted every event (a quiet week), ids would start again at 1 and every
client resuming from a higher Last-Event-ID would skip the new events. PostgreSQL's
sequence never goes back: nothing to do there.

Revision ID: 87d9279a1398
Revises: 508ec8a9debd
Create Date: 2026-12-02 00:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '87d9279a1398'
down_revision = '508ec8a9debd'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "events", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "events", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
