"""The data model.

Metrics are stored twice on purpose: as JSON on the measurement (the whole result, for the
API and exports) and as rows of ``samples`` keyed by (series, time), where a series is one
metric of one destination measured by one job. A chart of one metric over a time range then
reads one contiguous stretch of one index.
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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from netstats.db import db, utcnow

# Integer on SQLite so that the column is the rowid (autoincrement); 64-bit elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

FAMILIES = ("any", "ipv4", "ipv6")
RUN_STATES = ("scheduled", "running", "succeeded", "failed", "timed_out", "skipped", "abandoned")
MEASUREMENT_STATES = ("ok", "error", "timeout")
SCOPES = ("read", "write")


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Destination(Timestamps, db.Model):
    __tablename__ = "destinations"

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


samples = Table(
    "samples",
    db.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    # Microseconds since the Unix epoch, UTC: compact, exact, and the same on every dialect.
    Column("ts_us", BigInteger, nullable=False),
    Column("measurement_id", BigInteger, nullable=False, autoincrement=False),
    # NULL is a gap (for example no RTT when every probe was lost), drawn as such.
    Column("value", Float, nullable=True),
    # A chart reads one series over a time range from this index alone: on SQLite the rows
    # live in key order (WITHOUT ROWID); on PostgreSQL the key carries the value (INCLUDE).
    PrimaryKeyConstraint(
        "series_id", "ts_us", "measurement_id", name="pk_samples", postgresql_include=["value"]
    ),
    sqlite_with_rowid=False,
)


class Event(db.Model):
    """The live-update log; written in the same transaction as the data it announces."""

    __tablename__ = "events"
    # SQLite: never reuse an id, even after retention emptied the table (clients resume by id).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiToken(db.Model):
    """An API token; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

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
    # "name:<user name as typed>" or "addr:<client address>"
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
