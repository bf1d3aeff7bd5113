"""Log in and log out (session login for the users of ``netstats users``), rate-limited."""

from __future__ import annotations

import secrets
from functools import cache
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash

from netstats.auth import check_password, end_session, hash_password, start_session
from netstats.db import db
from netstats.models import User
from netstats.web import ratelimit

bp = Blueprint("auth", __name__)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def _safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site, never another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return url_for("web.dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a failed attempt counts towards the rate limit."""
    next_url = _safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url)
    if request.method == "GET":
        return render_template("login.html", next_url=next_url)

    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")
    address = request.remote_addr or "unknown"
    wait = ratelimit.retry_after(name, address)
    if wait:
        count, unit = (wait, "second") if wait < 60 else (max(1, round(wait / 60)), "minute")
        error = f"Too many failed attempts. Try again in {count} {unit}{'s' * (count > 1)}."
        page = render_template("login.html", next_url=next_url, name=name, error=error)
        return page, 429, {"Retry-After": str(wait)}

    user = db.session.scalar(select(User).where(User.name == name)) if name else None
    if user is None:
        # As slow as a wrong password, so that the answer's timing says no more than its text.
        check_password_hash(_dummy_hash(), password)
    if user is None or not check_password(user, password):
        ratelimit.record_failure(name, address)
        db.session.commit()
        error = "Wrong name or password."
        return render_template("login.html", next_url=next_url, name=name, error=error), 401

    if not user.enabled:
        error = "This account is disabled; an admin can enable it."
        return render_template("login.html", next_url=next_url, name=name, error=error), 403

    remember = bool(request.form.get("remember"))
    ratelimit.clear_failures(name, address)
    start_session(user, remember)
    db.session.commit()
    # A new session on login: nothing chosen before it (a planted session) carries over.
    session.clear()
    login_user(user, remember=remember)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End this login session: a copy of its cookies stops working too."""
    if current_user.is_authenticated:
        end_session(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for(".login"))
