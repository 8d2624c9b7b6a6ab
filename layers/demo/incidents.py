"""Two years of synthetic incidents and their closed-loop status histories.

Counts follow the source town (about 2,000 a year for 8,000 households), with
seasons where they belong: fireworks around the Spring Festival, flood in
June–September near the river, heating and gas problems in winter, disputes
around the festival and the harvests. Four planted hotspots per town give the
hotspot analysis something true to find.

Every history is planned in full (reported → … → feedback_done, with rejections,
rework loops and parked cases) and then cut at the as-of time, so recent cases
stop at whatever stage they would have reached: open cases come out right
without a separate model. The plan is timed against each class's time limit in
working time (the SLA code of :mod:`layers.incidents.sla`): most cases close
within it, reworked ones run late more often, parked ones stop the clock, and a
case still running past its due time is escalated by the hourly timeout sweep,
as the live system does. Due times, handler levels and escalations are stored as
the live system stores them, so the dashboard's on-time rate means the same on
the demo as on real reports.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from layers.demo.seasons import day_weights
from layers.demo.texts import ISSUES, NOTES
from layers.incidents.models import LEVELS
from layers.incidents.sla import WorkCalendar

#: The closed loop's status codes (one shared vocabulary with layers.incidents).
STATUSES: tuple[str, ...] = (
    "draft",
    "reported",
    "accepted",
    "rejected",
    "dispatched",
    "in_progress",
    "handled",
    "verified",
    "rework",
    "closed",
    "feedback_done",
    "parked",
)
ACTOR_ROLES: tuple[str, ...] = (
    "system",
    "resident",
    "lane_captain",
    "grid_worker",
    "village_cadre",
    "community_police",
    "town_admin",
)
CATEGORIES: dict[str, str] = {
    "01": "环境卫生",
    "02": "水电煤厕改",
    "03": "禁燃禁放",
    "04": "矛盾纠纷",
    "05": "安全隐患",
    "06": "治安",
    "07": "防汛",
    "08": "民生诉求",
}
_CODES = tuple(CATEGORIES)
#: Share of each category among ordinary incidents.
_SHARE = np.array([0.22, 0.13, 0.05, 0.15, 0.13, 0.10, 0.04, 0.18])
#: Time limits of the classes as the catalogue ships them (migration 0004): code ->
#: (limit, unit, handler level). :func:`layers.demo.load.load_demo` passes the
#: database's own catalogue instead, so that an edited catalogue shapes the demo too.
TIME_LIMITS: dict[str, tuple[int, str, str]] = {
    "01": (1, "day", "village"),
    "02": (3, "day", "village"),
    "03": (2, "hour", "village"),
    "04": (5, "day", "village"),
    "05": (1, "day", "village"),
    "06": (2, "hour", "village"),
    "07": (4, "hour", "village"),
    "08": (5, "day", "village"),
}

# Paths through the loop, as status sequences, and how often each is planned.
_S = {s: i for i, s in enumerate(STATUSES)}
_FULL = (
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "handled",
    "verified",
    "closed",
    "feedback_done",
)
_LOOP = ("handled", "rework", "in_progress")
_TEMPLATES: tuple[tuple[str, ...], ...] = (
    _FULL,
    ("draft", *_FULL),
    _FULL[:-1],
    (*_FULL[:5], *_LOOP[1:], *_FULL[4:]),
    (*_FULL[:5], *_LOOP[1:], *_LOOP, *_FULL[4:]),
    ("reported", "rejected"),
    ("reported", "accepted", "dispatched", "parked"),
    ("reported", "accepted", "dispatched", "in_progress", "parked"),
    ("reported", "accepted", "dispatched", "parked", "in_progress", *_FULL[4:]),
)
_TEMPLATE_P = np.array([0.63, 0.08, 0.09, 0.07, 0.015, 0.05, 0.02, 0.015, 0.03])
_REWORK_T = {3, 4}
#: Share of the working time from report to closure spent before entering each status
#: (relative weights, noised per case); a rejection comes after this share of the limit.
_STEP_WEIGHT = {
    "accepted": 0.10,
    "rejected": 0.15,
    "dispatched": 0.08,
    "in_progress": 0.10,
    "parked": 0.20,
    "handled": 0.40,
    "rework": 0.06,
    "verified": 0.12,
    "closed": 0.08,
}
#: Pace: median share of the time limit a case takes from report to closure, per
#: template. With the spread below about 7 % of straight cases run late, a third of
#: those reworked once and more than half of those reworked twice.
_PACE = np.array([0.45, 0.45, 0.45, 0.8, 1.1, 0.45, 0.45, 0.45, 0.5])
_PACE_SIGMA = 0.55
#: Median calendar days a parked case waits before it is resumed.
_PARKED_DAYS = 20.0
#: Median hours from closure to the reporter's rating.
_FEEDBACK_H = 110.0
#: Urgent classes (limits in hours): the duty officer often acts at once, even at night.
_AT_ONCE_P = 0.6
#: The timeout sweep (``wangge incident sweep``) runs every hour on the hour.
_SWEEP_S = 3600
_RUNNING = frozenset({"reported", "accepted", "dispatched", "in_progress", "rework"})
_ACTIONS = {
    "accepted": "accept",
    "rejected": "reject",
    "dispatched": "dispatch",
    "parked": "park",
    "handled": "handle",
    "verified": "verify",
    "rework": "rework",
    "closed": "close",
    "feedback_done": "feedback",
}
_ESCALATION_NOTE = "超时自动升级 / escalated on timeout"
#: Who acts on entering a status: (roles, probabilities).
_ACTORS = {
    "accepted": (("grid_worker", "village_cadre", "town_admin"), (0.7, 0.2, 0.1)),
    "rejected": (("village_cadre", "town_admin", "grid_worker"), (0.5, 0.3, 0.2)),
    "dispatched": (("village_cadre", "town_admin"), (0.55, 0.45)),
    "in_progress": (("grid_worker", "village_cadre", "lane_captain"), (0.5, 0.3, 0.2)),
    "rework": (("town_admin", "village_cadre"), (0.6, 0.4)),
    "verified": (("village_cadre", "town_admin"), (0.5, 0.5)),
    "closed": (("town_admin", "village_cadre"), (0.7, 0.3)),
    "parked": (("town_admin", "village_cadre"), (0.7, 0.3)),
}
_POLICE_WORK = (("community_police", "village_cadre", "grid_worker"), (0.5, 0.3, 0.2))
_REPORTERS = (
    ("resident", "lane_captain", "grid_worker", "community_police", "village_cadre"),
    (0.45, 0.2, 0.25, 0.05, 0.05),
)
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


def _distance_within(points: np.ndarray, line: shapely.Geometry, limit: float) -> np.ndarray:
    """Distance from each point to ``line``, or ``inf`` beyond ``limit``.

    Indexed by the line's segments: a plain distance to a long meandering line
    costs points × vertices, which dominates county-scale runs.
    """
    out = np.full(len(points), np.inf)
    for part in shapely.get_parts(line):
        xy = shapely.get_coordinates(part)
        segs = shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1))
        idx, dist = shapely.STRtree(segs).query_nearest(
            points, max_distance=limit, return_distance=True, all_matches=False
        )
        np.minimum.at(out, idx[0], dist)
    return out


def _local_seconds(days: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Local (Asia/Shanghai, naive) epoch seconds from day numbers and fractional hours."""
    return days.astype(np.int64) * 86400 + (hours * 3600).astype(np.int64)


