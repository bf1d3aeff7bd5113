"""Reports: a placeholder page until exports arrive (XLSX and CSV, see DESIGN)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("")
def index():
    return render_template("reports.html")
