"""The demo-township generator: counts, geometry, determinism, histories, fake data."""

from __future__ import annotations

import datetime as dt
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.demo import DemoTownship, generate
from layers.demo.incidents import ACTOR_ROLES, STATUSES, TIME_LIMITS
from layers.demo.names import id_check_char
from layers.incidents.sla import WorkCalendar

METRIC = "EPSG:4548"


@pytest.fixture(scope="module")
def town() -> DemoTownship:
    return generate()


def _frames(t: DemoTownship) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("town", "villages", "streets", "lanes", "barriers", "water", "grids",
                 "households", "persons", "roles", "incidents", "incident_events",
                 "planted_hotspots"):  # fmt: skip
        df = getattr(t, name)
        if isinstance(df, gpd.GeoDataFrame):
            df = pd.DataFrame(df.drop(columns="geometry")).assign(wkb=df.geometry.to_wkb())
        out[name] = df
    return out


# -- counts ---------------------------------------------------------------------------------


def test_default_counts(town: DemoTownship) -> None:
    assert len(town.town) == 1
    assert town.town["code"].iloc[0] == "130999100"
    assert town.town["name"].iloc[0] == "演示镇"
    assert len(town.villages) == 19
    assert 7500 <= len(town.households) <= 8500
    assert abs(town.households["people"].sum() - 30_600) <= 0.05 * 30_600
    assert (town.households["people"] >= 1).all()
    assert 3.6 <= town.households["people"].mean() <= 4.0
    sizes = town.households.groupby("village_code").size()
    assert sizes.min() >= 100
    assert sizes.max() <= 950
    assert set(town.villages["kind"]) <= {"village", "community"}
    assert (town.villages["kind"] == "community").sum() == 1


def test_codes_and_hierarchy(town: DemoTownship) -> None:
    v = town.villages["code"]
    assert v.str.fullmatch(r"1309991002\d\d").all()
    assert v.is_unique
    g = town.grids
    assert g["code"].str.fullmatch(r"\d{16}").all()
    assert g["code"].is_unique
    assert (g["code"].str[:12] == g["village_code"]).all()
    assert set(g["level"]) == {1, 2, 3}
    l1, l2, l3 = (g[g["level"] == k] for k in (1, 2, 3))
    assert len(l1) == 19
    assert l1["parent_code"].isna().all()
    assert (l1["code"].str[12:] == "0000").all()
    assert (l2["code"].str[14:] == "00").all()
    assert (l2["code"].str[12:14] != "00").all()
    assert (l3["code"].str[14:] != "00").all()
    assert (l2["parent_code"] == l2["village_code"] + "0000").all()
    assert (l3["parent_code"] == l3["code"].str[:14] + "00").all()
    per_village = l2.groupby("village_code").size()
    assert per_village.between(2, 4).all()
    for df, col in ((town.streets, "key"), (town.lanes, "key"), (town.households, "key"),
                    (town.persons, "key"), (town.incidents, "key")):  # fmt: skip
        assert df[col].is_unique
    assert town.lanes["street_key"].dropna().isin(town.streets["key"]).all()
    assert town.streets["is_main"].any()
    lane_v = town.lanes.set_index("key")["village_code"]
    hh = town.households.dropna(subset=["lane_key"])
    assert (hh["lane_key"].map(lane_v) == hh["village_code"]).all()
    assert town.households["lane_key"].isna().sum() > 0  # a few off-lane houses


def test_level3_block_sizes(town: DemoTownship) -> None:
    counts = town.households.groupby("grid_code").size()
    l3 = town.grids[town.grids["level"] == 3]["code"]
    assert set(counts.index) == set(l3)
    assert counts.between(30, 160).mean() >= 0.9
    assert 60 <= counts.median() <= 130


# -- geometry -------------------------------------------------------------------------------


