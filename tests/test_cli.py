"""The `wangge` console script, run as a user runs it: a subprocess with DATABASE_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from layers import migrate

WANGGE = Path(sys.executable).parent / "wangge"


@pytest.fixture(scope="module")
def cli_db(scratch_db, app_url_of) -> tuple[str, str]:
    url = scratch_db("wangge_test_cli")
    migrate.upgrade(url)
    return url, app_url_of(url)


def run(*args: str, url: tuple[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url[0],
        "WANGGE_APP_DATABASE_URL": url[1],
        "WANGGE_VAR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [str(WANGGE), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def load(frame: gpd.GeoDataFrame, layer: str, cli_db, tmp_path: Path):
    """Write ``frame`` as GeoJSON and import it into ``layer`` with the CLI; return the run."""
    path = tmp_path / f"{layer}.geojson"
    frame.to_file(path)
    out = run("import", str(path), "--layer", layer, url=cli_db, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    return out


def village(code: str, name: str, x: float, y: float) -> gpd.GeoDataFrame:
    """A 0.01° square village with its south-west corner at (x, y)."""
    return gpd.GeoDataFrame(
        {"code": [code], "name": [name]}, geometry=[box(x, y, x + 0.01, y + 0.01)], crs=4490
    )


def test_help_lists_commands(cli_db, tmp_path):
    out = run("--help", url=cli_db, tmp_path=tmp_path)
    assert out.returncode == 0
    for command in ("db", "demo", "import", "export", "run"):
        assert command in out.stdout


def test_import_export_and_a_clear_refusal(cli_db, tmp_path):
    out = load(
        village("130999200201", "命令行村", 116.2, 38.3).to_crs(4326), "villages", cli_db, tmp_path
    )
    assert json.loads(out.stdout)["inserted"] == 1

    gpkg = tmp_path / "out.gpkg"
    out = run("export", str(gpkg), "--layer", "villages", url=cli_db, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert gpd.read_file(gpkg, layer="villages")["name"].tolist() == ["命令行村"]

    nogeo = tmp_path / "plain.csv"
    nogeo.write_text("address,people\n甲村1号,3\n", encoding="utf-8")
    out = run("import", str(nogeo), "--layer", "households", url=cli_db, tmp_path=tmp_path)
    assert out.returncode == 1
    assert "经纬度" in out.stderr
    assert "Traceback" not in out.stderr


def test_export_unknown_extension_refused(cli_db, tmp_path):
    out = run("export", str(tmp_path / "x.xlsx"), "--layer", "grids", url=cli_db, tmp_path=tmp_path)
    assert out.returncode == 1
    assert "不支持的文件类型" in out.stderr
    assert "Traceback" not in out.stderr


def test_grid_run_stores_areas_and_reports_an_infeasible_village(cli_db, tmp_path):
    two = pd.concat(
        [
            village("130999300201", "大村", 116.30, 38.30),
            village("130999300202", "小村", 116.32, 38.30),
        ]
    )
    load(gpd.GeoDataFrame(two, crs=4490), "villages", cli_db, tmp_path)
    lines = ["address,people,lon,lat"]
    # 60 houses in rows of 10 in the big village, 12 in the small one.
    lines += [
        f"大村{i}号,3,{116.3005 + (i % 10) * 0.0008},{38.301 + (i // 10) * 0.0012}"
        for i in range(60)
    ]
    lines += [
        f"小村{i}号,2,{116.3205 + (i % 4) * 0.0008},{38.301 + (i // 4) * 0.0012}" for i in range(12)
    ]
    households = tmp_path / "hh.csv"
    households.write_text("\n".join(lines), encoding="utf-8")
    assert (
        run(
            "import", str(households), "--layer", "households", url=cli_db, tmp_path=tmp_path
        ).returncode
        == 0
    )

    out = run(
        "grid",
        "run",
        "--village",
        "130999300201",
        "--village",
        "130999300202",
        url=cli_db,
        tmp_path=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["households"] == 72
    assert summary["lane_areas"] == 4  # 60 → 3 areas of 20, 12 → one short area
    assert [v["village"] for v in summary["infeasible"]] == ["130999300202"]

    gpkg = tmp_path / "areas.gpkg"
    assert (
        run(
            "export", str(gpkg), "--layer", "captain_areas", url=cli_db, tmp_path=tmp_path
        ).returncode
        == 0
    )
    areas = gpd.read_file(gpkg)
    lane = areas[areas["level"] == "lane"]
    assert sorted(lane["households"]) == [12, 20, 20, 20]
    assert lane.geometry.is_valid.all()


def test_user_add_grant_revoke_list(cli_db, tmp_path):
    load(village("130999400201", "用户村", 116.4, 38.4), "villages", cli_db, tmp_path)
    add = ("user", "add", "wangwu", "--role", "grid_officer", "--area", "130999400201")
    weak = run(*add, "--password", "password2026", url=cli_db, tmp_path=tmp_path)
    assert weak.returncode == 1
    assert "密码" in weak.stderr
    ok = run(*add, "--password", "柳树下的老井二〇二六年春", url=cli_db, tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr
    grant = run(
        "user",
        "grant",
        "wangwu",
        "--role",
        "patrol_member",
        "--area",
        "130999400201",
        url=cli_db,
        tmp_path=tmp_path,
    )
    assert grant.returncode == 0, grant.stderr
    listed = run("user", "list", url=cli_db, tmp_path=tmp_path).stdout
    assert "grid_officer" in listed
    assert "patrol_member" in listed
    revoke = run(
        "user",
        "revoke",
        "wangwu",
        "--role",
        "patrol_member",
        "--area",
        "130999400201",
        url=cli_db,
        tmp_path=tmp_path,
    )
    assert revoke.returncode == 0
    assert "patrol_member" not in run("user", "list", url=cli_db, tmp_path=tmp_path).stdout
    unknown = run(
        "user",
        "grant",
        "wangwu",
        "--role",
        "king",
        "--area",
        "130999400201",
        url=cli_db,
        tmp_path=tmp_path,
    )
    assert unknown.returncode == 1
    assert "未知角色" in unknown.stderr


def test_patrol_plan_gpx_check_and_hotspots_refusal(cli_db, tmp_path):
    import numpy as np
    import shapely

    from layers.patrol.gpx import read_gpx, write_gpx
    from layers.patrol.synthetic import simulate_track

    code = "130999500201"
    load(village(code, "巡逻村", 116.50, 38.50), "villages", cli_db, tmp_path)
    rows = [
        shapely.LineString([(116.501, 38.501 + i * 0.002), (116.509, 38.501 + i * 0.002)])
        for i in range(4)
    ]
    rows += [
        shapely.LineString([(116.501 + i * 0.004, 38.501), (116.501 + i * 0.004, 38.507)])
        for i in range(3)
    ]
    lanes = gpd.GeoDataFrame(
        {"name": [f"巷{i}" for i in range(len(rows))]}, geometry=rows, crs=4490
    )
    load(lanes, "lanes", cli_db, tmp_path)

    plan = run("patrol", "plan", "--area", code, "--mode", "cover", url=cli_db, tmp_path=tmp_path)
    assert plan.returncode == 0, plan.stderr
    route = json.loads(plan.stdout)
    gpx_path = tmp_path / "route.gpx"
    assert (
        run(
            "patrol", "gpx", str(route["route_id"]), str(gpx_path), url=cli_db, tmp_path=tmp_path
        ).returncode
        == 0
    )
    planned = read_gpx(gpx_path.read_bytes())
    x, y, t = simulate_track(shapely.LineString(np.column_stack(planned.xy())), seed=2)
    walked = tmp_path / "walked.gpx"
    walked.write_text(
        write_gpx(shapely.LineString(np.column_stack([x, y])), crs="EPSG:4548", times=t)
    )
    check = run(
        "patrol", "check", str(route["route_id"]), str(walked), url=cli_db, tmp_path=tmp_path
    )
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["lane_share"] >= 0.95

    broken = tmp_path / "broken.gpx"
    broken.write_text("<gpx><trk>")
    out = run("patrol", "check", str(route["route_id"]), str(broken), url=cli_db, tmp_path=tmp_path)
    assert out.returncode == 1
    assert "GPX" in out.stderr
    assert "Traceback" not in out.stderr

    none = run(
        "hotspots",
        "run",
        "--since",
        "2001-01-01",
        "--until",
        "2001-12-31",
        url=cli_db,
        tmp_path=tmp_path,
    )
    assert none.returncode == 1
    assert "没有事件" in none.stderr


def test_hotspots_run_refuses_bad_input_in_both_languages(cli_db, tmp_path):
    for args, words in (
        (("--alpha", "2"), ("0 与 1 之间", "alpha")),
        (("--method", "emerging", "--since", "2026-09-01", "--until", "2026-10-31"), ("时间步",)),
    ):
        out = run("hotspots", "run", *args, url=cli_db, tmp_path=tmp_path)
        assert out.returncode == 1
        assert "Traceback" not in out.stderr
        assert all(w in out.stderr for w in words), out.stderr
        assert out.stderr.index(words[0]) < out.stderr.index(" / ")  # Chinese first
