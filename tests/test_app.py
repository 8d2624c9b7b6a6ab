"""The app serves pages from the database (smoke tests on the demo township)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.sessions import create_session, utcnow


def test_overview_lists_the_demo_villages(signed_in):
    response = signed_in("admin").get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('data-village="1309991002') == 19
    assert "全镇概况" in html
    assert 'lang="zh-CN"' in html


def test_pages_need_a_login(demo_app):
    response = demo_app.test_client().get("/?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_english_switch(demo_app):
    response = demo_app.test_client().get("/login?lang=en")
    html = response.get_data(as_text=True)
    assert "Sign in" in html
    assert 'lang="en"' in html
    assert any(c.startswith("lang=en") for c in response.headers.getlist("Set-Cookie"))


def test_empty_database_says_how_to_load(app, app_connection):
    user_id = app_connection.execute(
        text(
            "INSERT INTO user_account (username, display_name, password_hash)"
            " VALUES ('first', 'first', 'x') RETURNING id"
        )
    ).scalar_one()
    with Session(bind=app_connection, join_transaction_mode="create_savepoint") as s:
        token, _ = create_session(s, user_id, ip=None, user_agent=None, now=utcnow())
        s.commit()
    client = app.test_client()
    client.set_cookie("wangge_session", token)
    assert "make demo" in client.get("/").get_data(as_text=True)


def test_healthz_is_public(demo_app):
    assert demo_app.test_client().get("/healthz").get_json() == {"status": "ok"}