def test_crs_validity_and_extent(town: DemoTownship) -> None:
    for name in ("town", "villages", "streets", "lanes", "barriers", "water", "grids",
                 "households", "incidents"):  # fmt: skip
        gdf = getattr(town, name)
        assert gdf.crs == "EPSG:4490", name
        assert shapely.is_valid(gdf.geometry.values).all(), name
        x0, y0, x1, y1 = gdf.total_bounds
        assert 115.95 < x0 < x1 < 116.25, name
        assert 38.1 < y0 < y1 < 38.3, name
    assert (town.villages.geom_type == "MultiPolygon").all()
    assert (town.grids.geom_type == "MultiPolygon").all()
    assert (town.town.geom_type == "MultiPolygon").all()
    assert (town.streets.geom_type == "LineString").all()
    assert (town.lanes.geom_type == "LineString").all()
    assert (town.households.geom_type == "Point").all()
    assert town.water.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert town.barriers.geom_type.isin(["LineString", "MultiLineString"]).all()
    assert set(town.barriers["kind"]) == {"river", "road"}


def test_grids_tile_their_parents(town: DemoTownship) -> None:
    g = town.grids.to_crs(METRIC)
    area = g.set_index("code").geometry.area
    level1 = g[g["level"] == 1].set_index("village_code").geometry
    villages = town.villages.to_crs(METRIC).set_index("code").geometry
    assert np.allclose(level1.area, villages.loc[level1.index].area, rtol=1e-9)
    for level in (2, 3):
        kids = g[g["level"] == level]
        for parent, grp in kids.groupby("parent_code"):
            union = shapely.union_all(grp.geometry.values)
            p_area = area[parent]
            assert abs(union.area - p_area) <= 1e-6 * p_area, parent
            # No overlap: the children's areas add up to their union.
            assert abs(grp.geometry.area.sum() - union.area) <= 1e-6 * p_area, parent
            assert shapely.symmetric_difference(union, g.set_index("code").geometry[parent]).area \
                <= 1e-6 * p_area  # fmt: skip


def test_households_in_exactly_one_level3_grid(town: DemoTownship) -> None:
    l3 = town.grids[town.grids["level"] == 3][["code", "geometry"]]
    hits = gpd.sjoin(town.households[["key", "grid_code", "geometry"]], l3, predicate="within")
    assert hits["key"].is_unique
    assert len(hits) == len(town.households)
    assert (hits["grid_code"] == hits["code"]).all()
    v = town.villages.set_index("code").geometry
    inside = shapely.contains(
        v.loc[town.households["village_code"]].values, town.households.geometry.values
    )
    assert inside.all()


def test_road_river_and_water(town: DemoTownship) -> None:
    road = town.barriers[town.barriers["kind"] == "road"].geometry.iloc[0]
    river = town.barriers[town.barriers["kind"] == "river"].geometry.iloc[0]
    crossed = town.villages[town.villages.intersects(road)]
    assert len(crossed) >= 2
    # The road splits each village it crosses into separate level-2 grids.
    g2 = town.grids[(town.grids["level"] == 2) & town.grids["village_code"].isin(crossed["code"])]
    assert (g2.groupby("village_code").size() >= 2).all()
    assert not town.villages.intersects(river).any()
    water = town.water.geometry.iloc[0]
    assert not town.villages.intersects(water).any()
    assert not town.households.intersects(water).any()
    w = town.water.to_crs(METRIC).geometry.iloc[0]
    width = w.area / town.barriers.to_crs(METRIC).set_index("kind").geometry["river"].length
    assert 20 <= width <= 40
    gaps = town.villages.to_crs(METRIC).distance(w)
    assert gaps.min() < 100  # one village lies beside the river


# -- determinism and scale --------------------------------------------------------------------


def test_deterministic(town: DemoTownship) -> None:
    again = generate()
    a, b = _frames(town), _frames(again)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    other = generate(seed=7)
    assert not _frames(other)["households"]["wkb"].equals(a["households"]["wkb"])
    moved = generate(as_of=dt.date(2026, 6, 1))
    pd.testing.assert_frame_equal(_frames(moved)["grids"], a["grids"])  # same map
    assert moved.incidents["reported_at"].max() < pd.Timestamp("2026-06-01", tz="Asia/Shanghai")


