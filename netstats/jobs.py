"""Jobs: the rules the API, YAML import and web UI share.

Every change that alters what a run does or when it runs bumps the job's ``version`` and
replans: the planned runs ahead are deleted and planned again under the new definition, so
an edit takes effect from the next run. A run already queued under the old version ends
``skipped`` if its time no longer fits (see ``netstats.engine.execution``). Callers commit;
planned runs reach the queue when they do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select

from netstats import events
from netstats.db import contains_pattern, db, unique_or, utcnow
from netstats.engine.outbox import enqueue_after_commit
from netstats.engine.planner import plan, unplan
from netstats.errors import Conflict, Invalid, NotFound
from netstats.models import Destination, Job, JobRun
from netstats.plugins import get_plugins
from netstats.scheduling import job_state
from netstats.selection import measured_destinations, measuring_jobs

# Fields whose change alters what a run does or when: they bump the version and replan.
VERSIONED = (
    "collector",
    "params",
    "destinations",
    "label_selector",
    "interval_s",
    "starts_at",
    "ends_at",
    "windows",
    "timezone",
    "timeout_s",
    "retries",
)
# --- reading ---------------------------------------------------------------------------------


def get_job(job_id: int, lock: bool = False) -> Job:
    """The job, or NotFound; ``lock`` holds its row until the commit, as
    ``netstats.destinations.get_destination`` does."""
    job = db.session.get(Job, job_id, with_for_update=lock)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def query_jobs(args: dict[str, Any], now: datetime | None = None) -> Select:
    """A SELECT of jobs filtered and sorted by the loaded list arguments
    (``netstats.schemas.jobs.JobListArgs``).

    Label selectors and windows are not SQL: the destination and state filters are
    evaluated here and become a list of ids.
    """
    stmt = select(Job)
    if args.get("q"):
        pattern = contains_pattern(args["q"])
        stmt = stmt.where(
            or_(Job.name.ilike(pattern, escape="\\"), Job.description.ilike(pattern, escape="\\"))
        )
    if args.get("enabled") is not None:
        stmt = stmt.where(Job.enabled.is_(args["enabled"]))
    if args.get("collector"):
        stmt = stmt.where(Job.collector == args["collector"])
    if args.get("destination") is not None:
        destination = db.session.get(Destination, args["destination"])
        ids = [j.id for j in measuring_jobs(destination)] if destination else []
        stmt = stmt.where(Job.id.in_(ids))
    if args.get("state"):
        now = now or utcnow()
        ids = [j.id for j in db.session.scalars(stmt) if job_state(j, now) == args["state"]]
        stmt = stmt.where(Job.id.in_(ids))
    return stmt.order_by(args.get("order_by", Job.name), Job.id)


def query_runs(job: Job, args: dict[str, Any]) -> Select:
    """A SELECT of a job's runs by status and scheduled time, newest first."""
    stmt = select(JobRun).where(JobRun.job_id == job.id)
    if args.get("status"):
        stmt = stmt.where(JobRun.status.in_(args["status"]))
    if args.get("since") is not None:
        stmt = stmt.where(JobRun.scheduled_at >= args["since"])
    if args.get("until") is not None:
        stmt = stmt.where(JobRun.scheduled_at < args["until"])
    return stmt.order_by(JobRun.scheduled_at.desc(), JobRun.id.desc())


def get_run(run_id: int) -> JobRun:
    run = db.session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"No run {run_id}.")
    return run


# --- changing --------------------------------------------------------------------------------


def create_job(data: dict[str, Any]) -> Job:
    """Add a job from loaded schema data and plan its first runs; the caller commits."""
    _check_name_free(data["name"])
    params = validated_params(data["collector"], data.get("params") or {})
    destinations = _destinations_by_id(data.get("destinations") or [])
    _check_period(data.get("starts_at"), data.get("ends_at"))
    fields = {k: v for k, v in data.items() if k not in ("params", "destinations")}
    # Two requests may pass the name check at once; the unique index settles it.
    with unique_or(lambda: _name_taken(data["name"])):
        job = Job(**fields, params=params, destinations=destinations, version=1, paused=False)
        db.session.add(job)
    if job.enabled:
        plan(job_ids=[job.id])
    announce("created", job)
    return job


