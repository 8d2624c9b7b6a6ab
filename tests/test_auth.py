"""Login, sessions, CSRF, lockout, masking, audit and security headers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from layers.accounts.masking import mask_id_number, mask_name, mask_phone
from layers.accounts.passwords import PasswordPolicyError, check_policy
from layers.demo.load import DEMO_PASSWORD


def login_form(client, username: str, password: str, next_url: str = "/"):
    page = client.get(f"/login?next={next_url}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_url},
    )


def audit_actions(conn, username: str) -> list[str]:
    return list(
        conn.execute(
            text("SELECT action FROM audit_log WHERE actor_name = :u ORDER BY id"), {"u": username}
        ).scalars()
    )


def test_login_sets_a_secure_session_and_rotates_it(demo_app, demo_app_connection):
    client = demo_app.test_client()
    response = login_form(client, "police_a", DEMO_PASSWORD, "/api/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/me"
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("wangge_session=")
    )
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    first = client.get_cookie("wangge_session").value
    assert client.get("/api/me").get_json()["username"] == "police_a"
    login_form(client, "police_a", DEMO_PASSWORD)
    second = client.get_cookie("wangge_session").value
    assert second != first
    revoked = demo_app_connection.execute(
        text("SELECT count(*) FROM user_session WHERE revoked_at IS NOT NULL")
    ).scalar_one()
    assert revoked >= 1  # the first session was ended, not left alive
    assert "login.ok" in audit_actions(demo_app_connection, "police_a")


def test_wrong_password_locks_the_account_with_a_clear_message(demo_app, demo_app_connection):
    client = demo_app.test_client()
    for _ in range(4):
        response = login_form(client, "worker_b", "not-the-password")
        assert response.status_code == 401
        assert "用户名或密码错误" in response.get_data(as_text=True)
    response = login_form(client, "worker_b", "not-the-password")
    assert response.status_code == 423
    assert "账号已锁定" in response.get_data(as_text=True)
    # Even the right password is refused while locked.
    response = login_form(client, "worker_b", DEMO_PASSWORD)
    assert response.status_code == 423
    assert "分钟后再试" in response.get_data(as_text=True)
    actions = audit_actions(demo_app_connection, "worker_b")
    assert actions.count("login.failed") == 5
    assert "account.locked" in actions


def test_many_failures_from_one_address_are_throttled(demo_app, demo_app_connection):
    demo_app_connection.execute(
        text(
            "INSERT INTO audit_log (actor_name, action, ip) SELECT 'x', 'login.failed',"
            " '127.0.0.1' FROM generate_series(1, 20)"
        )
    )
    response = login_form(demo_app.test_client(), "admin", DEMO_PASSWORD)
    assert response.status_code == 429
    assert "尝试次数过多" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(demo_app):
    client = demo_app.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
    assert response.status_code == 400


def test_writes_without_csrf_token_are_refused(signed_in, targets_unmask):
    client = signed_in("officer")
    url = f"/api/persons/{targets_unmask}/unmask"
    assert client.post(url, json={"reason": "核实信息"}).status_code == 400
    assert (
        client.post(url, json={"reason": "核实信息"}, headers={"X-CSRF-Token": "wrong"}).status_code
        == 400
    )
    assert (
        client.post(
            url, json={"reason": "核实信息"}, headers={"X-CSRF-Token": client.csrf}
        ).status_code
        == 200
    )
    assert client.post("/logout").status_code == 400


@pytest.fixture
def targets_unmask(demo_connection) -> int:
    """A household head in the officer's village."""
    return demo_connection.execute(
        text(
            "SELECT min(p.id) FROM person p JOIN household h ON h.id = p.household_id"
            " WHERE h.village_id = (SELECT min(id) FROM village)"
        )
    ).scalar_one()


