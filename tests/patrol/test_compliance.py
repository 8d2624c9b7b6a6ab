"""Track compliance on synthetic noisy tracks: checkpoints, dwell, lane coverage, months."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from layers.demo import generate
from layers.patrol.compliance import check_track, clean_track, monthly_coverage
from layers.patrol.errors import PatrolInputError
from layers.patrol.matching import match_track
from layers.patrol.network import build_network
from layers.patrol.postman import chinese_postman
from layers.patrol.synthetic import simulate_track

METRIC = "EPSG:4548"


@pytest.fixture(scope="module")
def villages():
    t = generate(seed=20261101, households=8000)
    lanes, streets = t.lanes.to_crs(METRIC), t.streets.to_crs(METRIC)
    outlines = t.villages.to_crs(METRIC).geometry
    return [build_network(lanes, streets, area=outlines.iloc[i]) for i in range(0, 19, 3)]


def test_checkpoints_and_lanes_on_noisy_tracks(villages):
    tp = fp = fn = 0
    errors = []
    for k, net in enumerate(villages):
        rng = np.random.default_rng(k)
        lane = net.kind == "lane"
        walked = ~lane | (rng.random(net.n_edges) < 0.7)
        sub = net.subnetwork(walked)
        if sub.components()[0] != 1:
            continue
        line = chinese_postman(sub, base=0).parts[0].geometry
        # Checkpoints part-way along every lane (lanes are 35–45 m apart).
        frac = rng.uniform(0.3, 0.9, lane.sum())
        cps = shapely.get_coordinates(
            shapely.line_interpolate_point(net.geometry[lane], frac, normalized=True)
        )
        truth = walked[lane]
        stay = np.flatnonzero(truth)[:2]
        along = shapely.line_locate_point(line, shapely.points(cps[stay]))
        x, y, t = simulate_track(line, interval_s=15, sigma_m=10,
                                 stops=[(a, 660.0) for a in along], seed=k)  # fmt: skip
        need = np.zeros(len(cps))
        need[stay] = 600
        rep = check_track(x, y, t, checkpoints=cps, min_dwell_s=need, lanes=net.geometry)
        v = rep.checkpoints["visited"].to_numpy()
        tp += (v & truth).sum()
        fp += (v & ~truth).sum()
        fn += (~v & truth).sum()
        assert rep.checkpoints.loc[stay, "dwell_ok"].all()
        assert (rep.checkpoints.loc[stay, "dwell_s"] >= 600).all()
        true_share = net.length[walked].sum() / net.length.sum()
        errors.append(abs(rep.lane_share - true_share))
        assert rep.n_outliers > 0
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.97
    assert max(errors) <= 0.02  # map matching: the 2 points at 15 s fixes


def _ladder():
    """Two parallel lanes 40 m apart joined at both ends, and a 20 m dead end."""
    lines = [
        shapely.LineString([(0, 0), (300, 0)]),
        shapely.LineString([(0, 40), (300, 40)]),
        shapely.LineString([(0, 0), (0, 40)]),
        shapely.LineString([(300, 0), (300, 40)]),
        shapely.LineString([(150, 0), (150, -20)]),
    ]
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"key": range(len(lines))}, geometry=lines, crs=METRIC)
    return lines, build_network(gdf, snap_m=0)


def test_matching_keeps_to_the_walked_lane_at_sparse_fixes():
    _lines, net = _ladder()
    walk = shapely.LineString([(0, 0), (300, 0)])
    walked = np.zeros(net.n_edges, dtype=bool)
    for seed in range(5):
        x, y, _ = simulate_track(walk, interval_s=15, sigma_m=10, outlier_share=0, seed=seed)
        m = match_track(net, np.column_stack([x, y]))
        bottom = net.key == 0
        top = net.key == 1
        # The ends depend on where the first and last noisy fixes fall.
        assert m.covered_m[bottom].sum() >= 0.8 * net.length[bottom].sum()
        assert m.covered_m[top].sum() == 0.0  # the parallel lane 40 m away is not walked
        walked |= m.covered_m > 0
    assert not walked[net.key == 1].any()


def test_an_outlier_beside_the_other_lane_is_skipped():
    _lines, net = _ladder()
    walk = shapely.LineString([(0, 0), (300, 0)])
    x, y, _ = simulate_track(walk, interval_s=15, sigma_m=3, outlier_share=0, seed=1)
    x, y = x.copy(), y.copy()
    y[8] = 42.0  # one fix right on the parallel lane
    m = match_track(net, np.column_stack([x, y]))
    assert m.covered_m[net.key == 1].sum() == 0.0
    assert m.covered_m[net.key == 0].sum() >= 0.9 * 300


def test_network_checks_only_the_assigned_edges():
    lines, net = _ladder()
    walk = shapely.LineString([(0, 0), (150, 0), (150, -20), (150, 0), (300, 0), (300, 40)])
    x, y, t = simulate_track(walk, interval_s=5, sigma_m=5, outlier_share=0, seed=2)
    stub = np.flatnonzero(net.key == 4)
    top = np.flatnonzero(net.key == 1)
    rep = check_track(x, y, t, network=net, lane_edges=np.r_[stub, top])
    assert len(rep.lanes) == len(stub) + len(top)
    assert rep.lanes["walked"].tolist() == [True] * len(stub) + [False] * len(top)
    # The buffer method is still there on request.
    old = check_track(x, y, t, lanes=lines, match=False)
    assert old.lanes["walked"].tolist()[:2] == [True, False]


def test_dwell_planned_times_and_summary():
    line = shapely.LineString([(0, 0), (400, 0)])
    x, y, t = simulate_track(line, sigma_m=3, interval_s=10, outlier_share=0,
                             stops=[(200.0, 720.0)], t0=1000.0)  # fmt: skip
    rep = check_track(x, y, t, checkpoints=np.array([[200.0, 0.0], [200.0, 200.0]]),
                      min_dwell_s=600, lanes=[line], planned_start_s=900.0,
                      planned_arrive_s=np.array([1100.0, 1500.0]))  # fmt: skip
    cp = rep.checkpoints
    assert list(cp["visited"]) == [True, False]
    assert cp.loc[0, "dwell_s"] == pytest.approx(720, abs=40)
    assert cp.loc[0, "delay_s"] == pytest.approx(1000 + 200 / 1.1 - 1100, abs=30)
    assert rep.start_delay_s == pytest.approx(100.0)
    assert rep.lane_share == pytest.approx(1.0)
    s = rep.summary()
    assert s["checkpoints_visited"] == 1
    assert s["dwell_ok"] == 1
    assert s["lanes_walked"] == 1


def test_outliers_are_dropped():
    x = np.arange(20) * 10.0
    y = np.zeros(20)
    y[7] = 300.0
    keep, xy = clean_track(x, y)
    assert not keep[7]
    assert keep.sum() == 19
    assert np.abs(xy[:, 1]).max() < 1e-9


def test_too_short_track():
    with pytest.raises(PatrolInputError, match="too few"):
        check_track(np.array([0.0]), np.array([0.0]))


def test_monthly_coverage():
    checks = pd.DataFrame(
        {
            "patrol": ["夕阳红", "夕阳红", "夕阳红", "巡防队"],
            "area": ["A", "A", "A", "A"],
            "started_at": pd.to_datetime(
                [
                    "2026-10-31T17:00:00Z",
                    "2026-10-30T01:00:00Z",
                    "2026-10-15T01:00:00Z",
                    "2026-10-02T01:00:00Z",
                ]
            ),
            "lane_length_m": [1000.0, 1000.0, 2000.0, 1000.0],
            "lane_share": [1.0, 0.5, 0.25, 0.8],
            "checkpoints_visited": [4, 2, 3, 5],
            "checkpoints_total": [5, 5, 5, 5],
            "dwell_ok": [4, 1, 3, 5],
        }
    )
    out = monthly_coverage(checks)
    # 2026-10-31 17:00 UTC is already November in Beijing.
    assert set(out["month"]) == {"2026-10", "2026-11"}
    octo = out[(out["patrol"] == "夕阳红") & (out["month"] == "2026-10")].iloc[0]
    assert octo["patrols"] == 2
    assert octo["lane_share"] == pytest.approx((500 + 500) / 3000)
    assert octo["checkpoint_share"] == pytest.approx(0.5)
    with pytest.raises(PatrolInputError, match="missing columns"):
        monthly_coverage(checks.drop(columns=["area"]))
