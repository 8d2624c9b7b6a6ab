"""File import and export on real GeoJSON, GeoPackage, Shapefile and CSV files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point, Polygon, box
from sqlalchemy import text

from layers.transfer import TransferError, export_layer, import_layer
from layers.transfer.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

V1 = box(116.100, 38.200, 116.110, 38.210)
V2 = box(116.120, 38.200, 116.130, 38.210)
BOWTIE = Polygon([(116.14, 38.20), (116.15, 38.21), (116.15, 38.20), (116.14, 38.21)])


def villages_gdf(crs: int = 4326) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {"code": ["130999100201", "130999100202"], "name": ["东辛庄村", "西辛庄村"]},
        geometry=[V1, V2],
        crs=4326,
    )
    return gdf.to_crs(crs)


@pytest.fixture
def villages(session, tmp_path):
    path = tmp_path / "villages.geojson"
    villages_gdf().to_file(path)
    return import_layer(session, path, "villages")


def count(session, table: str) -> int:
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_villages_geojson_then_reimport_updates(session, tmp_path, villages):
    assert villages["inserted"] == 2
    assert villages["updated"] == 0
    assert session.execute(text("SELECT code FROM town")).scalar_one() == "130999100"
    path = tmp_path / "again.gpkg"
    villages_gdf(4548).to_file(path, layer="villages")  # a metric CRS, reprojected on import
    report = import_layer(session, path, "villages")
    assert report["updated"] == 2
    row = session.execute(
        text(
            "SELECT version, ST_XMin(geom), ST_YMax(geom) FROM village WHERE code = '130999100201'"
        )
    ).one()
    assert row[0] == 2
    assert row[1] == pytest.approx(116.100, abs=1e-7)
    assert row[2] == pytest.approx(38.210, abs=1e-7)


def test_self_intersecting_polygon_repaired_and_reported(session, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"code": ["130999100201", "130999100203"], "name": ["甲村", "乙村"]},
        geometry=[V1, BOWTIE],
        crs=4490,
    )
    path = tmp_path / "v.gpkg"
    gdf.to_file(path)
    report = import_layer(session, path, "villages")
    assert [r["row"] for r in report["repaired"]] == [2]
    assert "Self-intersection" in report["repaired"][0]["reason"]
    valid = session.execute(
        text(
            "SELECT ST_IsValid(geom) AND ST_Area(geom) > 0 FROM village WHERE code = '130999100203'"
        )
    ).scalar_one()
    assert valid


def test_unrepairable_polygon_refused_with_row_and_nothing_written(session, tmp_path):
    flat = Polygon([(116.1, 38.2), (116.2, 38.2), (116.3, 38.2), (116.1, 38.2)])  # no area
    gdf = gpd.GeoDataFrame(
        {"code": ["130999100201", "130999100204"], "name": ["甲村", "丙村"]},
        geometry=[V1, flat],
        crs=4490,
    )
    path = tmp_path / "v.geojson"
    gdf.to_file(path)
    with pytest.raises(TransferError, match="第 2 行"):
        import_layer(session, path, "villages")
    assert count(session, "village") == 0
    assert count(session, "town") == 0


def test_file_without_crs_refused_and_crs_option_accepted(session, tmp_path):
    path = tmp_path / "v.shp"
    villages_gdf(4548).to_file(path)
    (tmp_path / "v.prj").unlink()
    with pytest.raises(TransferError, match="--crs"):
        import_layer(session, path, "villages")
    with pytest.raises(TransferError, match="unknown CRS"):
        import_layer(session, path, "villages", source_crs="EPSG:999999")
    assert import_layer(session, path, "villages", source_crs="EPSG:4548")["inserted"] == 2


def test_wrong_crs_detected(session, tmp_path):
    path = tmp_path / "v.gpkg"
    gdf = villages_gdf(4548)
    gdf.set_crs(4326, allow_override=True).to_file(path)  # metres labelled as degrees
    with pytest.raises(TransferError, match="outside China"):
        import_layer(session, path, "villages")


def test_no_geometry_refused(session, tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"address": ["甲村1号"], "people": [3]}).to_csv(path, index=False)
    with pytest.raises(TransferError, match="lon and lat"):
        import_layer(session, path, "households")
    table = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1]}), table, layer="t", driver="GPKG")
    with pytest.raises(TransferError, match="no geometry"):
        import_layer(session, table, "villages")


def test_gbk_shapefile_without_cpg(session, tmp_path, villages):
    path = tmp_path / "lanes.shp"
    gdf = gpd.GeoDataFrame(
        {"name": ["刘家胡同", "王家巷"]},
        geometry=[
            LineString([(116.101, 38.201), (116.109, 38.201)]),
            LineString([(116.121, 38.205), (116.129, 38.205)]),
        ],
        crs=4490,
    )
    gdf.to_file(path, encoding="GBK")
    (tmp_path / "lanes.cpg").unlink(missing_ok=True)
    raw = (tmp_path / "lanes.dbf").read_bytes()
    assert "刘家胡同".encode("gbk") in raw  # really a GBK file
    report = import_layer(session, path, "lanes", encoding="GBK")
    assert report["inserted"] == 2
    rows = session.execute(
        text(
            "SELECT l.name, v.code FROM lane l JOIN village v ON v.id = l.village_id ORDER BY l.id"
        )
    ).all()
    assert rows == [("刘家胡同", "130999100201"), ("王家巷", "130999100202")]


def test_households_csv_and_point_outside_every_village(session, tmp_path, villages):
    path = tmp_path / "hh.csv"
    df = pd.DataFrame(
        {
            "地址": ["东辛庄村1号", "西辛庄村2号"],
            "人口": [4, 3],
            "经度": [116.105, 116.125],
            "纬度": [38.205, 38.205],
        }
    )
    df.to_csv(path, index=False)
    assert import_layer(session, path, "households")["inserted"] == 2
    bad = pd.concat(
        [df, pd.DataFrame({"地址": ["野外"], "人口": [1], "经度": [116.5], "纬度": [38.5]})]
    )
    bad.to_csv(path, index=False)
    with pytest.raises(TransferError, match="第 3 行") as exc:
        import_layer(session, path, "households")
    assert "outside every village" in str(exc.value)
    assert count(session, "household") == 2  # the refused file added nothing


def test_gcj02_input_converted(session, tmp_path, villages):
    lon, lat = 116.105, 38.205
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert abs(glon - lon) > 1e-4  # the offset is real (hundreds of metres)…
    back = gcj02_to_wgs84(glon, glat)
    assert np.allclose(back, (lon, lat), atol=1e-8)  # …and undone to well under a metre
    path = tmp_path / "hh.geojson"
    gpd.GeoDataFrame({"address": ["东辛庄村3号"]}, geometry=[Point(glon, glat)], crs=4326).to_file(
        path
    )
    import_layer(session, path, "households", source_crs="gcj02")
    x, y = session.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM household")).one()
    assert (x, y) == pytest.approx((lon, lat), abs=1e-7)


def test_grids_three_levels_and_export_round_trip(session, tmp_path, villages):
    v = "130999100201"
    grids = gpd.GeoDataFrame(
        {
            "code": [v + "0000", v + "0100", v + "0200", v + "0101"],
            "level": [1, 2, 2, 3],
            "parent_code": [None, v + "0000", v + "0000", v + "0100"],
            "name": ["一级", "二级甲", "二级乙", "三级"],
        },
        geometry=[
            V1,
            box(116.100, 38.200, 116.105, 38.210),
            box(116.105, 38.200, 116.110, 38.210),
            box(116.100, 38.200, 116.105, 38.205),
        ],
        crs=4490,
    )
    # Children listed before their parents on purpose: the importer orders by level.
    path = tmp_path / "grids.gpkg"
    grids.iloc[::-1].to_file(path)
    assert import_layer(session, path, "grids")["inserted"] == 4
    for ext in (".gpkg", ".geojson", ".shp", ".csv"):
        out = tmp_path / f"out{ext}"
        assert export_layer(session, out, "grids") == 4
        back = (
            pd.read_csv(out, dtype={"code": str, "parent": str})
            if ext == ".csv"
            else gpd.read_file(out)
        )
        assert sorted(back["code"].astype(str)) == sorted(grids["code"])
        assert sorted(back["level"].astype(int)) == [1, 2, 2, 3]


def test_grid_with_missing_parent_refused(session, tmp_path, villages):
    path = tmp_path / "g.geojson"
    gpd.GeoDataFrame(
        {
            "code": ["1309991002019900"],
            "level": [2],
            "parent_code": ["1309991002018800"],
            "name": ["孤儿"],
        },
        geometry=[V1],
        crs=4490,
    ).to_file(path)
    with pytest.raises(TransferError, match="1309991002018800"):
        import_layer(session, path, "grids")
