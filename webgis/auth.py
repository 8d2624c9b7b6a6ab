"""Login, logout, the signed-in principal, and CSRF protection for every write.

Sessions are server-side (layers/accounts/sessions.py). CSRF: every unsafe
request of a signed-in user carries the session's token, in the form field
``csrf_token`` or the ``X-CSRF-Token`` header; the login form uses a
double-submit cookie, because there is no session yet.
"""

from __future__ import annotations

import hmac
import secrets
import time
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from layers.accounts import audit
from layers.accounts.access import Principal, apply_scope, load_principal
from layers.accounts.login import LoginRefused, authenticate
from layers.accounts.sessions import create_session, hash_token, load_session, revoke, utcnow
from webgis.db import session

bp = Blueprint("auth", __name__)

COOKIE = "wangge_session"
PRE_CSRF_COOKIE = "wangge_login_csrf"
#: Endpoints anyone may reach; everything else needs a signed-in user.
PUBLIC_ENDPOINTS = frozenset(
    {
        "auth.login",
        "static",
        "pages.healthz",
        # Open311 GeoReport v2: GETs are public; the POST carries an api_key instead of a
        # session, so it is exempt from the session's CSRF check (no cookie authorises it).
        "open311.services",
        "open311.service",
        "open311.requests",
        "open311.request_one",
        "open311.create_request",
    }
)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def principal() -> Principal | None:
    """The signed-in user of this request, or None."""
    return g.get("principal")


def client_ip() -> str | None:
    """The client address (no proxy headers are trusted unless a proxy is configured)."""
    return request.remote_addr


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tiles/", "/open311/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def _csrf_error():
    message = "缺少或无效的 CSRF 令牌，请刷新页面后重试 / missing or invalid CSRF token"
    if _wants_json():
        return jsonify(error="csrf", message=message), 400
    return render_template("error.html", message=message), 400


def _load_user():
    g.principal = None
    g.login = None
    token = request.cookies.get(COOKIE)
    if token:
        db = session()
        token_hash = hash_token(token)
        cached = _cached_principal(token_hash)
        # With a cached principal the lookup also sets the transaction's scope.
        login = load_session(
            db, token, now=utcnow(), settings=cached.settings if cached is not None else None
        )
        if login is not None:
            g.login = login
            g.principal = cached or _load_principal(db, login)
            if login.touched:
                db.commit()  # keeps the session alive; the next transaction gets the scope
            elif cached is None:
                # This transaction began before we knew the user: give it the scope now.
                apply_scope(db.connection(), g.principal)
    # From here on, every new transaction of this request begins with the user's scope.
    g.scope_known = True
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.principal is None:
        if _wants_json():
            return jsonify(error="login_required", message="请先登录 / please sign in"), 401
        # Back to the login page; after it, to where the user was going.
        target = request.full_path if request.method == "GET" else _same_site(request.referrer)
        return redirect(url_for("auth.login", next=_safe_next(target)))
    if request.method in UNSAFE:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not hmac.compare_digest(sent, g.login.csrf_token):
            return _csrf_error()
    return None


def _same_site(url: str | None) -> str | None:
    """The path of a same-site URL (the page a refused form was posted from)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


#: Principals by session, for a few seconds: a map page asks for dozens of tiles at once,
#: and loading grants costs several queries. Revocation is not delayed by this: the
#: session itself is checked on every request, and a grant change ends the sessions.
_PRINCIPALS: dict[str, tuple[float, Principal | None]] = {}
PRINCIPAL_TTL_S = 30.0


def _cached_principal(token_hash: str) -> Principal | None:
    cached = _PRINCIPALS.get(token_hash)
    if cached is not None and time.monotonic() - cached[0] < PRINCIPAL_TTL_S:
        return cached[1]
    return None


def _load_principal(db, login) -> Principal | None:
    if len(_PRINCIPALS) > 10_000:  # bounded: drop everything rather than track ages
        _PRINCIPALS.clear()
    principal = load_principal(db, login.user_id)
    _PRINCIPALS[login.token_hash] = (time.monotonic(), principal)
    return principal


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target.rstrip("?") or "/"


def csrf_token() -> str:
    """The token forms and fetch() calls must send (the session's, or the login cookie's)."""
    if g.get("login") is not None:
        return g.login.csrf_token
    if "pre_csrf" not in g:
        g.pre_csrf = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
    return g.pre_csrf


def login_required_roles(*roles: str):
    """Refuse (403) a signed-in user who holds none of ``roles``."""

    def wrap(view):
        @wraps(view)
        def inner(*args, **kwargs):
            p = principal()
            if p is None or not (p.roles & set(roles)):
                abort(403)
            return view(*args, **kwargs)

        return inner

    return wrap


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        response = current_app.make_response(render_template("login.html", next=next_url))
        _set_pre_csrf(response)
        return response
    sent = request.form.get("csrf_token", "")
    cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(sent, cookie):
        return _csrf_error()
    username = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:256]
    db = session()
    try:
        ok = authenticate(db, username, password, ip=client_ip(), now=utcnow())
    except LoginRefused as refused:
        db.commit()  # failures and lockouts are counted and audited
        response = current_app.make_response(
            (
                render_template(
                    "login.html", next=next_url, error=refused.message, username=username
                ),
                refused.status,
            )
        )
        _set_pre_csrf(response)
        return response
    # A new token on every login (no session fixation); an old one is revoked.
    if g.get("login") is not None:
        revoke(db, g.login.token_hash, now=utcnow())
    token, _ = create_session(
        db, ok.user_id, ip=client_ip(), user_agent=request.user_agent.string, now=utcnow()
    )
    db.commit()
    response = redirect(next_url)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        secure=current_app.config["COOKIE_SECURE"],
        samesite="Lax",
        path="/",
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path="/login")
    return response


def _set_pre_csrf(response) -> None:
    response.set_cookie(
        PRE_CSRF_COOKIE,
        csrf_token(),
        httponly=True,
        secure=current_app.config["COOKIE_SECURE"],
        samesite="Strict",
        path="/login",
    )


@bp.post("/logout")
def logout():
    db = session()
    revoke(db, g.login.token_hash, now=utcnow())
    audit.record(
        db,
        "logout",
        actor_user_id=g.principal.user_id,
        actor_name=g.principal.username,
        ip=client_ip(),
    )
    db.commit()
    response = redirect(url_for("auth.login"))
    response.delete_cookie(COOKIE, path="/")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.jinja_env.globals.update(csrf_token=csrf_token, principal=principal)
    app.register_blueprint(bp)
