"""Incremental re-gridding: few households change captain, pinned areas untouched."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridding import Gridder


def _rerun(town, solved, households, pinned=()):
    current = solved.assignments_.set_index("household_id")["area_id"]
    return Gridder(
        households,
        villages=town.villages,
        lanes=town.lanes,
        streets=town.streets[~town.streets["is_main"]],
        barriers=town.barriers,
        id_column="key",
        seed=3,
        current=current,
        pinned=pinned,
    ).solve()


def test_no_change_changes_nothing(town, solved):
    again = _rerun(town, solved, town.households)
    assert again.summary_["changed_captain"] == 0
    assert again.summary_["areas_rebuilt"] == 0
    assert again.assignments_["area_id"].equals(solved.assignments_["area_id"])


def test_new_and_demolished_houses(town, solved):
    hh = town.households
    rng = np.random.default_rng(0)
    pinned = solved.lane_areas_["area_id"].iloc[:5].tolist()
    area = solved.assignments_.set_index("household_id").loc[hh["key"], "area_id"].to_numpy()
    free = np.flatnonzero(~np.isin(area, pinned))
    gone = rng.choice(len(hh), size=40, replace=False)
    kept = hh.drop(hh.index[gone])
    # 30 new houses next to existing ones outside the pinned areas.
    base = hh.iloc[rng.choice(free, size=30, replace=False)].to_crs("EPSG:4548")
    new = gpd.GeoDataFrame(
        {"key": [f"N{i}" for i in range(30)]},
        geometry=shapely.points(
            shapely.get_coordinates(base.geometry.values) + np.array([3.0, 3.0])
        ),
        crs="EPSG:4548",
    ).to_crs(hh.crs)
    now = pd.concat([kept, new], ignore_index=True)
    m = _rerun(town, solved, now, pinned)
    s = m.summary_
    la = m.lane_areas_
    # Pinned areas that lost households may fall below the minimum: left alone, reported.
    assert la.loc[~la["pinned"], "in_bounds"].all()
    assert la["contiguous"].all()
    assert len(s["incremental_notes"]) == (~la.loc[la["pinned"], "in_bounds"]).sum()
    assert s["new_households"] == 30
    assert s["gone_households"] == 40
    # Changes are local: far fewer than all households move.
    assert s["changed_captain"] <= 0.1 * len(kept), s
    assert s["areas_kept"] >= 0.7 * len(solved.lane_areas_)
    before = solved.assignments_.set_index("household_id")["area_id"]
    after = m.assignments_.set_index("household_id")["area_id"]
    for a in pinned:
        members_before = set(before.index[before == a]) & set(now["key"])
        assert set(after.index[after == a]) == members_before
    assert m.lane_areas_.set_index("area_id").loc[pinned, "pinned"].all()
