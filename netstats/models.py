"""The data model.

Metrics are stored twice on purpose: as JSON on the measurement (the whole result, for the
API and exports) and as rows of ``samples`` keyed by (series, time), where a series is one
metric of one destination measured by one job. A chart of one metric over a time range then
reads one contiguous stretch of one index. Rollup tiers (``rollups_5m``, ``rollups_1h``,
``rollups_1d``) summarize the samples per UTC bucket for long ranges (docs/series.md).

On PostgreSQL ``samples`` (daily) and ``rollups_5m`` (monthly) are partitioned by time, so
that retention drops whole partitions (``netstats.engine.partitions``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from netstats.db import db, utcnow

# Integer on SQLite so that the column is the rowid (autoincrement); 64-bit elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# SQLite gives a new row the largest rowid plus one, so the id of the last row deleted came
# back: tables whose ids users see (URLs, bookmarks, events, logs) never reuse one there.
# PostgreSQL sequences never go back.
NEVER_REUSED = {"sqlite_autoincrement": True}

FAMILIES = ("any", "ipv4", "ipv6")
RUN_STATES = ("scheduled", "running", "succeeded", "failed", "timed_out", "skipped", "abandoned")
MEASUREMENT_STATES = ("ok", "error", "timeout")
SCOPES = ("read", "write")
# samples.status and the rollups' status counts: the measurement's status as a small integer.
STATUS_CODES = {"ok": 0, "error": 1, "timeout": 2}
SERIES_KINDS = ("gauge", "distribution")


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Destination(Timestamps, db.Model):
    __tablename__ = "destinations"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    host: Mapped[str] = mapped_column(String(253))
    family: Mapped[str] = mapped_column(String(8), default="any")
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    label_rows: Mapped[list[DestinationLabel]] = relationship(
        back_populates="destination",
        cascade="all, delete-orphan",
        order_by="DestinationLabel.key",
        lazy="selectin",
    )
    jobs: Mapped[list[Job]] = relationship(
        secondary="job_destinations", back_populates="destinations", order_by="Job.name"
    )

    @property
    def labels(self) -> dict[str, str]:
        return {row.key: row.value for row in self.label_rows}

    @labels.setter
    def labels(self, value: dict[str, str]) -> None:
        current = {row.key: row for row in self.label_rows}
        for key in set(current) - set(value):
            self.label_rows.remove(current[key])
        for key, val in value.items():
            if key in current:
                current[key].value = val
            else:
                self.label_rows.append(DestinationLabel(key=key, value=val))


class DestinationLabel(db.Model):
    """A key/value label; a table of its own so that filters and job selectors use an index."""

    __tablename__ = "destination_labels"
    __table_args__ = (Index("ix_destination_labels_key_value", "key", "value"),)

    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))

    destination: Mapped[Destination] = relationship(back_populates="label_rows")


job_destinations = Table(
    "job_destinations",
    db.metadata,
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "destination_id",
        ForeignKey("destinations.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Job(Timestamps, db.Model):
    __tablename__ = "jobs"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    collector: Mapped[str] = mapped_column(String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Every destination carrying all of these labels is measured too, besides `destinations`.
    label_selector: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    interval_s: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # [{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}] in `timezone`; empty = always.
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    timeout_s: Mapped[float | None] = mapped_column(Float)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by every change that alters what a run does; a run planned under an older
    # version ends `skipped`.
    version: Mapped[int] = mapped_column(Integer, default=1)

    destinations: Mapped[list[Destination]] = relationship(
        secondary=job_destinations, back_populates="jobs", order_by="Destination.name"
    )
    runs: Mapped[list[JobRun]] = relationship(
        back_populates="job", cascade="all, delete-orphan", passive_deletes=True
    )


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "scheduled_at", name="uq_job_runs_job_scheduled"),
        Index("ix_job_runs_status_scheduled", "status", "scheduled_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    job_version: Mapped[int] = mapped_column(Integer)
    scheduled_at: Mapped[datetime]
    # "schedule" for planned runs, "manual" for run-now.
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    lateness_ms: Mapped[float | None] = mapped_column(Float)

    job: Mapped[Job] = relationship(back_populates="runs")
    measurements: Mapped[list[Measurement]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class Measurement(db.Model):
    """One normalized collector result: one target, one run."""

    __tablename__ = "measurements"
    __table_args__ = (
        Index("ix_measurements_destination_started", "destination_id", "started_at"),
        Index("ix_measurements_job_started", "job_id", "started_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_runs.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    destination_id: Mapped[int | None] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE")
    )
    collector: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(253))
    address: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    run: Mapped[JobRun | None] = relationship(back_populates="measurements")


class Series(db.Model):
    """One metric of one destination as measured by one job."""

    __tablename__ = "series"
    __table_args__ = (
        UniqueConstraint("destination_id", "metric", "job_id", name="uq_series_dest_metric_job"),
        Index("ix_series_job", "job_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(64))
    # "gauge" (one value per measurement) or "distribution" (a round's raw values), from the
    # collector's declaration of the metric when the series was created.
    kind: Mapped[str] = mapped_column(String(16), default="gauge")


samples = Table(
    "samples",
    db.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    # Microseconds since the Unix epoch, UTC: compact, exact, and the same on every dialect.
    Column("ts_us", BigInteger, nullable=False),
    Column("measurement_id", BigInteger, nullable=False, autoincrement=False),
    # NULL is a gap (for example no RTT when every probe was lost), drawn as such. For a
    # distribution: the mean of the round's values.
    Column("value", Float, nullable=True),
    # The measurement's status (STATUS_CODES): rollups count rounds by status.
    Column("status", SmallInteger, nullable=False),
    # A distribution's values of the round, float64 little-endian (netstats.histogram
    # pack_values); NULL for a gauge.
    Column("raw", LargeBinary, nullable=True),
    # A chart reads one series over a time range from this index alone: on SQLite the rows
    # live in key order (WITHOUT ROWID); on PostgreSQL the key carries the value (INCLUDE).
    PrimaryKeyConstraint(
        "series_id",
        "ts_us",
        "measurement_id",
        name="pk_samples",
        postgresql_include=["value", "status"],
    ),
    sqlite_with_rowid=False,
    postgresql_partition_by="RANGE (ts_us)",
)


def _rollup_table(name: str, **kwargs) -> Table:
    """One rollup tier: per series and UTC bucket, what its samples add up to."""
    return Table(
        name,
        db.metadata,
        Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
        # Bucket start, microseconds since the epoch, a multiple of the tier's step.
        Column("start_us", BigInteger, nullable=False),
        # Sample rows (rounds); non-null values (for a distribution: how many values).
        Column("count", Integer, nullable=False),
        Column("n", BigInteger, nullable=False),
        # Of the values (NULL without any): sum, sum of squares, min and max.
        Column("sum", Float, nullable=True),
        Column("sumsq", Float, nullable=True),
        Column("min", Float, nullable=True),
        Column("max", Float, nullable=True),
        # First and last sample time in the bucket.
        Column("first_us", BigInteger, nullable=False),
        Column("last_us", BigInteger, nullable=False),
        # Rounds by status.
        Column("ok", Integer, nullable=False),
        Column("error", Integer, nullable=False),
        Column("timeout", Integer, nullable=False),
        # Distributions only: the histogram (netstats.histogram) and the cached quantiles
        # p0 p5 p10 p25 p50 p75 p90 p95 p99 p100 as float32, to draw a bucket without decoding.
        Column("hist", LargeBinary, nullable=True),
        Column("quantiles", LargeBinary, nullable=True),
        PrimaryKeyConstraint("series_id", "start_us", name=f"pk_{name}"),
        sqlite_with_rowid=False,
        **kwargs,
    )


rollups_5m = _rollup_table("rollups_5m", postgresql_partition_by="RANGE (start_us)")
rollups_30m = _rollup_table("rollups_30m")
rollups_1h = _rollup_table("rollups_1h")
rollups_6h = _rollup_table("rollups_6h")
rollups_1d = _rollup_table("rollups_1d")


class RollupState(db.Model):
    """The rollup pass's progress, by key: ``cursor`` (the last event id it has taken in),
    ``pass_us`` (when its last pass began) and ``rolled_up_to_us`` (every 5-minute bucket
    before it is rolled up)."""

    __tablename__ = "rollup_state"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RouteState(db.Model):
    """Route change detection per (job, destination): the current route (the last stable
    signature, ``netstats.routes``), the candidate traces of a new path, and the flaps."""

    __tablename__ = "routes"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # {"hops": [[address, ...] per TTL from 1], "reached": bool}
    current: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Since when the current route holds: its first trace, or the first trace of its change.
    since: Mapped[datetime]
    # [{"measurement_id", "at", "signature"}]: consecutive traces of a path not yet a change.
    candidate: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    candidate_count: Mapped[int] = mapped_column(Integer, default=0)
    flap_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RouteChange(db.Model):
    """A route change (``kind`` "change") or a flap ("flap") of one (job, destination)."""

    __tablename__ = "route_changes"
    __table_args__ = (
        Index("ix_route_changes_job_destination_at", "job_id", "destination_id", "at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    # The time of the first trace on the new path.
    at: Mapped[datetime]
    # The traces that showed the new path, in time order (K of them for a change).
    measurement_ids: Mapped[list[int]] = mapped_column(JSON)
    old_route: Mapped[dict[str, Any]] = mapped_column(JSON)
    new_route: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_ttl: Mapped[int] = mapped_column(Integer)
    last_ttl: Mapped[int] = mapped_column(Integer)
    # [{"ttl", "old": [address, ...] or null, "new": ..., "differs": bool}], first to last TTL.
    hops: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Totals(db.Model):
    """What one (job, destination) has counted since netstats began counting it: rounds by
    status, probes sent and received, route changes and flaps, and its newest round.

    Written in the run's own transaction (``netstats.engine.totals``) and never pruned, so
    these numbers only grow whatever retention deletes: they are the counters of
    ``GET /metrics`` (docs/prometheus.md). A row goes only with its job or destination.
    """

    __tablename__ = "totals"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    rounds_ok: Mapped[int] = mapped_column(BigInteger, default=0)
    rounds_error: Mapped[int] = mapped_column(BigInteger, default=0)
    rounds_timeout: Mapped[int] = mapped_column(BigInteger, default=0)
    # The rounds' ``sent`` and ``received`` metrics (ping), summed.
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    # Traces the route change detector took in, and the changes and flaps it found.
    traces: Mapped[int] = mapped_column(BigInteger, default=0)
    route_changes: Mapped[int] = mapped_column(BigInteger, default=0)
    route_flaps: Mapped[int] = mapped_column(BigInteger, default=0)
    # The newest round (by its start; a late run does not replace a newer one).
    last_started_us: Mapped[int] = mapped_column(BigInteger)
    last_status: Mapped[str] = mapped_column(String(8))
    last_duration_ms: Mapped[float] = mapped_column(Float)
    last_metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RunTotals(db.Model):
    """Finished runs of one job by final state, counted in the transaction that ends them,
    and when the newest of them ended. Never pruned (``GET /metrics``)."""

    __tablename__ = "run_totals"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_finished_us: Mapped[int] = mapped_column(BigInteger)


class Event(db.Model):
    """The live-update log; written in the same transaction as the data it announces."""

    __tablename__ = "events"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReportFile(db.Model):
    """A report built by the worker (a workbook too large for a request): its definition, its
    progress, and where the file is (under the instance folder, readable by its owner only)."""

    __tablename__ = "report_files"
    __table_args__ = (NEVER_REUSED,)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8))
    # The arguments as ReportArgs loads them (strings), so the worker defines it again.
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    # queued, building, ready or failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # A disabled user cannot log in, and neither its sessions nor its tokens are accepted.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # The secret of the login session this object was loaded for or logged in with
    # (``netstats.auth``); never stored, only its hash is (``UserSession``).
    session_secret = None

    @property
    def is_active(self) -> bool:
        return self.enabled

    def get_id(self) -> str:
        """Flask-Login's id, kept in the session and the remember cookie: the user and the
        login session, so that ending the session makes both cookies worthless."""
        return f"{self.id}:{self.session_secret}"


class UserSession(db.Model):
    """A login session, from login to logout (or its end); only a SHA-256 of its secret is
    kept. Every request of the session checks it is still here (``netstats.auth``)."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A remembered session lasts as long as its remember cookie, another one as long as a
    # permanent Flask session would.
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(db.Model):
    """An API token; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # The first characters of the token, shown in listings so that a user can tell them apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8), default="read")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginFailure(db.Model):
    """A failed login, counted by the login rate limit (``netstats.web.ratelimit``)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # "name:<user name as typed>", "addr:<client address>" or "pair:<address> <name>"
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
