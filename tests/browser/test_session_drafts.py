"""In Chromium: an expired session sends the officer to the login page and back, and the
text he was typing is still there."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text

from layers.db import make_engine
from layers.demo.load import DEMO_PASSWORD
from webgis.app import create_app

REASON = "调解邻里纠纷，需要联系当事人"


def _login(page) -> None:
    page.fill("input[name=username]", "officer")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.login button[type=submit]")


def test_draft_survives_an_expired_session(page, serve, demo_url, settings_for):
    owner = make_engine(demo_url)
    with owner.connect() as conn:
        person = conn.execute(
            text(
                "SELECT min(p.id) FROM person p JOIN household h ON h.id = p.household_id"
                " WHERE h.village_id = (SELECT min(id) FROM village)"
            )
        ).scalar_one()
    base = serve(create_app(settings_for(demo_url)))

    page.goto(f"{base}/persons/{person}")
    assert "/login" in page.url  # not signed in yet
    _login(page)
    page.wait_for_url(f"{base}/persons/{person}")
    assert "*" in page.text_content("[data-field=phone]")  # masked
    page.fill("textarea[name=reason]", REASON)

    with owner.begin() as conn:  # 31 minutes pass without a request
        conn.execute(
            text(
                "UPDATE user_session SET last_seen_at = last_seen_at - :idle WHERE user_id ="
                " (SELECT id FROM user_account WHERE username = 'officer') AND revoked_at IS NULL"
            ),
            {"idle": timedelta(minutes=31)},
        )
    page.click("form[data-draft] button[type=submit]")
    page.wait_for_url(re.compile(r".*/login\?next=.*persons.*"))
    _login(page)
    page.wait_for_url(f"{base}/persons/{person}")
    assert page.input_value("textarea[name=reason]") == REASON  # nothing lost

    page.click("form[data-draft] button[type=submit]")
    page.wait_for_selector("meta[name=draft-done]", state="attached")
    assert "*" not in page.text_content("[data-field=phone]")  # shown in full, once
    # The meta is parsed before drafts.js runs at the end of the page: wait for it.
    page.wait_for_function("() => Object.keys(localStorage).length === 0")  # the draft is done
    owner.dispose()
