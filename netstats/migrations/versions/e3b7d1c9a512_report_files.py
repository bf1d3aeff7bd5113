"""report files built by the worker

Revision ID: e3b7d1c9a512
Revises: 9b3f6d2a7e41
Create Date: 2026-12-02 03:55:00

``report_files``: workbooks too large for a request, built by the worker as a task
(netstats.reports.background); the files live under the instance folder.
"""
from alembic import op
import sqlalchemy as sa

import netstats.db


# revision identifiers, used by Alembic.
revision = 'e3b7d1c9a512'
down_revision = '9b3f6d2a7e41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', netstats.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', netstats.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_files_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_files_created_at'))

    op.drop_table('report_files')
