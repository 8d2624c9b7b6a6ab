"""The demo's patrol history: weeks of twice-daily patrols in two villages, walked and checked.

Two teams patrol the villages of the demo's 铁三角 logins: the 夕阳红 volunteers
(the village's patrol members, 60–76 years old) in village A for five weeks, and
the community police with the 联防 volunteers in village B for four. Until the
last week each team walks two fixed hotspot routes (a longer one in the
morning, a shorter one in the afternoon) at routine times, and every other
weekend morning every lane of the village (the police on Saturdays, the
volunteers on Sundays); the last week follows a week plan made by the
week-plan solver.

:func:`patrol_schedule` decides, without a database, who walks what and when:
most patrols are walked, some skipped (the volunteers stay home on rainy
days), some cut short, some started late; each walker's phone has its own fix
interval (5–15 s) and GPS noise (5–10 m). :func:`load_patrols` plans the routes
with :mod:`layers.patrol.service`, simulates each walk with
:func:`layers.patrol.synthetic.simulate_track`, writes it as GPX and hands it to
:func:`layers.patrol.service.check_walk`, the function behind the upload API,
so every demo track is parsed, checked and stored as an uploaded one would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.ops import substring
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid
from layers.patrol.gpx import write_gpx
from layers.patrol.service import LOCAL, check_walk, plan_route, plan_week
from layers.patrol.synthetic import simulate_track

#: The last weeks of each team's history follow a week plan (the town introduced them lately).
PLANNED_WEEKS = 1
#: Walkers per team whose phones the schedule tells apart (the loader cycles its persons).
PHONES = 8
#: Chance that it rains on a day (the volunteers then stay home).
RAIN = 0.06
#: Pause between the parts of a route over a network that falls apart (s): walking the
#: street between them, which is not in the lane network.
PART_GAP_S = 90.0


@dataclass(frozen=True)
class PatrolTeam:
    """How one demo team patrols (see the module docstring).

    Attributes
    ----------
    name : str
        The team, as its week plan and the monthly coverage name it.
    weeks : int
        Weeks of history before the demo's date.
    village : int
        Index of its village among the villages sorted by code (0: village A).
    role : str
        Role of the persons who carry the phone (by village, or by grid in the village).
    minutes : (float, float)
        Length of the morning and afternoon fixed routes (budget routes).
    week_minutes : float
        Length of a patrol of the week plan.
    stop_min : float
        Minutes to spend at each hotspot.
    speed_mps : (float, float)
        Range of walking speeds.
    routine : (datetime.time, datetime.time)
        Start of the morning and afternoon fixed routes (Beijing time).
    skip, short, late : float
        Shares of patrols not walked, cut short, started 12–40 minutes late.
    rain_skips : bool
        Whether the team stays home when it rains.
    cover_weekday : int or None
        Weekday (0 Monday) whose morning patrol walks every lane, outside planned
        weeks, in every other week (counting back from the planned weeks).
    """

    name: str
    weeks: int
    village: int
    role: str
    minutes: tuple[float, float]
    week_minutes: float
    stop_min: float
    speed_mps: tuple[float, float]
    routine: tuple[time, time]
    skip: float
    short: float
    late: float
    rain_skips: bool
    cover_weekday: int | None


TEAMS: tuple[PatrolTeam, ...] = (
    PatrolTeam(
        name="夕阳红巡逻队",
        weeks=5,
        village=0,
        role="patrol_member",
        minutes=(45.0, 30.0),
        week_minutes=40.0,
        stop_min=10.0,
        speed_mps=(0.8, 1.05),
        routine=(time(7, 30), time(16, 0)),
        skip=0.08,
        short=0.08,
        late=0.12,
        rain_skips=True,
        cover_weekday=6,
    ),
    PatrolTeam(
        name="警民联防巡逻队",
        weeks=4,
        village=1,
        role="community_police",
        minutes=(40.0, 30.0),
        week_minutes=40.0,
        stop_min=8.0,
        speed_mps=(1.1, 1.4),
        routine=(time(8, 30), time(19, 0)),
        skip=0.05,
        short=0.06,
        late=0.10,
        rain_skips=False,
        cover_weekday=5,
    ),
)

#: Columns of :func:`patrol_schedule`.
SCHEDULE_COLUMNS = (
    "team", "day", "slot", "route", "planned", "routine_start", "outcome", "delay_s", "keep",
    "speed_mps", "walker", "interval_s", "sigma_m", "seed",
)  # fmt: skip


def patrol_schedule(as_of: date, seed: int, teams: tuple[PatrolTeam, ...] = TEAMS) -> pd.DataFrame:
    """Who walks which patrol when, and how, over each team's weeks before ``as_of``.

    Parameters
    ----------
    as_of
        The demo's date: the history ends the day before.
    seed
        The demo's seed; the same (seed, as_of) gives the same schedule.
    teams
        The teams (default :data:`TEAMS`); the last :data:`PLANNED_WEEKS` weeks
        of each follow week plans.

    Returns
    -------
    pandas.DataFrame
        One row per patrol (:data:`SCHEDULE_COLUMNS`): ``team`` (index in
        ``teams``), ``day``, ``slot`` (0 morning, 1 afternoon), ``route``
        (``plan``, ``morning``, ``afternoon`` or ``cover``), ``planned`` (in a
        week plan), ``routine_start`` (Beijing time of a fixed route; None for
        planned patrols, which start when their plan says), ``outcome``
        (``walked``, ``late``, ``short``, ``skipped``), ``delay_s`` (start
        minus planned start), ``keep`` (share of the route walked), the
        walking speed, ``walker`` (phone index below :data:`PHONES`) with its
        fix ``interval_s`` and noise ``sigma_m``, and a ``seed`` for the walk.
    """
    longest = max((t.weeks for t in teams), default=0)
    # Weather is the town's, not a team's: one draw per day (counting back from as_of).
    rain = np.random.default_rng([seed, as_of.toordinal(), 0]).random(7 * longest) < RAIN
    rows = []
    for k, team in enumerate(teams):
        rng = np.random.default_rng([seed, as_of.toordinal(), k + 1])
        phones_interval = rng.choice([5.0, 10.0, 15.0], PHONES, p=[0.2, 0.4, 0.4])
        phones_sigma = rng.uniform(5.0, 10.0, PHONES)
        # Fixed shares, shuffled: every history has its skipped, short and late patrols.
        n = 14 * team.weeks
        counts = np.round(np.array([team.skip, team.short, team.late]) * n).astype(int)
        outcomes = iter(
            rng.permutation(
                np.repeat(["skipped", "short", "late", "walked"], [*counts, n - counts.sum()])
            )
        )
        for back in range(7 * team.weeks, 0, -1):
            day = as_of - timedelta(days=back)
            week = (back - 1) // 7  # 0: the last week before as_of
            planned = week < PLANNED_WEEKS
            for slot in (0, 1):
                if planned:
                    route = "plan"
                elif (
                    slot == 0
                    and day.weekday() == team.cover_weekday
                    and (week - PLANNED_WEEKS) % 2 == 0
                ):
                    route = "cover"
                else:
                    route = ("morning", "afternoon")[slot]
                outcome = str(next(outcomes))
                if rain[back - 1] and team.rain_skips:
                    outcome = "skipped"
                # On time means within a few minutes either side; late is late.
                delay_min = (
                    rng.uniform(12.0, 40.0)
                    if outcome == "late"
                    else float(np.clip(rng.normal(0.0, 2.5), -6.0, 8.0))
                )
                walker = int(rng.integers(PHONES))
                # Three hours through every lane: most rounds leave a few dead ends out.
                keep = (
                    rng.uniform(0.35, 0.75)
                    if outcome == "short"
                    else rng.uniform(0.8, 1.0)
                    if route == "cover"
                    else 1.0
                )
                rows.append(
                    {
                        "team": k,
                        "day": day,
                        "slot": slot,
                        "route": route,
                        "planned": planned,
                        "routine_start": None
                        if planned
                        else datetime.combine(
                            day, time(7, 0) if route == "cover" else team.routine[slot], LOCAL
                        ),
                        "outcome": outcome,
                        "delay_s": round(delay_min * 60.0),
                        "keep": keep,
                        "speed_mps": rng.uniform(*team.speed_mps),
                        "walker": walker,
                        "interval_s": float(phones_interval[walker]),
                        "sigma_m": float(phones_sigma[walker]),
                        "seed": int(rng.integers(2**31)),
                    }
                )
    return pd.DataFrame(rows, columns=list(SCHEDULE_COLUMNS))


# -- the database side ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    """A stored route as a walker follows it: metric parts and its stops along them."""

    id: int
    parts: list[shapely.LineString]
    #: (part, distance along it in m) of each stop, in walking order.
    stops: list[tuple[int, float]]
    stop_min: float


def _routes(session: Session, ids: list[int]) -> dict[int, _Route]:
    rows = session.execute(
        text(
            f"SELECT id, params, ST_AsBinary(ST_Transform(geom, {METRIC_SRID})) AS geom"
            " FROM patrol_route WHERE id = ANY(:ids)"
        ),
        {"ids": ids},
    ).all()
    to_metric = Transformer.from_crs(SRID, METRIC_SRID, always_xy=True)
    out = {}
    for r in rows:
        parts = [p for p in shapely.get_parts(shapely.from_wkb(bytes(r.geom))) if p.length > 0]
        stops = []
        for s in r.params.get("stops", []):
            point = shapely.Point(to_metric.transform(s["lon"], s["lat"]))
            # Budget routes have one part; the stop is where the walk comes nearest.
            part = int(np.argmin([p.distance(point) for p in parts]))
            stops.append((part, parts[part].project(point)))
        out[r.id] = _Route(r.id, parts, stops, float(r.params.get("stop_min", 0.0)))
    return out


def _walk(route: _Route, row, t0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPS fixes of one patrol along ``route`` as ``row`` of the schedule says."""
    rng = np.random.default_rng(row.seed)
    budget = row.keep * sum(p.length for p in route.parts)
    xs, ys, ts = [], [], []
    for i, part in enumerate(route.parts):
        if budget <= 1.0:
            break
        line = part if part.length <= budget else substring(part, 0.0, budget)
        budget -= line.length
        # A stop takes 75–125 % of the planned minutes, but one in ten is a quick look
        # in passing: too short to count as a stop.
        stops = [
            (along, route.stop_min * 60.0 * rng.uniform(*(0.1, 0.4) if quick else (0.75, 1.25)))
            for (p, along), quick in zip(
                route.stops, rng.random(len(route.stops)) < 0.1, strict=True
            )
            if p == i and along <= line.length
        ]
        x, y, t = simulate_track(
            line,
            speed_mps=row.speed_mps,
            interval_s=row.interval_s,
            sigma_m=row.sigma_m,
            outlier_share=0.015,
            outlier_m=rng.uniform(40.0, 80.0),
            stops=stops,
            t0=t0,
            seed=int(rng.integers(2**31)),
        )
        xs.append(x)
        ys.append(y)
        ts.append(t)
        t0 = float(t[-1]) + PART_GAP_S
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)


