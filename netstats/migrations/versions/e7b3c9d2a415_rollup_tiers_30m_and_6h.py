"""rollup tiers of 30 minutes and 6 hours

Revision ID: e7b3c9d2a415
Revises: e3b7d1c9a512
Create Date: 2026-12-02 04:00:00.000000

- ``rollups_30m`` and ``rollups_6h``, the same columns as the other tiers (not partitioned on
  PostgreSQL: like ``rollups_1h``, a few dozen rows per series-day; retention deletes them in
  batches).
- On a database whose tiers are already built (``rollup_state.rolled_up_to_us`` is set), the
  new tiers are marked pending (``pending_30m``, ``pending_6h``): the next rollup pass builds
  them from the 5-minute and the 1-hour rows it has, and until then readers use the other
  tiers (docs/series.md). A new database needs nothing: the first pass builds every tier.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e7b3c9d2a415'
down_revision = 'e3b7d1c9a512'
branch_labels = None
depends_on = None

NEW_TIERS = ('rollups_30m', 'rollups_6h')


def _rollup_columns():
    return [
        sa.Column('series_id', sa.Integer(), nullable=False),
        sa.Column('start_us', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('sum', sa.Float(), nullable=True),
        sa.Column('sumsq', sa.Float(), nullable=True),
        sa.Column('min', sa.Float(), nullable=True),
        sa.Column('max', sa.Float(), nullable=True),
        sa.Column('first_us', sa.BigInteger(), nullable=False),
        sa.Column('last_us', sa.BigInteger(), nullable=False),
        sa.Column('ok', sa.Integer(), nullable=False),
        sa.Column('error', sa.Integer(), nullable=False),
        sa.Column('timeout', sa.Integer(), nullable=False),
        sa.Column('hist', sa.LargeBinary(), nullable=True),
        sa.Column('quantiles', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['series_id'], ['series.id'], ondelete='CASCADE'),
    ]


def upgrade():
    for name in NEW_TIERS:
        op.create_table(
            name,
            *_rollup_columns(),
            sa.PrimaryKeyConstraint('series_id', 'start_us', name=f'pk_{name}'),
            sqlite_with_rowid=False,
        )
    built = op.get_bind().execute(
        sa.text("SELECT count(*) FROM rollup_state WHERE key = 'rolled_up_to_us'")
    ).scalar()
    if built:
        op.execute(
            "INSERT INTO rollup_state (key, value) VALUES ('pending_30m', 0), ('pending_6h', 0)"
        )


def downgrade():
    op.execute(
        "DELETE FROM rollup_state WHERE key IN "
        "('pending_30m', 'pending_6h', 'held_30m', 'held_6h')"
    )
    for name in reversed(NEW_TIERS):
        op.drop_table(name)
