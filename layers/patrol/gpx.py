"""GPX in and out: walked tracks from phones, planned routes for phones.

Uploads are parsed with ``defusedxml`` (no DTDs, no entity expansion: a
"billion laughs" file fails fast instead of eating the server's memory) after a
size check, and every problem becomes a :class:`PatrolInputError` with a
bilingual message. Coordinates are lon/lat (WGS-84, numerically equal to
CGCS2000 / EPSG:4490 at this scale); times are seconds since the epoch (UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import numpy as np
import shapely
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pyproj import Transformer

from layers.patrol.errors import PatrolInputError

#: Largest GPX upload accepted (bytes).
MAX_GPX_BYTES = 10 * 1024 * 1024
#: Track points further than this from the patrol area are dropped (m).
MAX_OUTSIDE_M = 1000.0
GEO_CRS = "EPSG:4490"


@dataclass(frozen=True)
class Track:
    """A walked GPS track.

    Attributes
    ----------
    lon, lat : ndarray
        Degrees (EPSG:4490 / WGS-84).
    time : ndarray
        Seconds since the epoch (UTC); NaN where a point has no time.
    name : str
    warnings : list of str
        Bilingual notes, e.g. how many far-off points were dropped.
    """

    lon: np.ndarray
    lat: np.ndarray
    time: np.ndarray
    name: str = ""
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lon)

    def xy(self, crs: object = "EPSG:4548") -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in a metric CRS."""
        tr = Transformer.from_crs(GEO_CRS, crs, always_xy=True)
        x, y = tr.transform(self.lon, self.lat)
        return np.asarray(x), np.asarray(y)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_time(text: str | None) -> float:
    if not text:
        return np.nan
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise PatrolInputError(
            f"轨迹点时间格式无效：{text.strip()[:40]}",
            f"a track point has an invalid time: {text.strip()[:40]}",
        ) from err
    if t.tzinfo is None:  # GPX times are UTC by the standard
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def read_gpx(
    source: bytes | str | Path | IO[bytes],
    *,
    area: shapely.Geometry | None = None,
    metric_crs: object = "EPSG:4548",
    max_outside_m: float = MAX_OUTSIDE_M,
) -> Track:
    """Read the track points (``trkpt``) of a GPX file.

    Parameters
    ----------
    source : bytes, str, Path or binary file
        The GPX document (bytes or text) or a path / open file.
    area : shapely geometry, optional
        Patrol area in lon/lat. Points further than ``max_outside_m`` from it
        are dropped with a warning; if most are, the file is refused.
    metric_crs : object
        CRS used to measure distances to the area.
    max_outside_m : float

    Returns
    -------
    Track

    Raises
    ------
    PatrolInputError
        Too large, not XML, forbidden entities, not GPX, no track points,
        bad coordinates or times, or (nearly) all points far outside the area.
    """
    data = _read_bytes(source)
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as err:
        raise PatrolInputError(
            "GPX 文件含有不允许的 DTD 或实体定义", "the GPX file contains a forbidden DTD or entity"
        ) from err
    except ParseError as err:
        line = getattr(err, "position", (0, 0))[0]
        raise PatrolInputError(
            f"GPX 文件不是有效的 XML（第 {line} 行）",
            f"the GPX file is not valid XML (line {line})",
        ) from err
    if _local(root.tag) != "gpx":
        raise PatrolInputError(
            "不是 GPX 文件（根元素不是 gpx）", "not a GPX file (the root element is not gpx)"
        )
    lon, lat, tm = [], [], []
    for el in root.iter():
        if _local(el.tag) != "trkpt":
            continue
        try:
            lo, la = float(el.attrib["lon"]), float(el.attrib["lat"])
        except (KeyError, ValueError) as err:
            raise PatrolInputError(
                "轨迹点缺少或含有无效的经纬度", "a track point has a missing or invalid lon/lat"
            ) from err
        if not (-180 <= lo <= 180 and -90 <= la <= 90):
            raise PatrolInputError(
                f"轨迹点经纬度超出范围：{lo}, {la}", f"a track point is out of range: {lo}, {la}"
            )
        text = next((c.text for c in el if _local(c.tag) == "time"), None)
        lon.append(lo)
        lat.append(la)
        tm.append(_parse_time(text))
    if not lon:
        raise PatrolInputError("GPX 文件中没有轨迹点", "the GPX file has no track points")
    name = next((c.text or "" for c in root.iter() if _local(c.tag) == "name"), "")
    track = Track(np.asarray(lon), np.asarray(lat), np.asarray(tm, dtype=float), name.strip())
    if area is not None:
        track = _drop_far(track, area, metric_crs, max_outside_m)
    return track