def test_scaled_run() -> None:
    big = generate(households=30_000)
    assert len(big.households) == 30_000
    assert 65 <= len(big.villages) <= 78  # about one village per 420 households
    assert len(big.town) == 1
    assert abs(len(big.incidents) - 15_000) <= 1_500
    l3 = big.grids[big.grids["level"] == 3][["code", "geometry"]]
    hits = gpd.sjoin(big.households[["key", "geometry"]], l3, predicate="within")
    assert hits["key"].is_unique
    assert len(hits) == 30_000


def test_out_of_range() -> None:
    with pytest.raises(ValueError, match="households"):
        generate(households=100)


# -- people -----------------------------------------------------------------------------------


def _id_ok(s: str) -> bool:
    return len(s) == 18 and s[:17].isdigit() and id_check_char(s[:17]) == s[17]


def test_fake_person_formats(town: DemoTownship) -> None:
    p = town.persons
    assert p["name"].str.fullmatch(r"[\u4e00-\u9fff]某某\d{4,}").all()
    assert p["phone"].str.fullmatch(r"199\d{8}").all()
    assert p["phone"].is_unique
    assert p["id_number"].str.fullmatch(r"130999(19|20)\d{9}[\dX]").all()
    assert p["id_number"].is_unique
    assert all(_id_ok(s) for s in p["id_number"])
    born = p["birth_date"].map(lambda d: d.strftime("%Y%m%d"))
    assert (p["id_number"].str[6:14] == born).all()
    odd = p["id_number"].str[16].astype(int) % 2 == 1
    assert (odd == (p["gender"] == "M")).all()
    assert set(p["gender"]) == {"M", "F"}
    # Every household has its head; role holders live in households with room for them.
    assert town.households["key"].isin(p["household_key"]).all()
    living = p["household_key"].value_counts()
    people = town.households.set_index("key")["people"]
    assert (living <= people.loc[living.index]).all()


def test_checksum_known_value() -> None:
    # The worked example of GB 11643-1999.
    assert id_check_char("11010519491231002") == "X"


def test_roles(town: DemoTownship) -> None:
    r = town.roles
    assert set(r["role"]) == {"community_police", "village_cadre", "grid_worker", "patrol_member"}
    l2 = set(town.grids.loc[town.grids["level"] == 2, "code"])
    team = r[r["area_type"] == "grid"]
    assert set(team["area_code"]) == l2
    per = team.groupby("area_code")["role"].apply(sorted)
    assert (per.map(tuple) == ("community_police", "grid_worker", "village_cadre")).all()
    vill = r[r["area_type"] == "village"]
    cadres = vill[vill["role"] == "village_cadre"].groupby("area_code").size()
    patrol = vill[vill["role"] == "patrol_member"].groupby("area_code").size()
    assert (cadres == 2).all()
    assert len(cadres) == 19
    assert patrol.between(4, 6).all()
    assert len(patrol) == 19
    born = town.persons.set_index("key")["birth_date"]
    ages = [
        (town.as_of - born[k]).days / 365.25
        for k in vill[vill["role"] == "patrol_member"]["person_key"]
    ]
    assert min(ages) >= 59.9  # 夕阳红: seniors
    assert r["person_key"].isin(town.persons["key"]).all()


# -- incidents --------------------------------------------------------------------------------