def update_job(job: Job, data: dict[str, Any]) -> Job:
    """Apply loaded (partial) data; a change to what or when runs bumps the version, replans."""
    if "name" in data and data["name"] != job.name:
        _check_name_free(data["name"], job.id)
    changes = dict(data)
    collector = changes.get("collector", job.collector)
    if "collector" in changes or "params" in changes:
        changes["params"] = validated_params(collector, changes.get("params", job.params) or {})
    if "destinations" in changes:
        changes["destinations"] = _destinations_by_id(changes["destinations"] or [])
    _check_period(changes.get("starts_at", job.starts_at), changes.get("ends_at", job.ends_at))
    versioned = any(
        key in changes and _comparable(key, changes[key]) != _comparable(key, getattr(job, key))
        for key in VERSIONED
    )
    enabled_changed = "enabled" in changes and changes["enabled"] != job.enabled
    changed = sorted(
        key
        for key in changes
        if _comparable(key, changes[key]) != _comparable(key, getattr(job, key))
    )
    with unique_or(lambda: _name_taken(changes.get("name", job.name))):
        for key, value in changes.items():
            setattr(job, key, value)
        if versioned:
            job.version += 1
    if versioned or enabled_changed:
        _replan(job)
    if changed:
        announce("edited", job, changed=changed)
    return job


def delete_job(job: Job) -> None:
    """Delete a job with its runs, measurements and samples; the caller commits."""
    announce("deleted", job)
    db.session.delete(job)


def pause_job(job: Job) -> Job:
    """Stop planning the job's runs (the planned ones ahead are dropped); idempotent."""
    if not job.paused:
        job.paused = True
        _replan(job)
        announce("paused", job)
    return job


def resume_job(job: Job) -> Job:
    """Plan the job's runs again from now; idempotent."""
    if job.paused:
        job.paused = False
        _replan(job)
        announce("resumed", job)
    return job


def run_now(job: Job) -> JobRun:
    """Queue a run outside the schedule (windows do not apply; a paused job may run once)."""
    if not job.enabled:
        raise Conflict(f"Job {job.name!r} is disabled; enable it to run it.", {"enabled": [False]})
    run = JobRun(
        job_id=job.id,
        job_version=job.version,
        scheduled_at=utcnow(),
        trigger="manual",
        status="scheduled",
        attempt=0,
    )
    db.session.add(run)
    db.session.flush()
    enqueue_after_commit([(run.id, None)])
    return run


def validated_params(collector_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters checked by the collector's own schema, stored with its defaults filled in.

    Raises ``Invalid`` naming the collector field, or each bad parameter under ``params``.
    """
    plugins = get_plugins()
    return (
        plugins.collector(collector_name).params().dump(plugins.load_params(collector_name, params))
    )


def announce(action: str, job: Job, destination_ids: list[int] | None = None, **extra: Any) -> None:
    """A ``job`` event in the log, in the caller's transaction (docs/live.md).

    ``destination_ids`` defaults to the destinations the job measures now (a query); a bulk
    writer that knows them passes them.
    """
    now = utcnow()
    payload = {
        "action": action,
        "job_id": job.id,
        "name": job.name,
        "collector": job.collector,
        "enabled": job.enabled,
        "paused": job.paused,
        "version": job.version,
        "state": job_state(job, now),
        "destination_ids": (
            destination_ids
            if destination_ids is not None
            else [d.id for d in measured_destinations(job)]
        ),
        "at": now.isoformat(),
        **extra,
    }
    events.append("job", payload, now)


def _replan(job: Job) -> None:
    unplan(job.id)
    if job.enabled and not job.paused:
        plan(job_ids=[job.id])


def _comparable(key: str, value: Any) -> Any:
    if key == "destinations":
        return sorted(d.id for d in value)
    return value


def _destinations_by_id(ids: list[int]) -> list[Destination]:
    wanted = list(dict.fromkeys(ids))
    found = {
        d.id: d for d in db.session.scalars(select(Destination).where(Destination.id.in_(wanted)))
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        message = f"No destination with id {', '.join(map(str, missing))}."
        raise Invalid(message, {"destinations": [message]})
    return [found[i] for i in wanted]


def _check_period(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        message = "Must be after starts_at."
        raise Invalid(f"ends_at: {message}", {"ends_at": [message]})


def _check_name_free(name: str, own_id: int | None = None) -> None:
    stmt = select(Job.id).where(Job.name == name)
    if own_id is not None:
        stmt = stmt.where(Job.id != own_id)
    if db.session.scalar(stmt) is not None:
        raise _name_taken(name)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A job named {name!r} exists already.", {"name": ["Already exists."]})