def _plan_team(
    session: Session, team: PatrolTeam, k: int, code: str, mine: pd.DataFrame, seed: int, actor: str
) -> tuple[dict[str, int], dict[tuple[date, int], int], int]:
    """Plan the team's fixed routes and week plans: route ids by name and by (day, slot)."""
    fixed = {
        name: plan_route(
            session, code, mode="budget", minutes=minutes, stop_min=team.stop_min,
            seed=seed, actor=actor,
        )["route_id"]
        for name, minutes in zip(("morning", "afternoon"), team.minutes, strict=True)
    }  # fmt: skip
    if (mine["route"] == "cover").any():
        fixed["cover"] = plan_route(session, code, mode="cover", seed=seed, actor=actor)["route_id"]
    # The week plans' patrols by (day, slot): the plan says which route and when.
    in_plan: dict[tuple[date, int], int] = {}
    plan_weeks = sorted(set(mine.loc[mine["planned"], "day"]))[::7]
    for n, week_start in enumerate(plan_weeks):
        plan = plan_week(
            session,
            code,
            week_start,
            minutes=team.week_minutes,
            stop_min=team.stop_min,
            seed=(seed + 7 * k + n) % 2**31,
            team=team.name,
            actor=actor,
        )
        for p in plan["patrols"]:
            in_plan[date.fromisoformat(p["day"]), p["slot"]] = p["route_id"]
    return fixed, in_plan, len(plan_weeks)


