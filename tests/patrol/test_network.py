"""Lane network building: junction splitting, snapping, components, inserted points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.demo import generate
from layers.patrol.errors import PatrolInputError
from layers.patrol.network import build_network

METRIC = "EPSG:4548"


def _gdf(lines, keys=None):
    keys = keys or [f"K{i}" for i in range(len(lines))]
    return gpd.GeoDataFrame({"key": keys}, geometry=[shapely.LineString(c) for c in lines],
                            crs=METRIC)  # fmt: skip


def test_t_and_x_junctions_are_split():
    street = _gdf([[(0, 0), (200, 0)], [(100, -100), (100, 100)]], ["S1", "S2"])
    lanes = _gdf([[(50, 0), (50, 80)]], ["L1"])
    net = build_network(lanes, street)
    # Street 1 split at x=50 (T) and x=100 (X); street 2 split at y=0; lane whole.
    assert net.n_edges == 6
    assert net.total_length == pytest.approx(200 + 200 + 80)
    deg = np.sort(net.degree())
    assert list(deg) == [1, 1, 1, 1, 1, 3, 4]
    assert set(net.kind) == {"street", "lane"}
    assert set(net.key) == {"S1", "S2", "L1"}


def test_short_ends_are_snapped():
    street = _gdf([[(0, 0), (200, 0)]])
    lanes = _gdf([[(60, 0.7), (60, 90)], [(120, 3.0), (120, 90)]])
    net = build_network(lanes, street, snap_m=1.0)
    n, _, _ = net.components()
    assert n == 2  # the lane 3 m short stays apart, the one 0.7 m short is joined
    joined = build_network(lanes, street, snap_m=5.0)
    assert joined.components()[0] == 1


def test_geographic_crs_refused():
    lanes = _gdf([[(0, 0), (1, 1)]]).set_crs("EPSG:4490", allow_override=True)
    with pytest.raises(PatrolInputError, match="metric CRS"):
        build_network(lanes)


def test_empty_area_refused():
    lanes = _gdf([[(0, 0), (100, 0)]])
    with pytest.raises(PatrolInputError, match="no lanes"):
        build_network(lanes, area=shapely.box(500, 500, 600, 600))


def test_insert_points_splits_edges():
    lanes = _gdf([[(0, 0), (100, 0)]])
    net = build_network(lanes)
    new, nodes, off = net.insert_points(np.array([30.0, 60.0, 99.5]), np.array([5.0, -2.0, 0.0]))
    assert new.n_edges == 3
    assert new.total_length == pytest.approx(100.0)
    assert np.allclose(off, [5.0, 2.0, 0.0])
    assert np.allclose(new.node_xy[nodes[:2]], [[30, 0], [60, 0]])
    assert nodes[2] == net.v[0]


def test_demo_villages_are_connected_parts():
    t = generate(seed=20261101, households=8000)
    lanes, streets = t.lanes.to_crs(METRIC), t.streets.to_crs(METRIC)
    net = build_network(lanes, streets)
    assert net.total_length == pytest.approx(lanes.length.sum() + streets.length.sum())
    assert net.components()[0] == len(t.villages)
    village = t.villages.to_crs(METRIC).geometry.iloc[0]
    one = build_network(lanes, streets, area=village)
    assert one.components()[0] == 1
