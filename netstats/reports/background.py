"""Reports built by the worker: a workbook with more measurements than a request should wait
for (``REPORT_REQUEST_ROWS``) is queued as a ``report_files`` row, built by a Huey task into
``instance/reports/`` (files readable by their owner only), its progress written as it goes,
and offered for download by the reports page when ready.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from netstats.db import db, utcnow, write_transaction
from netstats.errors import NotFound
from netstats.models import ReportFile
from netstats.reports.definition import Report, define_report
from netstats.reports.rows import count_rows
from netstats.schemas.reports import report_args

log = logging.getLogger(__name__)
FOLDER = "reports"
TASK = "netstats.build_report"
RECENT = 20


def needs_worker(report: Report, limit: int) -> bool:
    """Whether the workbook of ``report`` has more measurement rows than a request builds."""
    return report.format == "xlsx" and count_rows(report) > limit


def queue_report(arguments: dict[str, Any], report: Report, user_id: int | None) -> ReportFile:
    """Record the report to build and hand it to the worker (after the commit)."""
    from netstats.engine.queue import enqueue_task

    with write_transaction():
        row = ReportFile(
            user_id=user_id,
            name=report.filename,
            format=report.format,
            arguments=arguments,
            state="queued",
            rows_total=min(count_rows(report), _cap()),
        )
        db.session.add(row)
        db.session.flush()
        report_id = row.id
    enqueue_task(TASK, report_id)
    return db.session.get(ReportFile, report_id)


def _cap() -> int:
    from netstats.reports.xlsx import MEASUREMENT_CAP

    return MEASUREMENT_CAP


def file_path(report_file: ReportFile) -> str:
    """Where the report's file is (or will be)."""
    return os.path.join(current_app.instance_path, FOLDER, f"{report_file.id}.{report_file.format}")


def _progress(report_id: int, rows: int) -> None:
    # A connection of its own: the session's transaction holds the export's streaming cursor
    # (a server-side cursor on PostgreSQL), which a commit or rollback there would close.
    with db.engine.begin() as connection:
        connection.execute(
            update(ReportFile).where(ReportFile.id == report_id).values(rows_done=rows)
        )


def build_report_file(report_id: int) -> None:
    """The worker's task: build the report's file, writing progress every few thousand rows;
    a failure is recorded on the row (and logged), never raised into the consumer."""
    from netstats.reports.xlsx import write_workbook

    row = db.session.get(ReportFile, report_id)
    if row is None or row.state != "queued":
        return
    arguments = dict(row.arguments)
    db.session.rollback()
    with write_transaction():
        db.session.execute(
            update(ReportFile).where(ReportFile.id == report_id).values(state="building")
        )
    row = db.session.get(ReportFile, report_id)
    path = file_path(row)
    db.session.rollback()
    try:
        report = define_report(report_args.load(arguments))
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:

            def stage(name: str, done: int, _total: int) -> None:
                if name == "measurements":
                    _progress(report_id, done)

            written = write_workbook(report, out, stage)
        db.session.rollback()
        with write_transaction():
            db.session.execute(
                update(ReportFile)
                .where(ReportFile.id == report_id)
                .values(
                    state="ready",
                    rows_done=written,
                    size=os.path.getsize(path),
                    finished_at=utcnow(),
                )
            )
    except Exception as exc:
        log.exception("report %s failed", report_id)
        db.session.rollback()
        with write_transaction():
            db.session.execute(
                update(ReportFile)
                .where(ReportFile.id == report_id)
                .values(state="failed", error=str(exc)[:500], finished_at=utcnow())
            )


def recent_report_files(limit: int = RECENT) -> Sequence[ReportFile]:
    """The newest reports built by the worker."""
    return db.session.scalars(
        select(ReportFile).order_by(ReportFile.created_at.desc(), ReportFile.id.desc()).limit(limit)
    ).all()


def ready_file(report_id: int) -> tuple[ReportFile, str]:
    """A report that is ready, and its file's path; NotFound otherwise."""
    row = db.session.get(ReportFile, report_id)
    if row is None or row.state != "ready" or not os.path.exists(file_path(row)):
        raise NotFound(f"No report file {report_id} ready.")
    return row, file_path(row)