def _walkers(session: Session, village_id: int, role: str) -> list[int]:
    """Persons holding ``role`` on the village or on one of its grids, by id."""
    return list(
        session.execute(
            text(
                "SELECT DISTINCT ra.person_id FROM role_assignment ra"
                " LEFT JOIN grid g ON g.id = ra.grid_id WHERE ra.role = :r"
                " AND coalesce(ra.village_id, g.village_id) = :v ORDER BY 1"
            ),
            {"r": role, "v": village_id},
        ).scalars()
    )


def load_patrols(
    session: Session,
    as_of: date,
    seed: int,
    *,
    teams: tuple[PatrolTeam, ...] = TEAMS,
    actor: str = "demo",
) -> dict:
    """Plan the teams' routes and week plans, walk the schedule and store the checked tracks.

    Parameters
    ----------
    session
        An open session on the loaded demo township (lanes, incidents and roles
        written); the caller commits.
    as_of, seed
        The demo's date and seed (see :func:`patrol_schedule`).
    teams
        Default :data:`TEAMS`.
    actor
        Name the plans and checks are audited under.

    Returns
    -------
    dict
        Per team name: ``village``, ``week_plans``, ``routes``, ``patrols``
        (scheduled), ``tracks`` (walked and stored) and ``skipped``; or
        ``village`` and ``left_out`` (why) for a team whose routes could not be
        planned, which then has no history. A team whose village a small demo
        does not have is not named.
    """
    villages = session.execute(text("SELECT code, id FROM village ORDER BY code")).all()
    schedule = patrol_schedule(as_of, seed, teams)
    summary = {}
    for k, team in enumerate(teams):
        if team.village >= len(villages):
            continue
        code, village_id = villages[team.village]
        mine = schedule[schedule["team"] == k]
        try:
            # All of a team's routes or none: a village the planner refuses is left out.
            with session.begin_nested():
                fixed, in_plan, n_plans = _plan_team(session, team, k, code, mine, seed, actor)
        except Invalid as exc:  # e.g. no incident hotspot in the village (a very small demo)
            summary[team.name] = {"village": code, "left_out": exc.message}
            continue
        except ValueError as exc:
            # layers.patrol.service cannot yet plan budget routes in a village with a
            # significant Gi* hotspot (hotspot_clusters' x/y and x_peak/y_peak both become
            # x/y); one team's history is not worth failing the whole demo for.
            summary[team.name] = {"village": code, "left_out": f"ValueError: {exc}"}
            continue
        routes = _routes(session, [*fixed.values(), *in_plan.values()])
        starts = dict(
            session.execute(
                text("SELECT id, planned_start FROM patrol_route WHERE id = ANY(:ids)"),
                {"ids": list(in_plan.values())},
            ).all()
        )
        walkers = _walkers(session, village_id, team.role)
        walked = 0
        for row in mine.itertuples(index=False):
            if row.outcome == "skipped":
                continue
            route_id = in_plan[row.day, row.slot] if row.planned else fixed[row.route]
            planned_start = starts[route_id] if row.planned else row.routine_start
            x, y, t = _walk(routes[route_id], row, planned_start.timestamp() + row.delay_s)
            gpx = write_gpx(
                shapely.LineString(np.column_stack([x, y])),
                name=f"{team.name} {row.day.isoformat()}",
                crs=f"EPSG:{METRIC_SRID}",
                times=t,
            )
            check_walk(
                session,
                route_id,
                gpx.encode(),
                person_id=walkers[row.walker % len(walkers)] if walkers else None,
                # A fixed route has no start of its own: the team's routine is the plan.
                planned_start=None if row.planned else planned_start,
                actor=actor,
            )
            walked += 1
        summary[team.name] = {
            "village": code,
            "week_plans": n_plans,
            "routes": len(fixed) + len(in_plan),
            "patrols": len(mine),
            "tracks": walked,
            "skipped": int((mine["outcome"] == "skipped").sum()),
        }
    return summary
