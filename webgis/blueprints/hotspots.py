"""Hotspot APIs: stored Gi* and emerging-hotspot runs, and the heat layer.

All of it is aggregates (cells, counts, density levels), never an incident or a
person; it is open to those who see incidents or patrol. The legend texts the
map pages show are built here too, so the API and the pages say the same.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify, request
from sqlalchemy import text

from layers.errors import Invalid, NotFound
from layers.hotspots.heat import heat_raster
from layers.hotspots.runs import check_category, list_runs, run_features
from webgis.auth import principal
from webgis.db import reading_incidents_of, session
from webgis.errors import answer
from webgis.i18n import current_language, translate

bp = Blueprint("hotspots", __name__)

METHODS = ("gistar", "emerging")

#: Colours of the Gi* classes on the maps (hot core darker: the cells that hold
#: many incidents themselves, not only their neighbours).
HOT_COLOURS = {"hot_core": "#a61e4d", "hot": "#f76707"}

#: Colours of the emerging-hotspot categories (hot ones; cold cells are not drawn).
TREND_COLOURS = {
    "new": "#e8590c",
    "consecutive": "#f59f00",
    "intensifying": "#c92a2a",
    "persistent": "#862e9c",
    "diminishing": "#1971c2",
    "sporadic": "#66a80f",
    "oscillating": "#0c8599",
    "historical": "#868e96",
}

#: Colours of heat levels 1–5 (level 0 is clear), light to dark.
HEAT_COLOURS = ("#ffe8a1", "#ffc078", "#ff922b", "#f03e3e", "#a61e4d")


def _allowed():
    p = principal()
    if p is None or (p.scope("incident").empty and p.scope("track").empty):
        abort(403)
    return p


def _method(value: str | None) -> str:
    value = value or "gistar"
    if value not in METHODS:
        raise Invalid(
            f"分析方法应为 gistar 或 emerging，而不是 {value!r}"
            f" / method must be gistar or emerging, not {value!r}",
            "method",
        )
    return value


#: How each kind of query parameter is read, and what it should look like (zh, en).
_KINDS = {
    int: (int, "整数", "a whole number"),
    float: (float, "数字", "a number"),
    date: (date.fromisoformat, "日期 YYYY-MM-DD", "a date YYYY-MM-DD"),
}


def _arg(name: str, kind: type, default=None):
    """Query parameter ``name`` read as ``kind``; ``default`` when absent; 400 when malformed."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    parse, zh, en = _KINDS[kind]
    try:
        return parse(raw)
    except ValueError:
        raise Invalid(
            f"参数 {name} 应为{zh}，而不是 {raw!r} / {name} must be {en}, not {raw!r}", name
        ) from None


def _category_arg(db) -> str | None:
    raw = request.args.get("category") or None
    check_category(db, raw)
    return raw


@bp.get("/api/hotspots/runs")
def runs():
    """The stored runs, newest first: method, period, category, cell size, alpha, counts."""
    _allowed()
    method = request.args.get("method")
    return jsonify(runs=list_runs(session(), _method(method) if method else None))


@bp.get("/api/hotspots")
def hotspots():
    """A stored run's cells: ``?run=ID``, or the latest of ``?method=`` (gistar, emerging).

    The latest Gi* run is the latest all-categories one unless ``?category=`` asks
    for one. With no run stored yet the answer is an empty collection with
    ``empty: true`` and a message, not an error.
    """
    _allowed()
    db = session()
    run = _arg("run", int)
    method = _method(request.args.get("method"))
    category = _category_arg(db)
    try:
        return jsonify(run_features(db, run, category, method))
    except NotFound as exc:
        return answer(404, str(exc))


@bp.get("/api/hotspots/heat")
def heat():
    """Kernel density of the incidents in the user's villages as a small raster of levels.

    ``?since=&until=`` (default: the year up to the last incident), ``?category=``,
    ``?bandwidth=`` (m, default 100), ``?pixel=`` (m, default 25). The density
    counts every incident of those villages (row-level security is widened to them
    for this computation); only levels leave, never an incident.
    """
    p = _allowed()
    db = session()
    since, until = _arg("since", date), _arg("until", date)
    category = _category_arg(db)
    bandwidth = _arg("bandwidth", float, 100.0)
    pixel = _arg("pixel", float, 25.0)
    villages = visible_villages(db, p)
    with reading_incidents_of(p, villages):
        out = heat_raster(
            db,
            villages,
            since=since,
            until=until,
            category=category,
            bandwidth_m=bandwidth,
            pixel_m=pixel,
        )
    return jsonify({**out, "colours": list(HEAT_COLOURS)})


def visible_villages(db, p) -> list[int] | None:
    """Ids of the villages a user sees incidents or tracks in (``None``: all of them)."""
    scope = p.scope("incident") | p.scope("track")
    if scope.all:
        return None
    rows = db.execute(
        text(
            "SELECT id FROM village WHERE id = ANY(:v)"
            " UNION SELECT village_id FROM grid WHERE id = ANY(:g) AND village_id IS NOT NULL"
            " UNION SELECT village_id FROM captain_area WHERE id = ANY(:a) ORDER BY 1"
        ),
        {"v": sorted(scope.villages), "g": sorted(scope.grids), "a": sorted(scope.areas)},
    ).all()
    return [r[0] for r in rows]


# -- legends: what the map pages say about the run they show -------------------------------


def run_label(run: dict | None) -> str | None:
    """One line naming a run's period, category, cell size and step, in the page language."""
    if run is None:
        return None
    en = current_language() == "en"
    if run["category"] is None:
        category = translate("hotspot.category.all")
    else:
        category = (run["category_en"] if en else run["category_zh"]) or run["category"]
    parts = [
        f"{translate('hotspot.period')} {run['period'][0]} – {run['period'][1]}",
        f"{translate('hotspot.category')} {category}",
        f"{translate('hotspot.cell')} {run['cell_m']:g} {translate('hotspot.metres')}",
    ]
    if run.get("step"):
        parts.append(f"{translate('hotspot.step')} {translate('hotspot.step.' + run['step'])}")
    return " · ".join(parts)


def legend_keys() -> tuple[str, ...]:
    """The i18n keys the hotspot scripts need on a map page."""
    return (
        "hotspot.hot",
        "hotspot.hot_core",
        "hotspot.cold",
        "hotspot.count",
        "hotspot.trend_z",
        "hotspot.none",
        "hotspot.heat",
        "hotspot.heat.none",
        "hotspot.heat.unit",
        "hotspot.emerging",
        *(f"hotspot.trend.{c}" for c in TREND_COLOURS),
    )
