"""The map pages: township map, boundary editor, incident map, patrol map, grid pages.

Each page is a folium shell (a few tens of KB) whose layers come from
``/tiles`` and JSON endpoints; the page's own script (``static/app/*.js``)
fetches and draws them, building every label with ``textContent``.
"""

from __future__ import annotations

import folium
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import text

from layers.accounts.access import EDITOR_ROLES
from layers.boundaries.editing import SIZE_RULES
from layers.boundaries.queries import area_info, grid_board
from layers.hotspots.runs import latest_run, run_features
from layers.incidents.queries import parse_bbox
from layers.patrol.queries import checkpoint_features, route_features, track_features
from webgis.auth import principal
from webgis.blueprints.hotspots import (
    HEAT_COLOURS,
    HOT_COLOURS,
    TREND_COLOURS,
    legend_keys,
    run_label,
)
from webgis.db import session
from webgis.i18n import current_language, translate
from webgis.maps.pages import Handle, Plugins, base_layers, new_map, render_map, safe_popup
from webgis.security import csp_nonce

bp = Blueprint("maps", __name__)

#: Most features a patrol layer returns for one view.
PATROL_LIMIT = 2000


def _map(**kwargs):
    settings = current_app.extensions["wangge.settings"]
    return new_map(tianditu_key=settings.tianditu_key, **kwargs)


def _strings(*keys: str) -> dict[str, str]:
    return {k: translate(k) for k in keys}


def _page(template: str, m, layers, config: dict, **context):
    Handle(layers, config).add_to(m)
    parts = render_map(m, csp_nonce())
    return render_template(template, map=parts, config=config, **context)


def _is_editor() -> bool:
    p = principal()
    return bool(p and p.roles & EDITOR_ROLES and not p.edit.empty)


def _bounds(scope) -> list[list[float]] | None:
    """The bounds of a user's villages or grids, to open the map on them."""
    if scope is None or scope.empty or scope.all:
        row = session().execute(text("SELECT ST_Extent(geom) FROM village")).scalar()
    else:
        row = (
            session()
            .execute(
                text(
                    "SELECT ST_Extent(geom) FROM (SELECT geom FROM village WHERE id = ANY(:v)"
                    " UNION ALL SELECT geom FROM grid WHERE id = ANY(:g)) x"
                ),
                {"v": sorted(scope.villages), "g": sorted(scope.grids)},
            )
            .scalar()
        )
    if not row:
        return None
    nums = [float(v) for v in row.removeprefix("BOX(").removesuffix(")").replace(",", " ").split()]
    return [[nums[1], nums[0]], [nums[3], nums[2]]]


def _area_scope():
    p = principal()
    kinds = [p.scope(k) for k in ("household", "incident", "track")] + [p.edit]
    out = kinds[0]
    for s in kinds[1:]:
        out = out | s
    return out


_COMMON = ("map.info.title", "map.info.households", "map.info.none", "map.loading", "map.error")


@bp.get("/map")
def township():
    m = _map()
    layers = base_layers(m, translate, households=True)
    folium.LayerControl(collapsed=True).add_to(m)
    config = {
        "bounds": _bounds(_area_scope()),
        "lang": current_language(),
        "t": _strings(*_COMMON),
    }
    return _page("map.html", m, layers, config, editor=_is_editor())


@bp.get("/map/edit")
def editor():
    if not _is_editor():
        abort(403)
    m = _map(zoom_start=15)
    layers = base_layers(m, translate, captains=False)
    Plugins(draw=True).add_to(m)
    rules = {f"{k}{lvl or ''}": [r.min, r.max] for (k, lvl), r in SIZE_RULES.items()}
    config = {
        "bounds": _bounds(principal().edit),
        "lang": current_language(),
        "canEditVillages": principal().edit.all,
        "rules": rules,
        "t": _strings(
            *_COMMON,
            "edit.saved",
            "edit.refused",
            "edit.conflict",
            "edit.households",
            "edit.rule",
            "edit.within",
            "edit.outside",
            "edit.deleted",
            "edit.draft",
            "edit.resave",
            "edit.discard",
            "edit.theirs",
            "edit.split",
            "edit.split.pick",
            "edit.split.draw",
            "edit.split.keeps",
            "edit.split.new",
            "edit.split.confirm",
            "edit.split.cancel",
            "edit.split.done",
            "edit.split.pick_any",
            "edit.split.new_village",
            "edit.split.recoded",
            "edit.split.moves",
            "edit.split.move.grids",
            "edit.split.move.households",
            "edit.split.move.captain_areas",
            "edit.split.move.captain_areas_cut",
            "edit.split.move.streets",
            "edit.split.move.lanes",
            "edit.split.move.persons",
            "edit.split.move.incidents",
            "edit.split.crossing",
        ),
    }
    return _page("map_edit.html", m, layers, config)