def test_incident_counts_and_places(town: DemoTownship) -> None:
    inc = town.incidents
    assert 3_600 <= len(inc) <= 4_400  # about 2,000 a year
    assert set(inc["category_code"]) == {f"0{i}" for i in range(1, 9)}
    l3 = town.grids[town.grids["level"] == 3][["code", "geometry"]]
    hits = gpd.sjoin(inc[["key", "grid_code", "geometry"]], l3, predicate="within")
    assert hits["key"].is_unique
    assert len(hits) == len(inc)
    assert (hits["grid_code"] == hits["code"]).all()
    assert inc["title"].str.len().between(3, 30).all()
    assert inc["description"].str.len().gt(5).all()
    assert inc["reporter_person_key"].dropna().isin(town.persons["key"]).all()
    end = pd.Timestamp(town.as_of, tz="Asia/Shanghai")
    start = end - pd.Timedelta(days=731)
    assert inc["reported_at"].between(start, end, inclusive="left").all()
    assert str(inc["reported_at"].dt.tz) == "Asia/Shanghai"


def test_histories(town: DemoTownship) -> None:
    inc, ev = town.incidents, town.incident_events
    assert set(ev["to_status"]) <= set(STATUSES)
    assert set(ev["actor_role"]) <= set(ACTOR_ROLES)
    assert ev["incident_key"].isin(inc["key"]).all()
    last = ev.groupby("incident_key").tail(1).set_index("incident_key")["to_status"]
    assert inc.set_index("key")["status"].equals(last.loc[inc["key"]])
    # seq runs 0..n-1, from_status chains, times strictly increase.
    first = ev["seq"] == 0
    assert (ev.groupby("incident_key")["seq"].transform(lambda s: s.diff().fillna(1)) == 1).all()
    assert ev.loc[first, "from_status"].isna().all()
    same = ev["incident_key"].eq(ev["incident_key"].shift())
    assert (ev.loc[same, "from_status"] == ev["to_status"].shift()[same]).all()
    assert (ev["at"].diff()[same] > pd.Timedelta(0)).all()
    assert ev["at"].max() < pd.Timestamp(town.as_of, tz="Asia/Shanghai")
    assert set(ev.loc[first, "to_status"]) <= {"reported", "draft"}
    # Escalations keep the status: the report is the event that entered "reported".
    rep = ev[(ev["to_status"] == "reported") & (ev["from_status"] != "reported")]
    rep = rep.set_index("incident_key")["at"]
    assert inc.set_index("key")["reported_at"].equals(rep.loc[inc["key"]])
    closed = ev[ev["to_status"] == "closed"].set_index("incident_key")["at"]
    c = inc.set_index("key")["closed_at"]
    assert (c.dropna() == closed.loc[c.dropna().index]).all()
    assert c.isna().sum() == len(inc) - len(closed)
    # Satisfaction exactly for feedback_done, mostly good.
    done = inc["status"] == "feedback_done"
    assert inc.loc[done, "satisfaction"].notna().all()
    assert inc.loc[~done, "satisfaction"].isna().all()
    assert inc.loc[done, "satisfaction"].between(1, 5).all()
    assert inc.loc[done, "satisfaction"].ge(4).mean() > 0.75
    # The loop's variety: most old cases complete; rejections, rework, parking exist.
    final = inc["status"].value_counts()
    assert final["feedback_done"] > 0.6 * len(inc)
    assert {"rejected", "parked", "closed"} <= set(final.index)
    assert (ev["to_status"] == "rework").sum() > 50
    rejected = ev[ev["to_status"] == "rejected"]
    assert (rejected["from_status"] == "reported").all()
    # Recent cases stand open at various stages.
    recent = inc[inc["reported_at"] > pd.Timestamp(town.as_of, tz="Asia/Shanghai")
                 - pd.Timedelta(days=21)]  # fmt: skip
    open_stages = set(recent["status"]) - {"closed", "feedback_done", "rejected"}
    assert len(open_stages) >= 3
    # Staff steps mostly in office hours.
    staff = ev[~ev["to_status"].isin(["reported", "draft", "feedback_done"])]
    assert staff["at"].dt.hour.between(8, 18).mean() > 0.85


# -- time limits ----------------------------------------------------------------------------


