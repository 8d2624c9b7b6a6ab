"""Incident statistics: the standard formulas, per area and month, within the user's areas."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

PERIOD = "since=2025-11-01&until=2026-10-31"


def test_town_figures_add_up_and_follow_the_formula(
    signed_in, demo_connection, demo_app_connection
):
    html = signed_in("admin").get(f"/dashboard?by=town&{PERIOD}")
    assert html.status_code == 200
    assert "按期结案率" in html.get_data(as_text=True)
    rows = list(
        csv.DictReader(
            io.StringIO(
                signed_in("admin")
                .get(f"/dashboard.csv?by=town&{PERIOD}")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert len(rows) == 12  # one town, twelve months
    total = demo_connection.execute(
        text(
            "SELECT count(*) FROM incident WHERE reported_at >= '2025-11-01'"
            " AND reported_at < '2026-11-01'"
        )
    ).scalar_one()
    assert sum(int(r["reported"]) for r in rows) == total
    for r in rows:
        base = int(r["should_close"]) - int(r["parked"])
        assert float(r["closure_rate"]) == pytest.approx(int(r["closed"]) / base, abs=1e-4)
        assert float(r["on_time_rate"]) == pytest.approx(int(r["closed_on_time"]) / base, abs=1e-4)
        assert int(r["closed_on_time"]) <= int(r["closed"]) <= int(r["should_close"])
    assert any(int(r["rework"]) > 0 for r in rows)
    audited = demo_app_connection.execute(  # the app's own (rolled-back) transaction
        text("SELECT count(*) FROM audit_log WHERE action = 'export.stats'")
    ).scalar_one()
    assert audited == 1


def test_a_team_sees_only_its_grids(signed_in, demo_connection):
    mine = set(
        demo_connection.execute(
            text(
                "SELECT code FROM grid WHERE parent_id = (SELECT id FROM grid"
                " WHERE code = '1309991002010100')"
            )
        ).scalars()
    )
    body = signed_in("police_a").get(f"/dashboard.csv?by=grid&{PERIOD}").get_data(as_text=True)
    codes = {r["code"] for r in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))}
    assert codes
    assert codes <= mine


@pytest.mark.parametrize("user", ["resident", "patrol"])
def test_users_without_incidents_are_refused(signed_in, user):
    assert signed_in(user).get("/dashboard").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "by=county",
        "since=2026-13-01",
        "since=2026-05-01&until=2026-01-01",
        "since=2019-01-01&until=2026-01-01",
    ],
)
def test_bad_parameters_are_400(signed_in, query):
    assert signed_in("admin").get(f"/dashboard?{query}").status_code == 400


def test_the_demo_closes_most_cases_on_time_and_timeouts_count_late(signed_in, demo_connection):
    body = signed_in("admin").get(f"/dashboard.csv?by=town&{PERIOD}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    total = {k: sum(int(r[k]) for r in rows) for k in ("should_close", "parked", "closed_on_time")}
    rate = total["closed_on_time"] / (total["should_close"] - total["parked"])
    assert 0.80 <= rate <= 0.95  # the demo's histories follow the time limits
    period = "i.reported_at >= '2025-11-01' AND i.reported_at < '2026-11-01'"
    timeout = (
        "EXISTS (SELECT 1 FROM incident_event e WHERE e.incident_id = i.id"
        " AND e.action = 'escalate' AND e.detail ->> 'reason' = 'timeout')"
    )
    closed_by_due = (
        f"{period} AND i.status IN ('closed', 'feedback_done') AND i.closed_at <= i.due_at"
    )
    on_time = demo_connection.execute(
        text(f"SELECT count(*) FROM incident i WHERE {closed_by_due} AND NOT {timeout}")
    ).scalar_one()
    assert total["closed_on_time"] == on_time
    # Escalated cases that met the fresh limit of their new level exist, and are not on time.
    met_fresh_limit = demo_connection.execute(
        text(f"SELECT count(*) FROM incident i WHERE {closed_by_due} AND {timeout}")
    ).scalar_one()
    assert met_fresh_limit > 0
