"""Users, passwords and API tokens; who is calling the API and what they may do.

Tokens are random secrets shown once; only their SHA-256 is stored (a fast hash is right for
high-entropy secrets, unlike passwords, which get scrypt from Werkzeug). A request is allowed
to change data when its token has the write scope and its user is an admin, or when it comes
from the session of an admin; everybody else reads.

A login session is a row of ``user_sessions`` whose secret the session cookie (and the
remember cookie, when asked for) carries: logout deletes that row, so a copy of either
cookie stops working, and the user's other sessions go on. A password or role change,
disabling the user, or ``netstats users logout`` delete all of the user's rows.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, g, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy import delete, select, update
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.validators import ValidationError

from netstats.db import db, utcnow
from netstats.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from netstats.models import ApiToken, User, UserSession

TOKEN_PREFIX = "nst_"  # noqa: S105 (a visible marker, not a secret)
# last_used_at is refreshed at most this often, so that reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

login_manager = LoginManager()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, and whether this call may write."""

    user: User
    can_write: bool
    via: str  # "token" | "session"


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            "Password too short.", {"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]}
        )


def create_user(name: str, password: str, admin: bool = False) -> User:
    """Add a user; the caller commits."""
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise Invalid("Invalid user name.", {"name": ["1 to 64 printable characters."]})
    _check_password_strength(password)
    if db.session.scalar(select(User).where(User.name == name)):
        raise Conflict(f"User {name!r} already exists.", {"name": ["Already exists."]})
    user = User(name=name, password_hash=hash_password(password), is_admin=admin)
    db.session.add(user)
    return user


def set_password(user: User, password: str) -> None:
    """Replace the user's password and end all its sessions; the caller commits."""
    _check_password_strength(password)
    user.password_hash = hash_password(password)
    end_all_sessions(user)


def set_role(user: User, admin: bool) -> bool:
    """Make the user an admin or a viewer, ending its sessions if that changes its role;
    returns whether it did. The caller commits."""
    if user.is_admin == admin:
        return False
    user.is_admin = admin
    end_all_sessions(user)
    return True


def set_enabled(user: User, enabled: bool) -> None:
    """Enable or disable a user; disabling ends its sessions, and its tokens are refused
    while it lasts (enabling makes them work again). The caller commits."""
    user.enabled = enabled
    if not enabled:
        end_all_sessions(user)


# --- login sessions ---------------------------------------------------------------------------


def start_session(user: User, remember: bool) -> None:
    """Open a login session for ``user`` (before ``login_user``); the caller commits.

    Its secret goes into the session and the remember cookie by way of ``User.get_id``;
    the row lasts as long as the remember cookie, or as a permanent Flask session. Sessions
    past their end, of every user, are deleted on the way.
    """
    now = utcnow()
    db.session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    if remember:
        lifetime = current_app.config.get("REMEMBER_COOKIE_DURATION", timedelta(days=365))
        if isinstance(lifetime, int | float):
            lifetime = timedelta(seconds=lifetime)
    else:
        lifetime = current_app.permanent_session_lifetime
    secret = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(user_id=user.id, secret_hash=hash_token(secret), expires_at=now + lifetime)
    )
    user.session_secret = secret


def end_session(user: User) -> None:
    """End the login session ``user`` was loaded for (logout); the caller commits."""
    if user.session_secret is not None:
        db.session.execute(
            delete(UserSession).where(UserSession.secret_hash == hash_token(user.session_secret))
        )
        user.session_secret = None


def end_all_sessions(user: User) -> int:
    """End every login session of ``user``, remembered ones included; returns how many.

    The caller commits. API tokens are not sessions: revoke them apart.
    """
    result = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return result.rowcount


def get_user(name: str) -> User:
    user = db.session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"No user {name!r}.")
    return user


def create_token(user: User, scope: str = "read", name: str = "") -> tuple[ApiToken, str]:
    """Issue a token for ``user``; returns the row and the secret, which is never stored."""
    if scope not in ("read", "write"):
        raise Invalid("Invalid scope.", {"scope": ["Must be read or write."]})
    if scope == "write" and not user.is_admin:
        raise Forbidden(f"User {user.name!r} is not an admin: write tokens need an admin.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, scope=scope, prefix=secret[:12], token_hash=hash_token(secret)
    )
    db.session.add(token)
    return token, secret


def revoke_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"No token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def principal_from_token(secret: str) -> Principal:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("Invalid or revoked token.")
    if not token.user.enabled:
        raise Unauthorized(f"User {token.user.name!r} is disabled.")
    principal = Principal(token.user, token.scope == "write" and token.user.is_admin, "token")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        if request.method in READ_METHODS:
            # A read request has no write transaction of its own: use a short one beside it,
            # once the read has let go of its connection (under gevent, hundreds of requests
            # each holding a pooled connection while waiting for a second one drain the pool).
            token_id = token.id
            db.session.commit()
            with db.engine.connect().execution_options(netstats_write=True) as conn, conn.begin():
                conn.execute(
                    update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                )
        else:
            # A write request already holds the write lock (SQLite): a second writer would wait
            # for it forever. Ride along with the request's own transaction instead.
            token.last_used_at = now
    return principal


class CsrfRefused(Forbidden):
    code = "csrf_failed"


def check_session_csrf() -> None:
    """A session call that changes data must carry the page's CSRF token (``X-CSRFToken``).

    The browser sends the session cookie with any request, even one a hostile page makes it
    send; only our own pages know the token. Bearer-token calls carry no cookie: no check.
    """
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    headers = current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"])
    token = next((request.headers[h] for h in headers if request.headers.get(h)), None)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CsrfRefused(
            f"CSRF check failed: {exc.args[0]} Send the X-CSRFToken header."
        ) from None


def current_principal() -> Principal:
    """Authenticate the current request: a Bearer token, or else the login session."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.")
        principal = principal_from_token(secret.strip())
    elif current_user.is_authenticated:
        if request.method not in READ_METHODS:
            check_session_csrf()
        principal = Principal(current_user, current_user.is_admin, "session")
    else:
        raise Unauthorized("Authentication required: a Bearer token or a login session.")
    g.principal = principal
    return principal


def authorize_request() -> Principal:
    """Allow reads to every authenticated caller and writes only to those who may write."""
    principal = current_principal()
    if request.method not in READ_METHODS and not principal.can_write:
        raise Forbidden("This token or user may only read (write scope and admin needed).")
    return principal


def public(view):
    """Mark a view as open to anonymous callers (the health check)."""
    view.netstats_public = True
    return view


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The user of a login session (``User.get_id``), if the session has not ended, the user
    is enabled, and the id is of that user: one query per request."""
    user_id, _, secret = session_id.partition(":")
    if not user_id.isdigit() or not secret:
        return None
    user = db.session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == int(user_id),
            User.enabled.is_(True),
            UserSession.secret_hash == hash_token(secret),
            UserSession.expires_at > utcnow(),
        )
    )
    if user is not None:
        user.session_secret = secret
    return user


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