def _due(calendar: WorkCalendar, reported: pd.Series, categories: pd.Series, limits) -> list:
    """Due times by the SLA code itself (layers.incidents.sla), one case at a time."""
    return [
        pd.Timestamp(calendar.due(r.to_pydatetime(), *limits[c][:2])).tz_convert("Asia/Shanghai")
        for r, c in zip(reported, categories, strict=True)
    ]


def _first_due(town: DemoTownship, calendar: WorkCalendar, limits) -> pd.Series:
    inc = town.incidents.set_index("key")
    return pd.Series(_due(calendar, inc["reported_at"], inc["category_code"], limits), inc.index)


def test_due_times_are_the_catalogues_limits_in_working_time(town: DemoTownship) -> None:
    inc, ev = town.incidents.set_index("key"), town.incident_events
    moved = set(ev.loc[ev["action"].isin(["escalate", "resume"]), "incident_key"])
    plain = inc[~inc.index.isin(moved) & (inc["status"] != "draft")]
    first = _first_due(town, WorkCalendar(), TIME_LIMITS)
    assert (plain["due_at"] == first.loc[plain.index]).all()
    assert (plain["level"] == "village").all()  # every class starts at its handler level
    # A resumed case's clock stood still while it was parked.
    resumed = ev[ev["action"] == "resume"].set_index("incident_key")
    parked = ev[ev["action"] == "park"].set_index("incident_key")
    keys = sorted(set(resumed.index) - set(ev.loc[ev["action"] == "escalate", "incident_key"]))
    assert len(keys) > 20
    waited = resumed.loc[keys, "at"] - parked.loc[keys, "at"]
    assert (inc.loc[keys, "due_at"] == first.loc[keys] + waited).all()


def test_most_cases_close_on_time_a_minority_escalate(town: DemoTownship) -> None:
    inc, ev = town.incidents.set_index("key"), town.incident_events
    escalated = set(ev.loc[ev["action"] == "escalate", "incident_key"])
    closed = inc[inc["closed_at"].notna()]
    on_time = (closed["closed_at"] <= closed["due_at"]) & ~closed.index.isin(escalated)
    assert 0.80 <= on_time.mean() <= 0.95
    late = closed[~on_time]
    # The late ones: rework, escalation, or a wait for verification past the due time.
    assert late.index.isin(escalated).mean() > 0.3
    assert 0.01 <= len(escalated) / len(inc) <= 0.10
    reworked = set(ev.loc[ev["to_status"] == "rework", "incident_key"])
    assert late.index.isin(reworked).mean() > closed.index.isin(reworked).mean()
    # One level per escalation, from the class's handler level, never past the county.
    steps = ev[ev["action"] == "escalate"].groupby("incident_key").size()
    climbed = inc["level"].map({"village": 0, "town": 1, "county": 2})
    assert (climbed.loc[steps.index] == steps).all()
    assert (climbed.drop(steps.index) == 0).all()
    esc = ev[ev["action"] == "escalate"]
    assert (esc["from_status"] == esc["to_status"]).all()
    assert set(esc["actor_role"]) == {"system"}
    assert esc["detail"].map(lambda d: json.loads(d)["reason"]).eq("timeout").all()
    assert (inc.loc[list(escalated), "escalated_at"].notna()).all()


def test_escalations_come_with_the_hourly_sweep(town: DemoTownship) -> None:
    inc, ev = town.incidents.set_index("key"), town.incident_events
    first = _first_due(town, WorkCalendar(), TIME_LIMITS)
    ev = ev.assign(prev_at=ev.groupby("incident_key")["at"].shift())
    resumed = set(ev.loc[ev["action"] == "resume", "incident_key"])
    once = ev[(ev["action"] == "escalate") & ~ev["incident_key"].isin(resumed)]
    once = once.drop_duplicates("incident_key")  # the first escalation of each case
    due = first.loc[once["incident_key"]].to_numpy()
    start = np.maximum(due, once["prev_at"].to_numpy())
    wait = once["at"].to_numpy() - start
    assert len(once) > 50
    assert (wait > pd.Timedelta(0)).all()
    assert (wait <= pd.Timedelta(hours=1)).all()
    assert (once["at"].dt.minute == 0).all()
    assert (once["at"].dt.second == 0).all()
    # As of the data's end, the sweep has left no running case overdue below the county.
    running = inc["status"].isin(["reported", "accepted", "dispatched", "in_progress", "rework"])
    end = pd.Timestamp(town.as_of, tz="Asia/Shanghai") - pd.Timedelta(hours=1)
    stale = inc[running & (inc["due_at"] < end) & (inc["level"] != "county")]
    assert stale.empty


