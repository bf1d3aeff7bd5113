"""totals and run_totals: the counters of GET /metrics

Revision ID: 9b3f6d2a7e41
Revises: c4e8a1f2d6b3
Create Date: 2026-12-02 03:20:00.000000

``totals`` per (job, destination): rounds by status, probes sent and received, traces, route
changes and flaps, and the newest round; ``run_totals`` per (job, final state): finished runs.
Both are written in the run's transaction from now on and never pruned (docs/prometheus.md).
They start empty: counters count from the upgrade on (Prometheus's rate() does not mind
where a counter starts), and the last-round gauges appear with each pair's next round.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9b3f6d2a7e41'
down_revision = 'c4e8a1f2d6b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'totals',
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('destination_id', sa.Integer(), nullable=False),
        sa.Column('rounds_ok', sa.BigInteger(), nullable=False),
        sa.Column('rounds_error', sa.BigInteger(), nullable=False),
        sa.Column('rounds_timeout', sa.BigInteger(), nullable=False),
        sa.Column('sent', sa.BigInteger(), nullable=False),
        sa.Column('received', sa.BigInteger(), nullable=False),
        sa.Column('traces', sa.BigInteger(), nullable=False),
        sa.Column('route_changes', sa.BigInteger(), nullable=False),
        sa.Column('route_flaps', sa.BigInteger(), nullable=False),
        sa.Column('last_started_us', sa.BigInteger(), nullable=False),
        sa.Column('last_status', sa.String(length=8), nullable=False),
        sa.Column('last_duration_ms', sa.Float(), nullable=False),
        sa.Column('last_metrics', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'destination_id'),
    )
    with op.batch_alter_table('totals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_totals_destination_id'), ['destination_id'], unique=False)
    op.create_table(
        'run_totals',
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('last_finished_us', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'status'),
    )


def downgrade():
    op.drop_table('run_totals')
    with op.batch_alter_table('totals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_totals_destination_id'))
    op.drop_table('totals')
