"""The dashboard: what is configured, what runs, and which destinations are in trouble."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, render_template
from sqlalchemy import select

from netstats.db import db, utcnow
from netstats.destinations import count_destinations
from netstats.models import Job
from netstats.plugins import get_plugins
from netstats.queries.latest import destinations_in_trouble, latest_by_destination, latest_runs
from netstats.scheduling import JOB_STATES, job_state

bp = Blueprint("dashboard", __name__)
# Destinations listed with their latest result and sparkline; the rest are a link away.
LATEST_DESTINATIONS = 50


@bp.get("/")
def index():
    now = utcnow()
    jobs = list(db.session.scalars(select(Job)))
    states = Counter(job_state(job, now) for job in jobs)
    latest, destination_total = latest_by_destination(LATEST_DESTINATIONS)
    collectors = get_plugins().collectors
    headlines = {name: c.headline for name, c in collectors.items()}
    return render_template(
        "dashboard.html",
        destination_count=count_destinations(),
        job_count=len(jobs),
        states=[(state, states[state]) for state in JOB_STATES],
        runs=latest_runs(),
        trouble=destinations_in_trouble(),
        latest=latest,
        destination_total=destination_total,
        headlines=headlines,
    )
