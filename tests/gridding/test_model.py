"""The estimator on synthetic townships: guarantees, polygons, reports, CRS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridding import Bounds, Gridder, GriddingInputError, Scheme
from gridding.metrics import contiguous_areas

from .conftest import villages_of


def test_every_household_in_exactly_one_area(town, solved):
    a = solved.assignments_
    assert len(a) == len(town.households)
    assert a["household_id"].is_unique
    assert set(a["household_id"]) == set(town.households["key"])
    assert a["area_id"].notna().all()
    assert set(a["area_id"]) == set(solved.lane_areas_["area_id"])


def test_bounds_and_contiguity(solved):
    la = solved.lane_areas_
    assert la["households"].between(15, 20).all()
    assert la["contiguous"].all()
    g = solved.graph_
    assert contiguous_areas(g, solved.labels_nodes_).all()
    counts = solved.assignments_.groupby("area_id").size()
    assert (counts.loc[la["area_id"]].to_numpy() == la["households"].to_numpy()).all()


def test_quality_figures(solved):
    s = solved.summary_
    assert s["share_in_bounds"] == 1.0
    assert s["share_contiguous"] == 1.0
    assert s["barrier_share"] <= 0.02
    assert s["mean_polsby_popper"] > 0.5


def test_polygons_single_part_disjoint_and_holding_their_households(town, solved):
    la = solved.lane_areas_.to_crs("EPSG:4548")
    geoms = np.asarray(la.geometry.values, dtype=object)
    assert (shapely.get_type_id(geoms) == 3).all()  # Polygon
    assert shapely.is_valid(geoms).all()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="overlaps")
    overlap = shapely.area(shapely.intersection(geoms[a[a != b]], geoms[b[a != b]]))
    assert (overlap < 1e-3).all()
    hh = town.households.to_crs("EPSG:4548").merge(
        solved.assignments_, left_on="key", right_on="household_id"
    )
    poly = la.set_index("area_id").geometry.loc[hh["area_id"]].values
    assert shapely.covers(np.asarray(poly, dtype=object), hh.geometry.values).all()


def test_street_areas_and_party_groups(solved):
    la = solved.lane_areas_
    streets = la.groupby("street_area_id").size()
    assert len(streets) == len(solved.street_areas_)
    assert (solved.street_areas_["lane_areas"].to_numpy() == streets.to_numpy()).all()
    groups = la.groupby("party_group_id")
    # Party groups nest in street areas and pair lane areas (three where odd).
    assert (groups["street_area_id"].nunique() == 1).all()
    assert groups.size().between(1, 3).all()
    assert (groups.size() == 2).mean() > 0.6


def test_infeasible_villages_reported_with_closest_answer():
    hh, villages = villages_of([12, 25, 40, 100])
    m = Gridder(hh, villages=villages, id_column="key").solve()
    rep = m.villages_.set_index("village")
    assert not rep.loc["V0", "feasible"]
    assert not rep.loc["V1", "feasible"]
    assert rep.loc["V2", "feasible"]
    assert rep.loc["V3", "feasible"]
    assert "cannot be split" in rep.loc["V0", "notes"]
    la = m.lane_areas_.set_index("village")
    assert la.loc[["V0"], "households"].tolist() == [12]
    assert sorted(la.loc[["V1"], "households"].tolist()) in ([25], [12, 13])
    assert la.loc[["V2", "V3"], "households"].between(15, 20).all()
    assert m.summary_["infeasible_villages"] == 2
    assert la["contiguous"].all()


@pytest.mark.parametrize("n", range(21, 30))
def test_connected_21_to_29_cannot_be_split(n):
    hh, villages = villages_of([n])
    m = Gridder(hh, villages=villages).solve()
    assert not m.villages_["feasible"].iloc[0]
    assert m.lane_areas_["contiguous"].all()
    assert m.lane_areas_["households"].sum() == n


def test_deterministic_for_a_seed(town):
    def run(seed):
        return (
            Gridder(
                town.households,
                villages=town.villages,
                barriers=town.barriers,
                id_column="key",
                seed=seed,
                polygons=False,
            )
            .solve()
            .assignments_
        )

    assert run(5).equals(run(5))


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4548", "EPSG:32650"])
def test_input_crs_does_not_matter(crs):
    hh, villages = villages_of([60, 95], crs="EPSG:4490")
    base = Gridder(hh, villages=villages, id_column="key").solve()
    other = Gridder(hh.to_crs(crs), villages=villages.to_crs(crs), id_column="key").solve()
    assert base.summary_["crs"] == other.summary_["crs"] == "EPSG:4548"
    assert other.lane_areas_.crs == crs
    assert base.assignments_["area_id"].tolist() == other.assignments_["area_id"].tolist()


def test_weights_count_households():
    hh, villages = villages_of([60])
    hh["n"] = 1
    hh.loc[:9, "n"] = 3
    m = Gridder(hh, villages=villages, weight_column="n").solve()
    assert m.summary_["households"] == 80
    assert m.lane_areas_["households"].between(15, 20).all()
    hh.loc[0, "n"] = 21
    with pytest.raises(GriddingInputError, match="above the area maximum"):
        Gridder(hh, villages=villages, weight_column="n").solve()


def test_other_scheme_bounds():
    hh, villages = villages_of([300])
    scheme = Scheme(lane=Bounds(8, 12), street=Bounds(3, 5))
    m = Gridder(hh, villages=villages, scheme=scheme).solve()
    assert m.lane_areas_["households"].between(8, 12).all()
    assert m.street_areas_["lane_areas"].between(3, 5).all()


def test_duplicates_merged_and_strays_joined():
    hh, villages = villages_of([40])
    hh = hh.copy()
    hh.loc[5, "geometry"] = hh.geometry.iloc[4]
    hh.loc[6, "geometry"] = shapely.Point(hh.geometry.iloc[6].x + 500, hh.geometry.iloc[6].y)
    m = Gridder(hh, villages=villages, id_column="key").solve()
    assert m.summary_["duplicates_merged"] == 1
    assert m.summary_["outside_villages"] == 1
    a = m.assignments_.set_index("household_id")["area_id"]
    assert a["h4"] == a["h5"]
    assert m.lane_areas_["households"].sum() == 40