@bp.get("/map/incidents")
def incidents():
    p = principal()
    scope = p.scope("incident")
    if scope.empty:
        abort(403)
    m = _map()
    layers = base_layers(m, translate, captains=False)
    Plugins(cluster=True, heat=True).add_to(m)
    grids = (
        session()
        .execute(
            text(
                "SELECT code, name FROM grid WHERE valid_to IS NULL AND level = 2"
                + ("" if scope.all else " AND (village_id = ANY(:v) OR id = ANY(:g))")
                + " ORDER BY code"
            ),
            {"v": sorted(scope.villages), "g": sorted(scope.grids)},
        )
        .all()
    )
    categories = session().execute(
        text("SELECT code, name_zh, name_en FROM incident_category WHERE parent_code IS NULL")
    )
    statuses = session().execute(
        text("SELECT code, name_zh, name_en, is_open FROM incident_status ORDER BY seq")
    )
    en = current_language() == "en"
    config = {
        "bounds": _bounds(scope),
        "lang": current_language(),
        "t": _strings(
            *_COMMON,
            "incident.category",
            "incident.status",
            "incident.reported_at",
            "incident.description",
            "incident.history",
            "incident.grid",
            "incidents.count",
            "incidents.truncated",
            "incidents.overdue",
        ),
        "statuses": {c: {"name": ne if en else nz, "open": o} for c, nz, ne, o in statuses},
    }
    return _page(
        "map_incidents.html",
        m,
        layers,
        config,
        grids=grids,
        categories=[(c, ne if en else nz) for c, nz, ne in categories],
        statuses=config["statuses"],
    )


def _hotspot_legend() -> dict | None:
    """The runs a map's hotspot layers show, for its legend; ``None`` for users who may not."""
    p = principal()
    if p.scope("incident").empty and p.scope("track").empty:
        return None
    db = session()
    gistar, emerging = latest_run(db, "gistar"), latest_run(db, "emerging")
    found = (emerging or {}).get("counts", {}).get("categories", {})
    return {
        "gistar": gistar,
        "gistar_label": run_label(gistar),
        "emerging": emerging,
        "emerging_label": run_label(emerging),
        "hot_colours": HOT_COLOURS,
        "trends": [(c, colour, found.get(c, 0)) for c, colour in TREND_COLOURS.items()],
        "heat_colours": HEAT_COLOURS,
    }


@bp.get("/map/patrol")
def patrol():
    m = _map()
    layers = base_layers(m, translate, captains=False)
    legend = _hotspot_legend()
    config = {
        "bounds": _bounds(_area_scope()),
        "lang": current_language(),
        "t": _strings(
            *_COMMON,
            "patrol.routes",
            "patrol.checkpoints",
            "patrol.hotspots",
            "patrol.tracks",
            *legend_keys(),
        ),
        "hotspots": None
        if legend is None
        else {
            "hot": HOT_COLOURS,
            "trends": TREND_COLOURS,
            "heat": HEAT_COLOURS,
            "emerging": (legend["emerging"] or {}).get("id"),
        },
    }
    return _page("map_patrol.html", m, layers, config, hotspot_legend=legend)


@bp.get("/grids/<code>")
def grid_page(code: str):
    board = grid_board(session(), code)
    m = _map(zoom_start=16)
    layers = base_layers(m, translate)
    outline = folium.GeoJson(
        {"type": "Feature", "geometry": board["geometry"], "properties": {}},
        name=translate("grid.outline"),
        style_function=lambda _f: {"color": "#d9480f", "weight": 3, "fillOpacity": 0.05},
    )
    safe_popup(
        {translate("village.code"): board["code"], translate("households"): board["households"]},
        title=board["name"],
    ).add_to(outline)
    outline.add_to(m)
    layers["outline"] = outline
    config = {"bounds": board["bounds"], "lang": current_language(), "t": _strings(*_COMMON)}
    return _page("grid.html", m, layers, config, board=board)


@bp.get("/api/map/areas/<layer>/<int:area_id>")
def area(layer: str, area_id: int):
    return jsonify(area_info(session(), layer, area_id))


@bp.get("/api/map/patrol")
def patrol_layers():
    """Routes, their checkpoints, the latest hotspots and walked tracks in a view.

    Routes and tracks are limited to the user's patrol areas (and tracks by RLS
    too); hotspots are town-wide aggregates for those who see incidents or patrol.
    """
    p = principal()
    bbox = parse_bbox(request.args.get("bbox"))
    db = session()
    routes = route_features(db, p, bbox=bbox)
    hotspots = {"type": "FeatureCollection", "run": None, "features": []}
    if not (p.scope("incident").empty and p.scope("track").empty):
        # The latest all-categories Gi* run (an empty layer when none is stored);
        # the legend's facts travel with it. Cold cells matter little to a patrol.
        run = run_features(db)
        if run["run"] is not None:
            meta = {k: v for k, v in run["run"].items() if k not in ("params", "summary")}
            hotspots["run"] = {**meta, "label": run_label(meta)}
        hotspots["features"] = [
            f for f in run["features"] if f["properties"]["class"].startswith("hot")
        ][:PATROL_LIMIT]
    return jsonify(
        routes=routes,
        checkpoints=checkpoint_features(routes),
        hotspots=hotspots,
        tracks=track_features(db, p, bbox=bbox),
    )
