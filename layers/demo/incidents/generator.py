"""Two years of incidents for the demo: counts, seasons, places, reporters and texts.

:func:`make_incidents` assembles the incidents and their events; the histories
come from :mod:`layers.demo.incidents.histories`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from layers.demo.incidents.actors import _REPORTERS
from layers.demo.incidents.catalogue import _CODES, _SHARE, TIME_LIMITS
from layers.demo.incidents.histories import _histories
from layers.demo.incidents.placement import _distance_within, _local_seconds, _report_hours
from layers.demo.seasons import day_weights
from layers.demo.texts import ISSUES
from layers.incidents.sla import WorkCalendar

#: Incidents per household per year (2,000 a year for 8,000 households).
RATE_PER_HOUSEHOLD_YEAR = 0.25
#: Planted hotspots hold this many times the town's incident density.
HOTSPOT_EXCESS = 4.0


@dataclass(frozen=True)
class Hotspot:
    """A planted hotspot: extra incidents of one category within a radius."""

    category_code: str
    x: float
    y: float
    radius_m: float
    name: str


@dataclass
class IncidentTables:
    """Incident rows (world metres) and their events."""

    incidents: pd.DataFrame  # with x, y columns (EPSG:4548) instead of geometry
    events: pd.DataFrame


def make_incidents(
    rng: np.random.Generator,
    as_of: dt.date,
    hh_xy: np.ndarray,
    hh_l3: np.ndarray,
    hh_place: np.ndarray,
    hh_village: np.ndarray,
    hh_head: np.ndarray,
    village_names: list[str],
    village_codes: list[str],
    l3_polys: np.ndarray,
    l3_codes: list[str],
    l3_l2: np.ndarray,
    l2_codes: list[str],
    l2_village: np.ndarray,
    river: shapely.Geometry,
    road: shapely.Geometry,
    village_area: float,
    hotspots: list[Hotspot],
    worker_key: dict[str, str],
    police_key: dict[str, str],
    cadre_key: dict[str, str],
    limits: Mapping[str, tuple[int, str, str]] | None = None,
    calendar: WorkCalendar | None = None,
) -> IncidentTables:
    """Generate incidents over the two years before ``as_of`` and their histories.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    as_of : datetime.date
        Data end: incidents are reported before 00:00 of this day (Asia/Shanghai).
    hh_xy : (n, 2) array
        Household positions, EPSG:4548 metres.
    hh_l3, hh_village : numpy.ndarray of int
        Level-3 grid and village index per household.
    hh_place : numpy.ndarray of str
        Lane (or street) name of each household, used in titles.
    hh_head : numpy.ndarray of str
        Head person key per household.
    village_names, village_codes : list of str
        By village index.
    l3_polys : numpy.ndarray of shapely Polygon
        Level-3 grids in EPSG:4548.
    l3_codes : list of str
        Level-3 grid codes.
    l3_l2 : numpy.ndarray of int
        Level-2 index of each level-3 grid.
    l2_codes : list of str
        Level-2 grid codes.
    l2_village : numpy.ndarray of int
        Village index per level-2 grid.
    river, road : shapely geometry
        Centre lines (EPSG:4548); flood cases lie near the river, public order
        leans to the road.
    village_area : float
        Total village area (m²), for the hotspot excess.
    hotspots : list of Hotspot
        Planted hotspots.
    worker_key, police_key : dict
        Level-2 grid code -> person key of its grid worker / community police.
    cadre_key : dict
        Village code -> person key of its first cadre.
    limits : mapping, optional
        Class code -> (time limit, "hour" or "day", handler level); default
        :data:`TIME_LIMITS`.
    calendar : layers.incidents.sla.WorkCalendar, optional
        The working calendar the limits count in; default Monday–Friday office hours.

    Returns
    -------
    IncidentTables
    """
    n_h = len(hh_xy)
    cutoff_day = np.datetime64(as_of, "D").astype(np.int64)
    days = np.arange(cutoff_day - 730, cutoff_day)
    weights = day_weights(days)
    total = round(RATE_PER_HOUSEHOLD_YEAR * 2 * n_h)
    density = total / village_area
    n_extra = np.array(
        [round(HOTSPOT_EXCESS * density * np.pi * h.radius_m**2) for h in hotspots], dtype=np.int64
    )
    # Small runs have few incidents but equally large discs: keep the extras a
    # minority (at most 15 %) so the ordinary pattern still dominates.
    cap = 0.15 * total
    if n_extra.sum() > cap:
        n_extra = np.floor(n_extra * cap / n_extra.sum()).astype(np.int64)
    n_base = total - int(n_extra.sum())

    # Ordinary incidents: category, day, then a household as the place.
    cat = rng.choice(8, size=n_base, p=_SHARE / _SHARE.sum())
    # Categories of the hotspots' extras, appended after the ordinary ones.
    hot_cat = np.repeat([_CODES.index(h.category_code) for h in hotspots], n_extra)
    cat_all = np.r_[cat, hot_cat].astype(np.int64)
    n = len(cat_all)
    day = np.empty(n, dtype=np.int64)
    for c in range(8):
        sel = np.flatnonzero(cat_all == c)
        p = weights[c] / weights[c].sum()
        day[sel] = days[rng.choice(len(days), size=len(sel), p=p)]

    # Where: households weighted by category (flood near the river, order near the road).
    hh_pts = shapely.points(hh_xy)
    d_river = _distance_within(hh_pts, river, 900.0)
    d_road = _distance_within(hh_pts, road, 900.0)
    w_flood = np.where(d_river < 900, np.exp(-d_river / 250.0), 0.0)
    if w_flood.sum() == 0:  # tiny runs may have no household near the river
        w_flood = np.exp(-d_river / 1000.0)
    w_order = 1.0 + 2.0 * np.exp(-d_road / 150.0)
    src = np.empty(n, dtype=np.int64)
    for c, w in ((6, w_flood), (5, w_order)):
        sel = np.flatnonzero(cat == c)
        src[sel] = rng.choice(n_h, size=len(sel), p=w / w.sum())
    rest = np.flatnonzero((cat != 6) & (cat != 5))
    src[rest] = rng.integers(0, n_h, len(rest))
    # A few metres off the courtyard centre: inside the yard, never across a grid line.
    xy = np.empty((n, 2))
    xy[:n_base] = hh_xy[src[:n_base]] + rng.uniform(-3.5, 3.5, (n_base, 2))
    # Hotspot extras: uniform in the disc, kept where a level-3 grid covers them.
    tree = shapely.STRtree(l3_polys)
    pos = n_base
    for h, k in zip(hotspots, n_extra, strict=True):
        got = np.empty((0, 2))
        while len(got) < k:
            r = h.radius_m * np.sqrt(rng.random(2 * k + 8))
            a = rng.uniform(0, 2 * np.pi, 2 * k + 8)
            cand = np.column_stack([h.x + r * np.cos(a), h.y + r * np.sin(a)])
            hit = tree.query(shapely.points(cand), predicate="within")
            inside = np.bincount(hit[0], minlength=len(cand)) == 1
            got = np.vstack([got, cand[inside]])
        xy[pos : pos + k] = got[:k]
        pos += k
    pts = shapely.points(xy)
    hit = tree.query(pts, predicate="within")
    cnt = np.bincount(hit[0], minlength=n)
    if (cnt != 1).any():
        raise RuntimeError("an incident is not inside exactly one level-3 grid")
    l3 = np.empty(n, dtype=np.int64)
    l3[hit[0]] = hit[1]
    if len(hotspots):
        # The place named in a hotspot case is that of the nearest household.
        hh_tree = shapely.STRtree(shapely.points(hh_xy))
        near = hh_tree.query_nearest(pts[n_base:], all_matches=False)
        src[n_base:][near[0]] = near[1]

    # When: hour of the report.
    t_rep = _local_seconds(day, _report_hours(rng, cat_all))
    cutoff = cutoff_day * 86400
    t_rep = np.minimum(t_rep, cutoff - 60)

    # Sort by report time so keys read in order.
    order = np.lexsort((np.arange(n), t_rep))
    cat_all, t_rep, src, l3, xy = cat_all[order], t_rep[order], src[order], l3[order], xy[order]

    l3_codes_a = np.asarray(l3_codes, dtype=object)
    l2_codes_a = np.asarray(l2_codes, dtype=object)
    grid = l3_codes_a[l3]
    l2 = l2_codes_a[l3_l2[l3]]
    village = l2_village[l3_l2[l3]]
    history = _histories(
        rng,
        cat_all,
        t_rep,
        cutoff,
        TIME_LIMITS if limits is None else limits,
        WorkCalendar() if calendar is None else calendar,
    )

    # Reporter: residents report from home; staff report from their own grid.
    rep_role = np.asarray(_REPORTERS[0], dtype=object)[
        rng.choice(len(_REPORTERS[0]), size=n, p=_REPORTERS[1])
    ]
    rep_role[(cat_all == 5) & (rng.random(n) < 0.3)] = "community_police"
    reporter = np.full(n, None, dtype=object)
    m = rep_role == "resident"
    reporter[m] = hh_head[src[m]]
    m = rep_role == "grid_worker"
    reporter[m] = [worker_key[g] for g in l2[m]]
    m = rep_role == "community_police"
    reporter[m] = [police_key[g] for g in l2[m]]
    vcodes = np.asarray(village_codes, dtype=object)
    m = rep_role == "village_cadre"
    reporter[m] = [cadre_key[v] for v in vcodes[village[m]]]
    ev = history.events
    # Drafts come from the residents' app; the reporting event is the reporter's act.
    rep_role[history.draft] = "resident"
    reporter[history.draft] = hh_head[src[history.draft]]
    first = np.r_[0, np.cumsum(history.length)[:-1]]
    ev_role = ev["actor_role"].to_numpy(dtype=object)
    ev_role[first] = rep_role
    ev_role[first[history.draft] + 1] = "resident"

    keys = np.array([f"INC{i:07d}" for i in range(1, n + 1)], dtype=object)
    issue_i = rng.integers(0, 6, n)
    detail_i = rng.integers(0, 4, n)
    vnames = np.asarray(village_names, dtype=object)
    titles, descs = [], []
    for c, ii, di, place, vn in zip(
        cat_all, issue_i, detail_i, hh_place[src], vnames[village], strict=True
    ):
        issues, details = ISSUES[_CODES[c]]
        issue = issues[ii % len(issues)]
        titles.append(f"{place}{issue}")
        # Requests and disputes are about people, the rest about a place.
        where = "村民反映" if c in (3, 7) else "附近"
        descs.append(f"{vn}{place}{where}{issue}，{details[di]}。")
    incidents = pd.DataFrame(
        {
            "key": keys,
            "category_code": np.asarray(_CODES, dtype=object)[cat_all],
            "title": titles,
            "description": descs,
            "status": history.final,
            "reported_at": history.reported_at,
            "closed_at": history.closed_at,
            "due_at": history.due_at,
            "level": history.level,
            "escalated_at": history.escalated_at,
            "satisfaction": history.satisfaction,
            "reporter_person_key": reporter,
            "grid_code": grid,
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
    events = pd.DataFrame(
        {
            "incident_key": np.repeat(keys, history.length),
            "seq": ev["seq"].to_numpy(),
            "from_status": ev["from_status"].to_numpy(dtype=object),
            "to_status": ev["to_status"].to_numpy(dtype=object),
            "at": ev["at"],
            "actor_role": ev_role,
            "note": ev["note"].to_numpy(dtype=object),
            "action": ev["action"].to_numpy(dtype=object),
            "detail": ev["detail"].to_numpy(dtype=object),
        }
    )
    return IncidentTables(incidents, events)