def test_the_catalogue_and_calendar_given_shape_the_histories() -> None:
    limits = dict.fromkeys(TIME_LIMITS, (2, "day", "town"))
    holidays = frozenset(dt.date(2025, 10, 1) + dt.timedelta(days=i) for i in range(8))
    calendar = WorkCalendar(holidays=holidays)
    town = generate(households=1200, seed=3, time_limits=limits, calendar=calendar)
    inc, ev = town.incidents.set_index("key"), town.incident_events
    moved = set(ev.loc[ev["action"].isin(["escalate", "resume"]), "incident_key"])
    plain = inc[~inc.index.isin(moved) & (inc["status"] != "draft")]
    first = _first_due(town, calendar, limits)
    assert (plain["due_at"] == first.loc[plain.index]).all()
    assert (plain["level"] == "town").all()
    during = plain[plain["reported_at"].between("2025-09-30", "2025-10-08")]
    assert len(during) > 0
    assert (during["due_at"] >= pd.Timestamp("2025-10-09 08:30", tz="Asia/Shanghai")).all()
    # Staff do not work on the holidays (every class counts in days here: none is urgent).
    staff = ev[ev["action"].isin(["accept", "dispatch", "verify", "close"])]
    day = staff["at"].dt.tz_localize(None).dt.normalize()
    assert not day.isin(pd.to_datetime(sorted(holidays))).any()


def test_seasons(town: DemoTownship) -> None:
    inc = town.incidents
    flood = inc[inc["category_code"] == "07"]
    assert flood["reported_at"].dt.month.between(6, 9).all()
    fireworks = inc[inc["category_code"] == "03"]["reported_at"].dt.tz_localize(None)
    festivals = pd.to_datetime(["2025-01-29", "2026-02-17"])
    near = np.min(np.abs(fireworks.values[:, None] - festivals.values[None, :]), axis=1)
    assert (near <= np.timedelta64(20, "D")).mean() > 0.5
    # Flood cases lie nearer the river than the average case.
    river = town.barriers.to_crs(METRIC).set_index("kind").geometry["river"]
    d = inc.to_crs(METRIC).distance(river)
    assert d[inc["category_code"] == "07"].mean() < 0.6 * d.mean()


def test_planted_hotspots_stand_out(town: DemoTownship) -> None:
    hs = town.planted_hotspots
    assert len(hs) == 4
    assert set(hs["category_code"]) == {"01", "04", "05", "06"}
    assert hs["radius_m"].between(60, 120).all()
    inc = town.incidents.to_crs(METRIC)
    town_density = len(inc) / town.villages.to_crs(METRIC).area.sum()
    centres = gpd.GeoSeries(gpd.points_from_xy(hs["lon"], hs["lat"]), crs="EPSG:4490")
    for (_, h), c in zip(hs.iterrows(), centres.to_crs(METRIC), strict=True):
        near = inc[inc.distance(c) <= h["radius_m"]]
        density = len(near) / (np.pi * h["radius_m"] ** 2)
        assert density > 3 * town_density, h["name"]
        cat = near["category_code"] == h["category_code"]
        share = (inc["category_code"] == h["category_code"]).mean()
        assert cat.mean() > 2.5 * share, h["name"]


def test_ids_in_titles_are_chinese(town: DemoTownship) -> None:
    assert town.incidents["title"].map(lambda s: bool(re.search(r"[\u4e00-\u9fff]", s))).all()
