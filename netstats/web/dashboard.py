"""The dashboard: what is configured, what runs, and which destinations are in trouble."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, render_template
from sqlalchemy import select

from netstats.db import db, utcnow
from netstats.destinations import count_destinations
from netstats.jobs import JOB_STATES, job_state
from netstats.models import Destination, Job
from netstats.web.queries import is_trouble, latest_measurements, latest_runs

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    now = utcnow()
    jobs = list(db.session.scalars(select(Job)))
    states = Counter(job_state(job, now) for job in jobs)
    latest = latest_measurements()
    trouble_ids = [d for d, m in latest.items() if is_trouble(m)]
    trouble = db.session.scalars(
        select(Destination).where(Destination.id.in_(trouble_ids)).order_by(Destination.name)
    )
    return render_template(
        "dashboard.html",
        destination_count=count_destinations(),
        job_count=len(jobs),
        states=[(state, states[state]) for state in JOB_STATES],
        runs=latest_runs(),
        trouble=[(d, latest[d.id]) for d in trouble],
    )
