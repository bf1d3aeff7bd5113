"""Destination pages: list, detail with its jobs' latest results, create, edit and delete."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from netstats.db import db, utcnow
from netstats.destinations import (
    create_destination,
    delete_destination,
    get_destination,
    query_destinations,
    update_destination,
)
from netstats.errors import Conflict
from netstats.models import FAMILIES
from netstats.pagination import paginate
from netstats.plugins import get_plugins
from netstats.queries.latest import destination_status, latest_measurements
from netstats.scheduling import job_state
from netstats.schema_export import params_json_schema
from netstats.schemas.destinations import (
    DestinationSchema,
    destination_list_args,
    destination_page_schema,
    destination_schema,
)
from netstats.web.forms import FormState, defaults, save_form, to_form
from netstats.web.ui import admin_required, list_args

bp = Blueprint("destinations", __name__, url_prefix="/destinations")

PER_PAGE_CHOICES = (25, 50, 100)


@cache
def form_schema() -> dict[str, Any]:
    """The JSON Schema of a destination: the form's fields, types and browser constraints."""
    return params_json_schema(DestinationSchema)


@bp.get("")
def index():
    args, errors = list_args(destination_list_args)
    args["per_page"] = args.get("per_page") or PER_PAGE_CHOICES[0]
    page = destination_page_schema.dump(paginate(query_destinations(args), args))
    return render_template(
        "destinations/list.html",
        page=page,
        args=args,
        errors=errors,
        latest=latest_measurements(d["id"] for d in page["items"]),
        families=FAMILIES,
        per_page_choices=PER_PAGE_CHOICES,
        max_per_page=current_app.config["MAX_PER_PAGE"],
    )


@bp.get("/<id:destination_id>")
def detail(destination_id: int):
    destination = get_destination(destination_id)
    status = destination_status(destination)
    now = utcnow()
    return render_template(
        "destinations/detail.html",
        destination=destination,
        status=status,
        states={job.id: job_state(job, now) for job, _ in status},
        path_jobs=[job for job, _ in status if job.collector == "traceroute"],
        charts=headline_charts(job for job, _ in status),
    )


def headline_charts(jobs) -> list[dict[str, Any]]:
    """Per job, what its smoke chart draws: the collector's headline distribution (ping's
    RTT, dns's query time, traceroute's RTT to the destination) with its unit. A job whose
    collector is not installed, or has no distribution, gets no chart."""
    collectors = get_plugins().collectors
    charts = []
    for job in jobs:
        collector = collectors.get(job.collector)
        if collector is None or collector.headline is None:
            continue
        metric = next(m for m in collector.metrics if m.name == collector.headline)
        charts.append({"job": job, "metric": metric.name, "unit": metric.unit})
    return charts


def _form_page(form: FormState, destination=None):
    page = render_template(
        "destinations/form.html", form=form, destination=destination, families=FAMILIES
    )
    return page, form.status


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def create():
    if request.method == "GET":
        return _form_page(FormState(form_schema(), defaults(form_schema())))
    destination, form = save_form(
        form_schema(), lambda body: create_destination(destination_schema.load(body))
    )
    if destination is None:
        return _form_page(form)
    flash(f"Destination {destination.name} created.", "success")
    return redirect(url_for(".detail", destination_id=destination.id))


@bp.route("/<id:destination_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(destination_id: int):
    destination = get_destination(destination_id)
    if request.method == "GET":
        values = to_form(destination_schema.dump(destination), form_schema())
        return _form_page(FormState(form_schema(), values), destination)
    saved, form = save_form(
        form_schema(),
        lambda body: update_destination(destination, destination_schema.load(body)),
    )
    if saved is None:
        return _form_page(form, get_destination(destination_id))
    flash(f"Destination {saved.name} saved.", "success")
    return redirect(url_for(".detail", destination_id=destination_id))


@bp.route("/<id:destination_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(destination_id: int):
    """Confirm, then delete; while jobs list it, only with "remove it from them" ticked."""
    destination = get_destination(destination_id, lock=request.method == "POST")
    error = None
    if request.method == "POST":
        name = destination.name
        try:
            delete_destination(destination, detach=request.form.get("detach") == "on")
            db.session.commit()
        except Conflict as exc:
            db.session.rollback()
            destination, error = get_destination(destination_id), exc.message
        else:
            flash(f"Destination {name} deleted.", "success")
            return redirect(url_for(".index"))
    page = render_template("destinations/delete.html", destination=destination, error=error)
    return page, 409 if error else 200
