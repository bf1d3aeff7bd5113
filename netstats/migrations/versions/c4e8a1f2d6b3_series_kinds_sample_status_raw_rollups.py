"""series kinds, sample status and raw values, rollup tiers, time partitions

Revision ID: c4e8a1f2d6b3
Revises: 5a772761d054
Create Date: 2026-12-02 12:00:00.000000

- ``series.kind``: "gauge" or "distribution" (existing series are gauges: distributions were
  not stored before).
- ``samples.status`` (the measurement's status: 0 ok, 1 error, 2 timeout, filled from the
  measurements) and ``samples.raw`` (a distribution's values of the round).
- ``rollups_5m``, ``rollups_1h``, ``rollups_1d`` and ``rollup_state``. The rollup pass builds
  the tiers from the existing samples at its first run (docs/series.md).
- PostgreSQL: ``samples`` becomes partitioned by day on ``ts_us`` and ``rollups_5m`` by month
  on ``start_us``, each with a DEFAULT partition; existing samples are copied over (those
  before today land in the DEFAULT partition, which retention empties in batches) and the
  current and next partitions are created. The key of ``samples`` carries ``status`` too.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e8a1f2d6b3'
down_revision = '5a772761d054'
branch_labels = None
depends_on = None

STATUS_FROM_MEASUREMENT = (
    "(SELECT CASE m.status WHEN 'ok' THEN 0 WHEN 'timeout' THEN 2 ELSE 1 END "
    "FROM measurements m WHERE m.id = samples.measurement_id)"
)


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


def _create_rollups(postgres):
    for name in ('rollups_5m', 'rollups_1h', 'rollups_1d'):
        kwargs = {'sqlite_with_rowid': False}
        if postgres and name == 'rollups_5m':
            kwargs['postgresql_partition_by'] = 'RANGE (start_us)'
        op.create_table(
            name,
            *_rollup_columns(),
            sa.PrimaryKeyConstraint('series_id', 'start_us', name=f'pk_{name}'),
            **kwargs,
        )
    op.create_table(
        'rollup_state',
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=16), nullable=False, server_default='gauge')
        )
    if postgres:
        _upgrade_samples_postgres()
    else:
        with op.batch_alter_table('samples', schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('status', sa.SmallInteger(), nullable=False, server_default='0')
            )
            batch_op.add_column(sa.Column('raw', sa.LargeBinary(), nullable=True))
        op.execute(f"UPDATE samples SET status = COALESCE({STATUS_FROM_MEASUREMENT}, 1)")
    _create_rollups(postgres)
    if postgres:
        from netstats.engine.partitions import create_default, ensure_partitions

        conn = op.get_bind()
        create_default(conn, 'rollups_5m')
        ensure_partitions(conn, datetime.now(UTC))


def _upgrade_samples_postgres():
    from netstats.engine.partitions import create_default

    op.execute('ALTER TABLE samples RENAME TO samples_old')
    op.execute('ALTER INDEX pk_samples RENAME TO pk_samples_old')
    op.create_table(
        'samples',
        sa.Column('series_id', sa.Integer(), nullable=False),
        sa.Column('ts_us', sa.BigInteger(), nullable=False),
        sa.Column('measurement_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('status', sa.SmallInteger(), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['series_id'], ['series.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(
            'series_id', 'ts_us', 'measurement_id', name='pk_samples',
            postgresql_include=['value', 'status'],
        ),
        postgresql_partition_by='RANGE (ts_us)',
    )
    create_default(op.get_bind(), 'samples')
    op.execute(
        "INSERT INTO samples (series_id, ts_us, measurement_id, value, status) "
        "SELECT series_id, ts_us, measurement_id, value, "
        f"COALESCE({STATUS_FROM_MEASUREMENT.replace('samples.', 'samples_old.')}, 1) "
        "FROM samples_old"
    )
    op.execute('DROP TABLE samples_old')


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.drop_table('rollup_state')
    for name in ('rollups_1d', 'rollups_1h', 'rollups_5m'):
        op.drop_table(name)
    if postgres:
        op.execute('ALTER TABLE samples RENAME TO samples_new')
        op.execute('ALTER INDEX pk_samples RENAME TO pk_samples_new')
        op.create_table(
            'samples',
            sa.Column('series_id', sa.Integer(), nullable=False),
            sa.Column('ts_us', sa.BigInteger(), nullable=False),
            sa.Column('measurement_id', sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column('value', sa.Float(), nullable=True),
            sa.ForeignKeyConstraint(['series_id'], ['series.id'], ondelete='CASCADE'),
            sa.PrimaryKeyConstraint(
                'series_id', 'ts_us', 'measurement_id', name='pk_samples',
                postgresql_include=['value'],
            ),
        )
        op.execute(
            "INSERT INTO samples SELECT series_id, ts_us, measurement_id, value FROM samples_new "
            "WHERE raw IS NULL"
        )
        op.execute('DROP TABLE samples_new CASCADE')
    else:
        op.execute("DELETE FROM samples WHERE raw IS NOT NULL")
        with op.batch_alter_table('samples', schema=None) as batch_op:
            batch_op.drop_column('raw')
            batch_op.drop_column('status')
    op.execute(
        "DELETE FROM series WHERE kind = 'distribution'"
    )
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('kind')
