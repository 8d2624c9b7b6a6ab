"""Captain areas for the demo: the gridding engine's areas, coded, with synthetic captains.

The areas come from :class:`gridding.Gridder` (包片联户 bounds), exactly as
``wangge grid run`` makes them for real data; this module only codes them
(``<village>-L001`` lane areas, ``-S01`` street areas, ``-P001`` party groups)
and picks the synthetic people who hold the duties: the household head living
nearest the middle of each area, as a township would pick a known neighbour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gridding import Gridder
from gridding.model import BAOPIAN_LIANHU
from layers.db import METRIC_SRID, SRID
from layers.demo.generate import DemoTownship


@dataclass(frozen=True)
class CaptainPlan:
    """Areas (all three levels), member households and duties, ready to load."""

    areas: gpd.GeoDataFrame  # code, level, name, village_code, street_code, party_code,
    #                          min_size, max_size, households, geometry (EPSG:4490)
    members: pd.DataFrame  # household_key, area_code (lane level)
    duties: pd.DataFrame  # person_key, role, area_code
    infeasible_villages: list[str]
    params_json: str
    summary_json: str


def plan_captains(town: DemoTownship, *, seed: int) -> CaptainPlan:
    """Partition the demo households into captain areas and assign captains.

    Parameters
    ----------
    town
        The generated township.
    seed
        Seed for the partition (deterministic).
    """
    model = Gridder(
        town.households,
        villages=town.villages,
        lanes=town.lanes,
        streets=town.streets,
        barriers=town.barriers,
        id_column="key",
        village_column="village_code",
        village_id_column="code",
        seed=seed,
    ).solve()
    scheme = BAOPIAN_LIANHU
    lane = model.lane_areas_.to_crs(SRID)
    lane_code, street_code, party_code = _codes(lane)
    areas = pd.concat(
        [
            _frame(lane, lane_code.values, "lane", "巷长区", scheme.lane, street_code, party_code),
            _frame(
                _grouped(model.street_areas_, "street_area_id", lane, street_code),
                None,
                "street",
                "街长区",
                scheme.street,
            ),
            _frame(
                _grouped(model.party_groups_, "party_group_id", lane, party_code),
                None,
                "party_group",
                "党小组",
                scheme.party,
            ),
        ],
        ignore_index=True,
    )
    assignments = model.assignments_
    members = pd.DataFrame(
        {
            "household_key": assignments["household_id"].to_numpy(),
            "area_code": assignments["area_id"].map(lane_code).to_numpy(),
        }
    )
    duties = _duties(town, areas, members)
    infeasible = model.villages_.loc[~model.villages_["feasible"], "village"].astype(str).tolist()
    summary = {k: v for k, v in model.summary_.items() if k != "notes"}
    return CaptainPlan(
        areas=areas,
        members=members,
        duties=duties,
        infeasible_villages=infeasible,
        params_json=json.dumps(
            {"scheme": "包片联户", "lane": [15, 20], "street": [6, 8], "seed": seed},
            ensure_ascii=False,
        ),
        summary_json=json.dumps(summary, ensure_ascii=False, default=str),
    )


def _codes(lane: gpd.GeoDataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Codes numbered within each village, in the engine's order."""
    village = lane["village"].astype(str)
    n = lane.groupby("village").cumcount() + 1
    lane_code = pd.Series(
        (village + "-L" + n.map("{:03d}".format)).to_numpy(), index=lane["area_id"]
    )
    street_code = _group_codes(lane, "street_area_id", "S", "{:02d}")
    party_code = _group_codes(lane, "party_group_id", "P", "{:03d}")
    return lane_code, street_code, party_code


def _group_codes(lane: gpd.GeoDataFrame, key: str, letter: str, fmt: str) -> pd.Series:
    first = lane.groupby(key)["village"].first().astype(str)
    n = first.groupby(first).cumcount() + 1
    return first + f"-{letter}" + n.map(fmt.format)


def _grouped(groups: gpd.GeoDataFrame, key: str, lane: gpd.GeoDataFrame, codes: pd.Series):
    out = groups.to_crs(SRID).copy()
    out["code"] = out[key].map(codes)
    out["households"] = out[key].map(lane.groupby(key)["households"].sum())
    return out


def _frame(df, codes, level, label, bounds, street_code=None, party_code=None) -> gpd.GeoDataFrame:
    codes = df["code"].to_numpy() if codes is None else codes
    n = pd.Series(codes).str.rsplit("-", n=1).str[1].str[1:].astype(int)
    frame = gpd.GeoDataFrame(
        {
            "code": codes,
            "level": level,
            "name": [f"{label}{i}" for i in n],
            "village_code": df["village"].astype(str).to_numpy(),
            "street_code": df["street_area_id"].map(street_code).to_numpy()
            if street_code is not None
            else None,
            "party_code": df["party_group_id"].map(party_code).to_numpy()
            if party_code is not None
            else None,
            "min_size": bounds.lo,
            "max_size": bounds.hi,
            "households": df["households"].astype(int).to_numpy(),
        },
        geometry=df.geometry.to_numpy(),
        crs=SRID,
    )
    return frame


def _duties(town: DemoTownship, areas: gpd.GeoDataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """Captains: the household head nearest each area's middle, nobody holding two captaincies."""
    # The first person of a household is its head (others are team members living there).
    heads = (
        town.persons.dropna(subset=["household_key"])
        .drop_duplicates("household_key")
        .set_index("household_key")["key"]
    )
    hh = town.households.set_index("key").to_crs(METRIC_SRID)
    xy = np.column_stack([hh.geometry.x, hh.geometry.y])
    pos = pd.Series(np.arange(len(hh)), index=hh.index)
    members_of = members.groupby("area_code")["household_key"].apply(list)
    metric = areas.to_crs(METRIC_SRID)
    taken: set[str] = set()
    rows = []
    # Lane captains first (they must live in their area), then street captains and
    # party group members from the lane areas they group.
    lane_of_group = {
        "street": areas.set_index("code")["street_code"],
        "party_group": areas.set_index("code")["party_code"],
    }
    for level, role, count in (
        ("lane", "lane_captain", 1),
        ("street", "street_captain", 1),
        ("party_group", "party_group_member", 3),
    ):
        for code, centre in zip(
            metric.loc[metric["level"] == level, "code"],
            metric.loc[metric["level"] == level].geometry.representative_point(),
            strict=True,
        ):
            if level == "lane":
                keys = members_of.get(code, [])
            else:
                lanes = lane_of_group[level]
                keys = [k for lc in lanes.index[lanes == code] for k in members_of.get(lc, [])]
            keys = [k for k in keys if k in heads.index and heads[k] not in taken]
            if not keys:
                continue
            d = np.hypot(*(xy[pos[keys].to_numpy()] - [centre.x, centre.y]).T)
            for i in np.argsort(d, kind="stable")[:count]:
                person = heads[keys[i]]
                taken.add(person)
                rows.append({"person_key": person, "role": role, "area_code": code})
    return pd.DataFrame(rows, columns=["person_key", "role", "area_code"])
