"""The incident statistics page and its CSV download (every download audited)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, render_template, request

from layers.accounts import audit
from layers.errors import Invalid
from layers.incidents.stats import MonthRow, monthly_stats
from webgis.auth import client_ip, principal
from webgis.db import session
from webgis.i18n import translate

bp = Blueprint("dashboard", __name__)

COLUMNS = (
    "reported",
    "should_close",
    "parked",
    "closed",
    "closed_on_time",
    "rework",
    "median_hours_to_close",
    "satisfaction",
    "closure_rate",
    "on_time_rate",
)


def _query() -> tuple[str, date, date, list[MonthRow]]:
    p = principal()
    if p.scope("incident").empty:
        abort(403)
    by = request.args.get("by", "village")
    try:
        until = date.fromisoformat(request.args.get("until") or date.today().isoformat())
        since = date.fromisoformat(
            request.args.get("since") or (until - timedelta(days=365)).replace(day=1).isoformat()
        )
    except ValueError as exc:
        raise Invalid("日期应为 YYYY-MM-DD / dates must be YYYY-MM-DD", "since") from exc
    return by, since, until, monthly_stats(session(), p, by=by, since=since, until=until)


@bp.get("/dashboard")
def dashboard():
    by, since, until, rows = _query()
    return render_template(
        "dashboard.html", by=by, since=since, until=until, rows=[r.as_dict() for r in rows]
    )


@bp.get("/dashboard.csv")
def dashboard_csv():
    by, since, until, rows = _query()
    p = principal()
    db = session()
    audit.record(
        db,
        "export.stats",
        actor_user_id=p.user_id,
        actor_name=p.username,
        detail={
            "by": by,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "rows": len(rows),
        },
        ip=client_ip(),
    )
    db.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([translate("dashboard.area"), "code", translate("dashboard.month"), *COLUMNS])
    for r in rows:
        d = r.as_dict()
        writer.writerow([d["area_name"], d["area_code"], d["month"], *(d[c] for c in COLUMNS)])
    return Response(
        "\ufeff" + out.getvalue(),  # the BOM makes Excel read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=incidents-{by}-{since}-{until}.csv"},
    )