def _report_hours(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    """Time of day of a report: mostly daytime; fireworks and public order at night too."""
    n = len(cat)
    u = rng.random(n)
    h = np.where(
        u < 0.5,
        rng.normal(10.0, 1.8, n),
        np.where(u < 0.85, rng.normal(15.5, 1.8, n), rng.normal(20.0, 1.5, n)),
    )
    night = ((cat == 2) & (rng.random(n) < 0.7)) | ((cat == 5) & (rng.random(n) < 0.3))
    h[night] = rng.normal(21.5, 1.8, int(night.sum()))
    return np.mod(h, 24.0)


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


@dataclass
class _History:
    events: pd.DataFrame  # seq, from_status, to_status, at, actor_role, note, action, detail
    length: np.ndarray
    draft: np.ndarray  # the path starts with a draft
    final: np.ndarray
    reported_at: pd.Series
    closed_at: pd.Series
    due_at: pd.Series
    escalated_at: pd.Series
    level: np.ndarray
    satisfaction: pd.Series


#: Naive Beijing seconds minus UTC seconds (China keeps one offset all year).
_BEIJING_S = 8 * 3600


def _to_shanghai(local_seconds: np.ndarray) -> pd.DatetimeIndex:
    """Naive local seconds -> tz-aware Asia/Shanghai (no DST since 1991, so exact)."""
    return pd.DatetimeIndex(local_seconds.astype("datetime64[s]")).tz_localize("Asia/Shanghai")


def _shanghai_or_nat(local_seconds: np.ndarray) -> pd.Series:
    """As :func:`_to_shanghai`, with NaT where the value is negative (none)."""
    out = pd.Series(_to_shanghai(np.maximum(local_seconds, 0)))
    out[local_seconds < 0] = pd.NaT
    return out


def _histories(
    rng: np.random.Generator,
    cat: np.ndarray,
    t_rep: np.ndarray,
    cutoff: int,
    limits: Mapping[str, tuple[int, str, str]],
    calendar: WorkCalendar,
) -> _History:
    """Plan each incident's full path through the loop in working time, then cut it.

    Each case gets a pace: the share of its category's time limit (working time,
    :mod:`layers.incidents.sla`) it takes from report to closure. The steps share
    that span by weight; urgent classes are often worked at once, in calendar time.
    A parked case's clock stands still while it waits. Whenever a case is still
    running after its due time, the hourly timeout sweep lifts it one level with a
    fresh limit (as ``escalate_overdue`` does), up to the county. The plan is then
    cut at ``cutoff``: recent cases stop wherever they would stand.
    """
    n = len(cat)
    tpl = rng.choice(len(_TEMPLATES), size=n, p=_TEMPLATE_P / _TEMPLATE_P.sum())
    max_len = max(len(t) for t in _TEMPLATES)
    mat = np.full((len(_TEMPLATES), max_len), -1, dtype=np.int64)
    for i, t in enumerate(_TEMPLATES):
        mat[i, : len(t)] = [_S[s] for s in t]
    status = mat[tpl]  # (n, max_len), -1 past the end
    valid = status >= 0
    prev = np.c_[np.full(n, -1), status[:, :-1]]
    prev2 = np.c_[np.full((n, 2), -1), status[:, :-2]]
    col = np.arange(max_len)

    per_day = calendar.minutes_per_day
    lim = [limits[c] for c in _CODES]
    limit_min = np.array([v * (60 if u == "hour" else per_day) for v, u, _ in lim])[cat]
    hourly = np.array([u == "hour" for _, u, _ in lim])[cat]
    base_level = np.array([LEVELS.index(h) for *_, h in lim])[cat]

    # Working minutes after the report at which each step happens.
    w = np.zeros((n, max_len))
    for name, weight in _STEP_WEIGHT.items():
        w[status == _S[name]] = weight
    w[(status == _S["in_progress"]) & (prev == _S["rework"])] = 0.05
    w[(status == _S["handled"]) & (prev2 == _S["rework"])] = 0.20
    w *= rng.gamma(3.0, 1 / 3, (n, max_len))
    closes = (status == _S["closed"]).any(axis=1)
    close_col = np.where(closes, np.argmax(status == _S["closed"], axis=1), max_len)
    total = (w * (col[None, :] <= close_col[:, None])).sum(axis=1)
    pace = _PACE[tpl] * rng.lognormal(0.0, _PACE_SIGMA, n)
    share = w / np.where(total > 0, total, 1.0)[:, None]
    step_min = np.where(w > 0, np.maximum(share * (pace * limit_min)[:, None], 1.0), 0.0)
    offset_s = np.round(np.cumsum(step_min, axis=1) * 60).astype(np.int64)

    rep_utc = t_rep - _BEIJING_S
    cut_utc = cutoff - _BEIJING_S
    tl = calendar.timeline(
        dt.datetime.fromtimestamp(int(rep_utc.min()) - 86400, dt.UTC),
        dt.datetime.fromtimestamp(int(cut_utc) + 2 * 366 * 86400, dt.UTC),
    )
    pos0 = tl.position(rep_utc)
    # A parked case resumed after a wait: the steps after it move by that wait.
    resumed = (status == _S["in_progress"]) & (prev == _S["parked"])
    after_resume = np.cumsum(resumed, axis=1) > 0
    wait_s = (_PARKED_DAYS * 86400 * rng.lognormal(0.0, 0.8, n)).astype(np.int64)
    park_col = np.argmax(status == _S["parked"], axis=1)
    park_pos = pos0 + offset_s[np.arange(n), park_col]
    shift_w = tl.position(tl.at(park_pos) + wait_s) - park_pos + 60
    worked = tl.at(pos0[:, None] + offset_s + after_resume * shift_w[:, None])
    at_once = hourly & (rng.random(n) < _AT_ONCE_P)
    now_s = rep_utc[:, None] + offset_s + after_resume * wait_s[:, None]
    times = np.where(offset_s > 0, np.where(at_once[:, None], now_s, worked), rep_utc[:, None])
    draft = status[:, 0] == _S["draft"]
    times[draft, 0] = rep_utc[draft] - rng.integers(300, 7200, int(draft.sum()))
    rows_fb, cols_fb = np.nonzero(status == _S["feedback_done"])
    fb_h = _FEEDBACK_H * rng.lognormal(0.0, 0.8, len(rows_fb))
    times[rows_fb, cols_fb] = times[rows_fb, cols_fb - 1] + np.maximum(fb_h * 3600, 60).astype(
        np.int64
    )
    times = np.where(valid, times, 0)
    due0 = tl.add(rep_utc, limit_min)

    # Due times after resumption, and the timeout sweep, case by case where it matters.
    last_step = np.where(valid & (status != _S["feedback_done"]), times, 0).max(axis=1)
    late = np.flatnonzero((last_step > due0) | resumed.any(axis=1))
    due_after = np.full((n, max_len), -1, dtype=np.int64)
    rr, cc = np.nonzero(status == _S["reported"])
    due_after[rr, cc] = due0[rr]
    escalations: list[tuple[int, int, int, int, int]] = []  # row, at, status, level, due
    top = len(LEVELS) - 1
    for i in late:
        k_end = int(valid[i].sum())
        st, tm = status[i, :k_end], times[i, :k_end]
        due, level = -1, int(base_level[i])
        for k in range(k_end):
            if st[k] == _S["reported"]:
                due = int(due0[i])
            elif resumed[i, k]:
                due += int(tm[k] - tm[k - 1])  # the clock stood still while parked
                due_after[i, k] = due
            if STATUSES[st[k]] not in _RUNNING or due < 0 or k + 1 >= k_end:
                continue
            while level < top:
                sweep = (max(due, int(tm[k])) // _SWEEP_S + 1) * _SWEEP_S
                if sweep >= tm[k + 1]:
                    break
                level += 1
                due = int(tl.add(sweep, limit_min[i]))
                escalations.append((int(i), sweep, int(st[k]), level, due))

    # Flat events: the planned steps, then the escalations, in time order, cut at cutoff.
    rows, cols = np.nonzero(valid)
    st = status[rows, cols]
    names = np.asarray(STATUSES, dtype=object)
    levels = np.asarray(LEVELS, dtype=object)
    esc = np.array(escalations, dtype=np.int64).reshape(-1, 5)
    role = _roles(rng, st, cat[rows])
    note = _notes(rng, st)
    action = np.array([_ACTIONS.get(s) for s in names[st]], dtype=object)
    action[cols == 0] = "report"
    action[(st == _S["reported"]) & (cols > 0)] = "submit"
    action[(st == _S["in_progress"]) & (prev[rows, cols] == _S["parked"])] = "resume"
    action[(st == _S["in_progress"]) & (prev[rows, cols] != _S["parked"])] = "start"
    detail = np.full(len(st), None, dtype=object)
    e_detail = [
        json.dumps({"from_level": levels[lv - 1], "to_level": levels[lv], "reason": "timeout"})
        for lv in esc[:, 3]
    ]
    all_rows = np.r_[rows, esc[:, 0]]
    all_t = np.r_[times[rows, cols], esc[:, 1]]
    all_st = np.r_[st, esc[:, 2]]
    all_due = np.r_[due_after[rows, cols], esc[:, 4]]
    all_level = np.r_[np.full(len(st), -1), esc[:, 3]]
    all_role = np.r_[role, np.full(len(esc), "system", dtype=object)]
    all_note = np.r_[note, np.full(len(esc), _ESCALATION_NOTE, dtype=object)]
    all_action = np.r_[action, np.full(len(esc), "escalate", dtype=object)]
    all_detail = np.r_[detail, np.asarray(e_detail, dtype=object)]
    order = np.lexsort((all_t, all_rows))
    order = order[all_t[order] < cut_utc]
    r_k, t_k, st_k = all_rows[order], all_t[order], all_st[order]
    length = np.bincount(r_k, minlength=n)  # a prefix of each plan: times increase along it
    first = np.r_[True, r_k[1:] != r_k[:-1]]
    seq = np.arange(len(r_k)) - np.repeat(np.flatnonzero(first), length[length > 0])
    from_st = np.where(first, -1, np.r_[-1, st_k[:-1]])

    # Per incident: final status, level, due and closing times as of the cutoff.
    last = np.cumsum(length) - 1
    final_code = st_k[last]
    due_k, level_k = all_due[order], all_level[order]
    due_at = _last_set(r_k, due_k, n)
    esc_at = _last_set(r_k, np.where(level_k >= 0, t_k, -1), n)
    level_at = _last_set(r_k, level_k, n)
    level = levels[np.where(level_at >= 0, level_at, base_level)]
    closed_t = _last_set(r_k, np.where(st_k == _S["closed"], t_k, -1), n)

    done = final_code == _S["feedback_done"]
    overdue = (closed_t >= 0) & ((closed_t > due_at) | (esc_at >= 0))
    reworked = np.isin(tpl, list(_REWORK_T)) | overdue
    sat = np.where(
        reworked,
        rng.choice(np.arange(1, 6), size=n, p=[0.05, 0.10, 0.25, 0.35, 0.25]),
        rng.choice(np.arange(1, 6), size=n, p=[0.01, 0.02, 0.07, 0.30, 0.60]),
    )
    satisfaction = pd.array(np.where(done, sat, 0), dtype="Int64")
    satisfaction[~done] = pd.NA
    note_k = all_note[order]
    fb = np.flatnonzero(st_k == _S["feedback_done"])
    note_k[fb] = [f"群众评价：{'★' * int(s)}" for s in sat[r_k[fb]]]

    local = _BEIJING_S
    events = pd.DataFrame(
        {
            "seq": seq.astype(np.int64),
            "from_status": np.where(from_st >= 0, names[np.maximum(from_st, 0)], None),
            "to_status": names[st_k],
            "at": _to_shanghai(t_k + local),
            "actor_role": all_role[order],
            "note": note_k,
            "action": all_action[order],
            "detail": all_detail[order],
        }
    )
    return _History(
        events,
        length,
        draft,
        names[final_code],
        pd.Series(_to_shanghai(t_rep)),
        _shanghai_or_nat(np.where(closed_t >= 0, closed_t + local, -1)),
        _shanghai_or_nat(np.where(due_at >= 0, due_at + local, -1)),
        _shanghai_or_nat(np.where(esc_at >= 0, esc_at + local, -1)),
        level,
        pd.Series(satisfaction),
    )


def _last_set(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per row (``rows`` sorted), the last of ``values`` that is not -1, else -1."""
    out = np.full(n, -1, dtype=np.int64)
    set_ = values >= 0
    # Later entries overwrite earlier ones: fancy assignment keeps the last write.
    out[rows[set_]] = values[set_]
    return out


def _roles(rng: np.random.Generator, st: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Who acts on entering each status (flat planned steps, in path order)."""
    role = np.full(len(st), "resident", dtype=object)
    for name, (roles, p) in _ACTORS.items():
        sel = np.flatnonzero(st == _S[name])
        role[sel] = np.asarray(roles, dtype=object)[rng.choice(len(roles), size=len(sel), p=p)]
    work = np.flatnonzero(
        ((st == _S["in_progress"]) | (st == _S["handled"])) & ((cat == 3) | (cat == 5))
    )
    role[work] = np.asarray(_POLICE_WORK[0], dtype=object)[
        rng.choice(3, size=len(work), p=_POLICE_WORK[1])
    ]
    sel = np.flatnonzero(st == _S["handled"])
    role[sel] = role[sel - 1]  # who handles is who was working on it
    return role


def _notes(rng: np.random.Generator, st: np.ndarray) -> np.ndarray:
    """Notes on rejections, rework, parking and some handlings."""
    note = np.full(len(st), None, dtype=object)
    for name, texts in NOTES.items():
        sel = np.flatnonzero(st == _S[name])
        if name == "handled":
            sel = sel[rng.random(len(sel)) < 0.4]
        note[sel] = np.asarray(texts, dtype=object)[rng.integers(0, len(texts), len(sel))]
    return note
