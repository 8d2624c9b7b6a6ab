"""Track compliance on synthetic noisy tracks: checkpoints, dwell, lane coverage, months."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from layers.demo import generate
from layers.patrol.compliance import check_track, clean_track, monthly_coverage
from layers.patrol.errors import PatrolInputError
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
    assert max(errors) <= 0.03


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