def _read_bytes(source: bytes | str | Path | IO[bytes]) -> bytes:
    if isinstance(source, Path) or (isinstance(source, str) and "<" not in source):
        path = Path(source)
        if path.stat().st_size > MAX_GPX_BYTES:
            raise _too_large()
        return path.read_bytes()
    if isinstance(source, str):
        data = source.encode("utf-8")
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        data = source.read(MAX_GPX_BYTES + 1)
    if len(data) > MAX_GPX_BYTES:
        raise _too_large()
    return data


def _too_large() -> PatrolInputError:
    return PatrolInputError(
        f"GPX 文件超过 {MAX_GPX_BYTES // 2**20} MB",
        f"the GPX file is larger than {MAX_GPX_BYTES // 2**20} MB",
    )


def _drop_far(track: Track, area: shapely.Geometry, crs: object, limit: float) -> Track:
    tr = Transformer.from_crs(GEO_CRS, crs, always_xy=True)
    x, y = tr.transform(track.lon, track.lat)
    area_m = shapely.transform(area, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    d = shapely.distance(area_m, shapely.points(np.column_stack([x, y])))
    far = d > limit
    if not far.any():
        return track
    km = limit / 1000
    if far.mean() > 0.5:
        raise PatrolInputError(
            f"{far.sum()} / {len(far)} 个轨迹点在巡逻区域 {km:g} km 以外，"
            "请检查是否上传了别处的轨迹",
            f"{far.sum()} of {len(far)} track points are more than {km:g} km outside the patrol "
            "area: is this the right track?",
        )
    keep = ~far
    note = (
        f"已舍弃 {far.sum()} 个距巡逻区域 {km:g} km 以外的轨迹点 / "
        f"dropped {far.sum()} track point(s) more than {km:g} km outside the patrol area"
    )
    return Track(
        track.lon[keep], track.lat[keep], track.time[keep], track.name, [*track.warnings, note]
    )


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_gpx(
    lines: shapely.Geometry,
    *,
    name: str = "",
    crs: object = GEO_CRS,
    waypoints: list[tuple[float, float, str]] | None = None,
    times: np.ndarray | None = None,
    as_route: bool = False,
) -> str:
    """A GPX 1.1 document for a planned route (or a track).

    Parameters
    ----------
    lines : LineString or MultiLineString
        The route; one ``trkseg`` per part (or one ``rte`` per part).
    name : str
        Route name shown on the phone.
    crs : object
        CRS of ``lines`` and ``waypoints``; converted to lon/lat.
    waypoints : list of (x, y, name), optional
        Checkpoints / hotspot stops, written as ``wpt``.
    times : ndarray, optional
        Seconds since the epoch per vertex (all parts in order), for tracks.
    as_route : bool
        Write ``rte``/``rtept`` instead of ``trk``/``trkseg``/``trkpt``.

    Returns
    -------
    str
        The document (UTF-8 text).
    """
    tr = Transformer.from_crs(crs, GEO_CRS, always_xy=True)
    parts = [p for p in shapely.get_parts(lines) if not p.is_empty]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="wangge" xmlns="http://www.topografix.com/GPX/1/1">',
    ]
    if name:
        out.append(f"  <metadata><name>{escape(name)}</name></metadata>")
    for wx, wy, wname in waypoints or []:
        lo, la = tr.transform(wx, wy)
        out.append(f'  <wpt lat="{la:.7f}" lon="{lo:.7f}"><name>{escape(str(wname))}</name></wpt>')
    k = 0
    if not as_route:
        out.append(f"  <trk><name>{escape(name)}</name>")
    for part in parts:
        xy = shapely.get_coordinates(part)
        lo, la = tr.transform(xy[:, 0], xy[:, 1])
        tag = "rtept" if as_route else "trkpt"
        out.append(f"  <rte><name>{escape(name)}</name>" if as_route else "    <trkseg>")
        for a, b in zip(np.atleast_1d(lo), np.atleast_1d(la), strict=True):
            t = ""
            if times is not None and k < len(times) and np.isfinite(times[k]):
                t = f"<time>{_iso(float(times[k]))}</time>"
            out.append(f'      <{tag} lat="{b:.7f}" lon="{a:.7f}">{t}</{tag}>')
            k += 1
        out.append("  </rte>" if as_route else "    </trkseg>")
    if not as_route:
        out.append("  </trk>")
    out.append("</gpx>")
    return "\n".join(out) + "\n"
