"""Job pages: list with states, detail with schedule and runs, forms, and the job actions.

The parameter fields of the form are built in the browser from the collector's JSON Schema
(``GET /api/v1/collectors``), so a plugin's parameters get a form with no template work.
Posted without JavaScript, the same fields are read here with the same JSON Schema.
"""

from __future__ import annotations

import copy
import zoneinfo
from functools import cache
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from netstats.db import db, utcnow
from netstats.errors import NetstatsError
from netstats.jobs import (
    create_job,
    delete_job,
    get_job,
    pause_job,
    query_jobs,
    resume_job,
    run_now,
    update_job,
)
from netstats.models import Destination
from netstats.pagination import paginate
from netstats.plugins import get_plugins
from netstats.queries.latest import latest_runs
from netstats.scheduling import DAYS, JOB_STATES, job_state, upcoming_runs
from netstats.schema_export import params_json_schema
from netstats.schemas.jobs import JobSchema, job_list_args, job_page_schema, job_schema
from netstats.selection import measured_destinations
from netstats.web.forms import FormState, defaults, save_form, to_form
from netstats.web.ui import admin_required, list_args

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

PER_PAGE = 25
RECENT_RUNS = 20
PLANNED_RUNS = 5


@cache
def _job_json_schema() -> dict[str, Any]:
    return params_json_schema(JobSchema)


@cache
def time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def form_schema(collector_name: str | None) -> dict[str, Any]:
    """The job's JSON Schema with ``params`` described by the chosen collector's schema."""
    schema = copy.deepcopy(_job_json_schema())
    collector = get_plugins().collectors.get(collector_name or "")
    if collector is not None:
        params = params_json_schema(collector.params)
        params["description"] = schema["properties"]["params"].get("description", "")
        schema["properties"]["params"] = params
    return schema


@bp.get("")
def index():
    args, errors = list_args(job_list_args)
    args["per_page"] = args.get("per_page") or PER_PAGE
    page = job_page_schema.dump(paginate(query_jobs(args), args))
    return render_template(
        "jobs/list.html",
        page=page,
        args=args,
        errors=errors,
        states=JOB_STATES,
        collectors=get_plugins().collectors,
    )


@bp.get("/<id:job_id>")
def detail(job_id: int):
    job = get_job(job_id)
    now = utcnow()
    return render_template(
        "jobs/detail.html",
        job=job,
        state=job_state(job, now),
        planned=upcoming_runs(job, PLANNED_RUNS, now),
        destinations=measured_destinations(job),
        collector=get_plugins().collectors.get(job.collector),
        runs=latest_runs(RECENT_RUNS, job.id, now),
    )


@bp.get("/<id:job_id>/runs")
def runs_fragment(job_id: int):
    """The recent runs table alone, for the job page to refresh itself."""
    job = get_job(job_id)
    return render_template("jobs/_runs.html", job=job, runs=latest_runs(RECENT_RUNS, job.id))


def _form_page(form: FormState, params: dict[str, Any], job=None):
    destinations = db.session.scalars(select(Destination).order_by(Destination.name)).all()
    options = [(name, c.title) for name, c in get_plugins().collectors.items()]
    chosen = form.value("collector")
    if chosen and chosen not in get_plugins().collectors:
        options.append((chosen, f"{chosen} (not installed)"))
    page = render_template(
        "jobs/form.html",
        form=form,
        job=job,
        params=params,
        collector_options=options,
        destinations=destinations,
        days=DAYS,
        time_zones=time_zones(),
    )
    return page, form.status


def _save(save):
    """Save the posted job form; returns (job or None, form, the params to show again)."""
    schema = form_schema(request.form.get("collector"))
    job, form = save_form(schema, save)
    params = {k.removeprefix("params."): v for k, v in request.form.items() if k[:7] == "params."}
    return job, form, params


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def create():
    if request.method == "GET":
        values = defaults(_job_json_schema())
        values.setdefault("collector", "ping" if "ping" in get_plugins().collectors else "")
        values.setdefault("interval_s", "60")
        return _form_page(FormState(_job_json_schema(), values), {})
    job, form, params = _save(lambda body: create_job(job_schema.load(body)))
    if job is None:
        return _form_page(form, params)
    flash(f"Job {job.name} created.", "success")
    return redirect(url_for(".detail", job_id=job.id))


@bp.route("/<id:job_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(job_id: int):
    job = get_job(job_id)
    if request.method == "GET":
        schema = form_schema(job.collector)
        values = to_form(job_schema.dump(job), schema)
        return _form_page(FormState(schema, values), job.params, job)
    saved, form, params = _save(lambda body: update_job(job, job_schema.load(body)))
    if saved is None:
        return _form_page(form, params, get_job(job_id))
    flash(f"Job {saved.name} saved.", "success")
    return redirect(url_for(".detail", job_id=job_id))


@bp.route("/<id:job_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(job_id: int):
    job = get_job(job_id, lock=request.method == "POST")
    if request.method == "POST":
        name = job.name
        delete_job(job)
        db.session.commit()
        flash(f"Job {name} deleted with its runs and measurements.", "success")
        return redirect(url_for(".index"))
    return render_template("jobs/delete.html", job=job)


ACTIONS = {
    "pause": (pause_job, "Job {name} paused."),
    "resume": (resume_job, "Job {name} resumed."),
    "run": (run_now, "A run of {name} is queued."),
}


@bp.post("/<id:job_id>/<any(pause, resume, run):action>")
@admin_required
def act(job_id: int, action: str):
    """Pause, resume or run now, for a browser without JavaScript (the page uses the API)."""
    job = get_job(job_id)
    do, message = ACTIONS[action]
    try:
        do(job)
        db.session.commit()
    except NetstatsError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        flash(message.format(name=job.name), "success")
    return redirect(url_for(".detail", job_id=job_id))
