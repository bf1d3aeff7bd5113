"""gauges renamed beside the distributions that take their names

Revision ID: 7c1d2e4f9a10
Revises: 508ec8a9debd
Create Date: 2026-12-02 10:00:00.000000

The dns collector's mean query time was the gauge ``query_time_ms`` and the traceroute
collector's mean destination RTT the gauge ``rtt_ms``. Those names now belong to the
distributions of every query time and every destination RTT, so the gauges become
``query_time_avg_ms`` and ``rtt_avg_ms`` (as ping's ``rtt_avg_ms``). Existing series of those
gauges are renamed with them, so their history continues under the gauge's new name and the
distribution's series starts empty rather than mixing per-round means with raw values.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c1d2e4f9a10'
down_revision = '508ec8a9debd'
branch_labels = None
depends_on = None

RENAMED = [("dns", "query_time_ms", "query_time_avg_ms"), ("traceroute", "rtt_ms", "rtt_avg_ms")]


def _rename(collector, old, new):
    op.execute(
        f"UPDATE series SET metric = '{new}' WHERE metric = '{old}' "
        f"AND job_id IN (SELECT id FROM jobs WHERE collector = '{collector}')"
    )


def upgrade():
    for collector, old, new in RENAMED:
        _rename(collector, old, new)


def downgrade():
    for collector, old, new in RENAMED:
        _rename(collector, new, old)