def test_expired_session_goes_back_to_login_and_returns(signed_in, demo_app_connection):
    client = signed_in("officer")
    assert client.get("/api/me").status_code == 200
    demo_app_connection.execute(
        text("UPDATE user_session SET last_seen_at = last_seen_at - :idle"),
        {"idle": timedelta(minutes=31)},
    )
    assert client.get("/api/me").status_code == 401
    response = client.get("/persons/1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/persons/1"


def test_only_a_live_session_sets_the_scope_in_its_lookup(demo_app_connection):
    """The cached principal's scope rides on the session lookup, and only a live one sets it."""
    from sqlalchemy.orm import Session

    from layers.accounts.access import load_principal
    from layers.accounts.sessions import create_session, load_session, revoke, utcnow

    db = Session(bind=demo_app_connection, join_transaction_mode="create_savepoint")
    admin = db.scalar(text("SELECT id FROM user_account WHERE username = 'admin'"))
    settings = load_principal(db, admin).settings
    token, login = create_session(db, admin, ip=None, user_agent=None, now=utcnow())
    revoke(db, login.token_hash, now=utcnow())
    assert load_session(db, token, now=utcnow(), settings=settings) is None
    assert db.scalar(text("SELECT count(*) FROM household")) == 0
    token, _ = create_session(db, admin, ip=None, user_agent=None, now=utcnow())
    assert load_session(db, token, now=utcnow(), settings=settings) is not None
    assert db.scalar(text("SELECT count(*) FROM household")) > 0


def test_logout_revokes_the_session(signed_in):
    client = signed_in("admin")
    assert client.post("/logout", headers={"X-CSRF-Token": client.csrf}).status_code == 302
    assert client.get("/api/me").status_code == 401


def test_masking_and_audited_unmask(signed_in, targets_unmask, demo_app_connection):
    client = signed_in("officer")
    masked = client.get(f"/api/persons/{targets_unmask}").get_json()
    assert re.fullmatch(r"199\*{4}\d{4}", masked["phone"])
    assert re.fullmatch(r"130999\*{8}\d{3}[\dX]", masked["id_number"])
    assert masked["name"].endswith("*")
    short = client.post(
        f"/api/persons/{targets_unmask}/unmask",
        json={"reason": "看"},
        headers={"X-CSRF-Token": client.csrf},
    )
    assert short.status_code == 400
    assert "原因" in short.get_json()["message"]
    full = client.post(
        f"/api/persons/{targets_unmask}/unmask",
        json={"reason": "调解纠纷需联系"},
        headers={"X-CSRF-Token": client.csrf},
    ).get_json()
    assert re.fullmatch(r"199\d{8}", full["phone"])
    row = demo_app_connection.execute(
        text(
            "SELECT object_id, detail->>'reason' FROM audit_log WHERE action = 'person.unmask'"
            " ORDER BY id DESC LIMIT 1"
        )
    ).one()
    assert row == (str(targets_unmask), "调解纠纷需联系")


def test_export_is_masked_and_audited(signed_in, demo_app_connection):
    csv = signed_in("officer").get("/api/export/households.csv").get_data(as_text=True)
    lines = csv.splitlines()
    assert len(lines) > 100
    assert all(re.search(r",199\*{4}\d{4},", line) for line in lines[1:50])
    assert "export.households" in audit_actions(demo_app_connection, "officer")


def test_security_headers(signed_in, demo_app):
    for response in (demo_app.test_client().get("/login"), signed_in("admin").get("/api/me")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'nonce-" in csp
        assert "frame-ancestors 'none'" in csp
        assert "http" not in csp  # nothing off our own origin
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


def test_bad_json_bodies_get_4xx(signed_in, targets_unmask):
    client = signed_in("officer")
    url = f"/api/persons/{targets_unmask}/unmask"
    headers = {"X-CSRF-Token": client.csrf, "Content-Type": "application/json"}
    deep = "[" * 10_000 + "]" * 10_000
    assert client.post(url, data=deep, headers=headers).status_code == 400
    huge = '{"reason": "' + "x" * (2 * 1024 * 1024) + '"}'
    assert client.post(url, data=huge, headers=headers).status_code == 413
    assert client.post(url, data="{not json", headers=headers).status_code == 400
    response = client.post(
        url,
        data="reason=x",
        headers={"X-CSRF-Token": client.csrf, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


def test_bad_bbox_and_tile_coordinates_get_400(signed_in):
    client = signed_in("admin")
    assert client.get("/api/incidents?bbox=1,2,3").status_code == 400
    assert client.get("/api/incidents?bbox=120,40,110,30").status_code == 400
    assert client.get("/tiles/incidents/3/99/0.pbf").status_code == 400
    assert client.get("/tiles/nosuchlayer/3/1/1.pbf").status_code == 404


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short", False),
        ("password2026!", False),
        ("Woaini1314!!", False),
        ("officer-secret-1", False),
        ("柳树下的老井二〇二六年的春天", True),
        ("correct horse battery", True),
    ],
)
def test_password_policy(password, ok):
    if ok:
        check_policy(password, "officer")
    else:
        with pytest.raises(PasswordPolicyError):
            check_policy(password, "officer")


def test_mask_formats():
    assert mask_phone("13800138000") == "138****8000"
    assert mask_id_number("110105199001010123") == "110105********0123"
    assert mask_name("王某某0173") == "王******"
    assert mask_phone(None) is None
