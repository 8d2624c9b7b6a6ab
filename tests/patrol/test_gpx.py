"""GPX: round trip of routes and tracks, and each kind of bad upload."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from layers.patrol.errors import PatrolInputError
from layers.patrol.gpx import MAX_GPX_BYTES, read_gpx, write_gpx

AREA = shapely.box(116.09, 38.19, 116.11, 38.21)


def _track(points: str) -> str:
    return (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>巡逻</name><trkseg>{points}</trkseg></trk></gpx>"
    )


def test_round_trip_track_with_times(tmp_path):
    line = shapely.LineString([(116.100, 38.200), (116.101, 38.2005), (116.102, 38.201)])
    times = np.array([1.7e9, 1.7e9 + 15, 1.7e9 + 30])
    text = write_gpx(line, name="夕阳红 <早班>", times=times,
                     waypoints=[(116.101, 38.2005, "集市 & 路口")])  # fmt: skip
    assert "&lt;早班&gt;" in text
    assert "集市 &amp; 路口" in text
    path = tmp_path / "t.gpx"
    path.write_text(text, encoding="utf-8")
    track = read_gpx(path, area=AREA)
    assert len(track) == 3
    assert np.allclose(track.lon, [116.100, 116.101, 116.102])
    assert np.allclose(track.time, times)
    assert track.name == "夕阳红 <早班>"
    x, y = track.xy()
    assert np.hypot(np.diff(x), np.diff(y)).sum() == pytest.approx(
        2 * np.hypot(0.001 * 87_600, 0.0005 * 111_000), rel=0.02
    )


def test_route_from_metric_crs_as_rte():
    line = shapely.MultiLineString([[(418000, 4230000), (418100, 4230000)],
                                    [(419000, 4230000), (419000, 4230100)]])  # fmt: skip
    text = write_gpx(line, crs="EPSG:4548", name="r", as_route=True)
    assert text.count("<rte>") == 2
    assert text.count("<rtept") == 4
    assert "<trkpt" not in text


def test_no_points():
    with pytest.raises(PatrolInputError, match="没有轨迹点 / the GPX file has no track points"):
        read_gpx(_track(""))


def test_broken_xml():
    with pytest.raises(PatrolInputError, match="not valid XML"):
        read_gpx(b"<gpx><trk><trkseg><trkpt lat='1' lon='2'></trkseg></gpx>")


def test_not_gpx():
    with pytest.raises(PatrolInputError, match="not a GPX file"):
        read_gpx(b"<kml></kml>")


def test_entity_expansion_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<gpx><trk><name>&lol2;</name></trk></gpx>"
    )
    with pytest.raises(PatrolInputError, match="forbidden DTD"):
        read_gpx(bomb)


def test_too_large(tmp_path):
    big = b"<gpx>" + b" " * MAX_GPX_BYTES + b"</gpx>"
    with pytest.raises(PatrolInputError, match="larger than 10 MB"):
        read_gpx(big)
    path = tmp_path / "big.gpx"
    path.write_bytes(big)
    with pytest.raises(PatrolInputError, match="超过 10 MB"):
        read_gpx(path)


def test_far_points_dropped_or_refused():
    near = "".join(f'<trkpt lat="38.20{i}" lon="116.100"/>' for i in range(5))
    far = '<trkpt lat="39.9" lon="116.4"/>'
    track = read_gpx(_track(near + far), area=AREA)
    assert len(track) == 5
    assert "dropped 1 track point" in track.warnings[0]
    with pytest.raises(PatrolInputError, match="outside the patrol area"):
        read_gpx(_track(far * 3 + near.split("/>")[0] + "/>"), area=AREA)


def test_bad_coordinates_and_times():
    with pytest.raises(PatrolInputError, match="out of range"):
        read_gpx(_track('<trkpt lat="95" lon="116"/>'))
    with pytest.raises(PatrolInputError, match="invalid lon/lat"):
        read_gpx(_track('<trkpt lat="x" lon="116"/>'))
    with pytest.raises(PatrolInputError, match="invalid time"):
        read_gpx(_track('<trkpt lat="38" lon="116"><time>yesterday</time></trkpt>'))
