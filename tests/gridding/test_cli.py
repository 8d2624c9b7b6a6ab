"""``python -m gridding partition`` end to end on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gridding.cli import main

from .conftest import villages_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory, town):
    d = tmp_path_factory.mktemp("in")
    paths = {
        "households": d / "hh.gpkg",
        "villages": d / "villages.geojson",
        "lanes": d / "lanes.shp",
        "barriers": d / "barriers.gpkg",
    }
    pyogrio.write_dataframe(town.households, paths["households"])
    pyogrio.write_dataframe(town.villages, paths["villages"])
    pyogrio.write_dataframe(town.lanes[["key", "geometry"]], paths["lanes"])
    pyogrio.write_dataframe(town.barriers, paths["barriers"])
    return paths


def _run(capsys, *args):
    code = main(["partition", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_partition_files(files, tmp_path, capsys, town):
    out = tmp_path / "out.gpkg"
    code, stdout, err = _run(
        capsys,
        files["households"],
        "--out",
        out,
        "--villages",
        files["villages"],
        "--lanes",
        files["lanes"],
        "--barriers",
        files["barriers"],
        "--id-column",
        "key",
        "--seed",
        "1",
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["share_in_bounds"] == 1.0
    assert summary["share_contiguous"] == 1.0
    for key in ("lane_areas", "mean_polsby_popper", "street_crossing_share", "seconds"):
        assert key in summary
    layers = dict(pyogrio.list_layers(out))
    assert {"lane_areas", "street_areas", "assignments"} <= set(layers)
    lane = pyogrio.read_dataframe(out, layer="lane_areas")
    assert {"area_id", "households", "street_area_id", "party_group_id"} <= set(lane.columns)
    assert (lane.geom_type == "Polygon").all()
    street = pyogrio.read_dataframe(out, layer="street_areas")
    assert {"street_area_id", "lane_areas"} <= set(street.columns)
    assign = pyogrio.read_dataframe(out, layer="assignments")
    assert sorted(assign["household_id"]) == sorted(town.households["key"])
    assert set(assign["area_id"]) == set(lane["area_id"])


def test_defaults_without_optional_layers(tmp_path, capsys):
    hh, _ = villages_of([100])
    path = tmp_path / "hh.geojson"
    pyogrio.write_dataframe(hh.to_crs("EPSG:3857"), path)
    code, stdout, err = _run(
        capsys, path, "--out", tmp_path / "o.gpkg", "--min", "10", "--max", "14"
    )
    assert code == 0, err
    assert json.loads(stdout)["share_in_bounds"] == 1.0
    lane = pyogrio.read_dataframe(tmp_path / "o.gpkg", layer="lane_areas")
    assert lane["households"].between(10, 14).all()


def _bad_inputs(tmp_path):
    hh, _villages = villages_of([40])
    cases = {}
    empty = tmp_path / "empty.gpkg"
    pyogrio.write_dataframe(hh.iloc[:0], empty)
    cases["empty"] = ([empty], "no features")
    csv = tmp_path / "table.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(csv, index=False)
    cases["no geometry"] = ([csv], "no geometry")
    nan = hh.copy()
    nan.loc[3, "geometry"] = shapely.Point(float("nan"), float("nan"))
    nan_path = tmp_path / "nan.gpkg"
    pyogrio.write_dataframe(nan, nan_path)
    cases["nan"] = ([nan_path], "household")
    heavy = hh.copy()
    heavy["n"] = 1
    heavy.loc[0, "n"] = 99
    heavy_path = tmp_path / "heavy.gpkg"
    pyogrio.write_dataframe(heavy, heavy_path)
    cases["weight"] = ([heavy_path, "--weight-column", "n"], "above the area maximum")
    cases["missing"] = ([tmp_path / "nope.gpkg"], "no such file")
    cases["bounds"] = ([heavy_path, "--min", "20", "--max", "10"], "min <= max")
    return cases


def test_bad_inputs_give_a_message_not_a_traceback(tmp_path, capsys):
    for name, (args, message) in _bad_inputs(tmp_path).items():
        code, stdout, err = _run(capsys, *args, "--out", tmp_path / "o.gpkg")
        assert code == 2, (name, err)
        assert message in err, (name, err)
        assert "Traceback" not in err
        assert stdout == ""


def test_handled_irregularities_reported(tmp_path, capsys):
    hh, villages = villages_of([40])
    hh.loc[5, "geometry"] = hh.geometry.iloc[4]
    hh.loc[6, "geometry"] = shapely.Point(hh.geometry.iloc[6].x + 400, hh.geometry.iloc[6].y)
    pyogrio.write_dataframe(hh, tmp_path / "hh.gpkg")
    pyogrio.write_dataframe(villages, tmp_path / "v.gpkg")
    code, stdout, err = _run(
        capsys,
        tmp_path / "hh.gpkg",
        "--villages",
        tmp_path / "v.gpkg",
        "--out",
        tmp_path / "o.gpkg",
    )
    assert code == 0, err
    s = json.loads(stdout)
    assert s["duplicates_merged"] == 1
    assert s["outside_villages"] == 1
    assert len(s["notes"]) == 2


def test_infeasible_village_in_summary(tmp_path, capsys):
    hh, villages = villages_of([12, 60])
    pyogrio.write_dataframe(hh, tmp_path / "hh.gpkg")
    pyogrio.write_dataframe(villages, tmp_path / "v.gpkg")
    code, stdout, _ = _run(
        capsys,
        tmp_path / "hh.gpkg",
        "--villages",
        tmp_path / "v.gpkg",
        "--out",
        tmp_path / "o.gpkg",
    )
    assert code == 0
    s = json.loads(stdout)
    assert [v["village"] for v in s["infeasible"]] == ["V0"]


def test_subprocess_exit_status(tmp_path):
    hh, _ = villages_of([30])
    path = tmp_path / "hh.shp"
    pyogrio.write_dataframe(hh[["geometry"]], path)
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridding",
            "partition",
            str(path),
            "--out",
            str(tmp_path / "o.gpkg"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["lane_areas"] == 2
    empty = tmp_path / "e.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"), empty)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridding",
            "partition",
            str(empty),
            "--out",
            str(tmp_path / "o2.gpkg"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:")
    assert "Traceback" not in bad.stderr
