"""Which destinations a job measures, and which jobs measure a destination.

A job measures the destinations it lists and every destination carrying all the labels of its
selector. The engine asks the first question at each run, the pages and the API both.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import lazyload

from netstats.db import db
from netstats.destinations import with_label
from netstats.models import Destination, Job, job_destinations


def measured_destinations(job: Job) -> list[Destination]:
    """The enabled destinations a run of ``job`` measures, by name."""
    # One query (every run asks this), without the labels, which a run does not need.
    listed = Destination.id.in_(
        select(job_destinations.c.destination_id).where(job_destinations.c.job_id == job.id)
    )
    chosen = listed
    if job.label_selector:
        by_labels = and_(*(with_label(k, v) for k, v in job.label_selector.items()))
        chosen = or_(listed, by_labels)
    stmt = (
        select(Destination)
        .options(lazyload(Destination.label_rows))
        .where(Destination.enabled.is_(True), chosen)
        .order_by(Destination.name)
    )
    return list(db.session.scalars(stmt))


def measuring_jobs(destination: Destination) -> list[Job]:
    """The jobs that measure ``destination``, by name: listing it or by a matching selector."""
    found = {j.id: j for j in destination.jobs}
    labels = destination.labels
    for job in db.session.scalars(select(Job).where(Job.id.not_in(found) if found else True)):
        selector = job.label_selector or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            found[job.id] = job
    return sorted(found.values(), key=lambda j: j.name)
