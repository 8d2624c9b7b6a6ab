"""Importing a file into one territory layer, all or nothing.

Each file is one transaction: the caller commits only when this returns, so a
refused row leaves the database as it was. Villages and grids are matched by
code (a re-import updates them and bumps their version); streets, lanes and
households are added. Rows that cannot be placed are refused together, with
their row numbers, rather than one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import SRID
from layers.transfer.reader import TransferError, read_file, repair_polygons

ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "代码", "编码"),
    "name": ("name", "名称", "name_zh"),
    "kind": ("kind", "类型"),
    "level": ("level", "级别", "层级"),
    "parent_code": ("parent_code", "parent", "上级代码", "上级编码"),
    "village_code": ("village_code", "village", "村代码", "所属村"),
    "town_name": ("town_name", "镇名称", "乡镇"),
    "address": ("address", "地址", "门牌"),
    "people": ("people", "人口", "人数"),
    "is_main": ("is_main", "主街"),
}

GEOMETRY_KINDS = {
    "villages": ("Polygon", "MultiPolygon"),
    "grids": ("Polygon", "MultiPolygon"),
    "streets": ("LineString", "MultiLineString"),
    "lanes": ("LineString", "MultiLineString", "Polygon", "MultiPolygon"),
    "households": ("Point", "MultiPoint"),
}


@dataclass
class _Rows:
    """Collects refusals so that a file is refused once, with all its bad rows."""

    problems: list[str] = field(default_factory=list)

    def refuse(self, mask: np.ndarray, zh: str, en: str) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            shown = ", ".join(str(i + 1) for i in idx[:10])
            more = f" …（共 {idx.size} 行）" if idx.size > 10 else ""
            self.problems.append(f"第 {shown}{more} 行：{zh} / rows {shown}: {en}")

    def raise_if_any(self, path: Path) -> None:
        if self.problems:
            raise TransferError(f"{path.name} 未导入 / not imported:\n" + "\n".join(self.problems))


def _canonical(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rename known column aliases (Chinese or English, any case) to our names."""
    lower = {c.lower(): c for c in gdf.columns if c != gdf.geometry.name}
    renames = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lower and name not in renames.values():
                renames[lower[alias]] = name
                break
    return gdf.rename(columns=renames)


def _text(gdf: gpd.GeoDataFrame, column: str) -> pd.Series:
    if column not in gdf.columns:
        return pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    values = gdf[column].astype(object).where(gdf[column].notna(), None)
    return values.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip())


def _load_villages(session: Session) -> gpd.GeoDataFrame:
    return gpd.read_postgis(
        "SELECT id, code, geom FROM village", session.connection(), geom_col="geom", crs=SRID
    )


def _village_ids(session: Session, gdf: gpd.GeoDataFrame, rows: _Rows) -> np.ndarray:
    """The village of each feature: by its ``village_code``, else the village containing it."""
    villages = _load_villages(session)
    by_code = dict(zip(villages["code"], villages["id"], strict=True))
    codes = _text(gdf, "village_code")
    ids = codes.map(lambda c: by_code.get(c) if c else None)
    rows.refuse((codes.notna() & ids.isna()).to_numpy(), "村代码不存在", "unknown village_code")
    need = ids.isna() & codes.isna()
    if need.any():
        points = gpd.GeoDataFrame(geometry=gdf.geometry[need].representative_point(), crs=SRID)
        joined = gpd.sjoin(points, villages, predicate="within", how="left")
        joined = joined[~joined.index.duplicated()]
        ids[need] = joined["id"].to_numpy()
        rows.refuse(
            (need & ids.isna()).to_numpy(),
            "不在任何村的范围内（请先导入村界，或填写 village_code）",
            "outside every village (import villages first or give village_code)",
        )
    return ids.to_numpy()


def import_layer(
    session: Session,
    path: Path,
    layer: str,
    *,
    encoding: str | None = None,
    source_crs: str | None = None,
) -> dict:
    """Import ``path`` into ``layer`` inside the session's transaction.

    Parameters
    ----------
    session
        An open session; the caller commits on success and rolls back otherwise.
    path
        The file (see :func:`layers.transfer.reader.read_file` for formats).
    layer
        ``villages``, ``streets``, ``lanes``, ``grids`` or ``households``.
    encoding, source_crs
        Passed to :func:`~layers.transfer.reader.read_file`.

    Returns
    -------
    dict
        ``features``, ``inserted``, ``updated`` and the ``repaired`` polygons
        (row and reason).

    Raises
    ------
    TransferError
        The file or some of its rows cannot be imported; nothing was written.
    """
    if layer not in GEOMETRY_KINDS:
        raise TransferError(f"未知图层 / unknown layer: {layer}")
    gdf = _canonical(read_file(path, encoding=encoding, source_crs=source_crs))
    gdf = gdf.reset_index(drop=True)
    rows = _Rows()
    kinds = gdf.geom_type.to_numpy()
    rows.refuse(
        ~np.isin(kinds, GEOMETRY_KINDS[layer]),
        f"几何类型应为 {'/'.join(GEOMETRY_KINDS[layer])}",
        f"geometry must be {'/'.join(GEOMETRY_KINDS[layer])}",
    )
    repaired: list[dict] = []
    polygonal = np.isin(kinds, ("Polygon", "MultiPolygon"))
    if polygonal.any():
        fixed, repaired, rejected = repair_polygons(gdf.geometry[polygonal])
        gdf.loc[polygonal, gdf.geometry.name] = fixed
        for r in rejected:
            original_row = int(np.flatnonzero(polygonal)[r["row"] - 1])
            rows.problems.append(
                f"第 {original_row + 1} 行：多边形无效且无法修复（{r['reason']}）"
                f" / row {original_row + 1}: invalid polygon that cannot be repaired"
            )
        for r in repaired:
            r["row"] = int(np.flatnonzero(polygonal)[r["row"] - 1]) + 1
    rows.raise_if_any(path)
    counts = _IMPORTERS[layer](session, gdf, rows, path)
    return {"layer": layer, "file": str(path), "features": len(gdf), **counts, "repaired": repaired}


def _wkb(geoms: gpd.GeoSeries) -> list[str]:
    return [g.wkb_hex for g in geoms]


def _import_villages(session: Session, gdf: gpd.GeoDataFrame, rows: _Rows, path: Path) -> dict:
    codes, names = _text(gdf, "code"), _text(gdf, "name")
    kind = _text(gdf, "kind").fillna("village")
    rows.refuse(
        ~codes.fillna("").str.fullmatch(r"[0-9]{12}").to_numpy(),
        "村代码须为 12 位数字",
        "code must be 12 digits",
    )
    rows.refuse(names.isna().to_numpy(), "缺少名称", "name missing")
    rows.refuse(
        ~kind.isin(["village", "community"]).to_numpy(),
        "类型须为 village 或 community",
        "kind must be village or community",
    )
    rows.refuse(
        codes.duplicated(keep=False).to_numpy() & codes.notna().to_numpy(),
        "文件中代码重复",
        "duplicate code in the file",
    )
    rows.raise_if_any(path)
    town_ids = _ensure_towns(session, gdf, codes)
    upsert = text(
        """
        INSERT INTO village (town_id, code, name, kind, geom)
        VALUES (:town_id, :code, :name, :kind, ST_Multi(ST_GeomFromWKB(decode(:wkb, 'hex'), 4490)))
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
            geom = EXCLUDED.geom, version = village.version + 1
        RETURNING (xmax = 0)
        """
    )
    inserted = sum(
        session.execute(
            upsert, {"town_id": t, "code": c, "name": n, "kind": k, "wkb": w}
        ).scalar_one()
        for t, c, n, k, w in zip(town_ids, codes, names, kind, _wkb(gdf.geometry), strict=True)
    )
    return {"inserted": inserted, "updated": len(gdf) - inserted}


def _ensure_towns(session: Session, gdf: gpd.GeoDataFrame, codes: pd.Series) -> list[int]:
    """Town of each village, from the first 9 digits of its code; made when missing."""
    town_codes = codes.str.slice(0, 9)
    town_names = _text(gdf, "town_name")
    ids: dict[str, int] = {}
    for code in sorted(set(town_codes)):
        found = session.execute(text("SELECT id FROM town WHERE code = :c"), {"c": code}).scalar()
        if found is None:
            mask = (town_codes == code).to_numpy()
            hull = gdf.geometry[mask].union_all().convex_hull
            name = next((n for n in town_names[mask] if n), code)
            found = session.execute(
                text(
                    "INSERT INTO town (code, name, geom) VALUES (:c, :n,"
                    " ST_Multi(ST_GeomFromWKB(decode(:w, 'hex'), 4490))) RETURNING id"
                ),
                {"c": code, "n": name, "w": hull.wkb_hex},
            ).scalar_one()
        ids[code] = found
    return [ids[c] for c in town_codes]


def _import_lines(
    session: Session, gdf: gpd.GeoDataFrame, rows: _Rows, path: Path, table: str
) -> dict:
    village_ids = _village_ids(session, gdf, rows)
    rows.raise_if_any(path)
    names = _text(gdf, "name").fillna("未命名")
    params = []
    for vid, name, geom, row in zip(
        village_ids, names, gdf.geometry, gdf.itertuples(), strict=True
    ):
        p = {"v": int(vid), "n": name, "line": None, "area": None}
        key = "area" if geom.geom_type in ("Polygon", "MultiPolygon") else "line"
        p[key] = geom.wkb_hex
        if table == "street":
            p["main"] = str(getattr(row, "is_main", "")).lower() in ("1", "true", "yes", "是")
        params.append(p)
    if table == "street":
        sql = (
            "INSERT INTO street (village_id, name, is_main, geom) VALUES (:v, :n, :main,"
            " ST_Multi(ST_GeomFromWKB(decode(:line, 'hex'), 4490)))"
        )
    else:
        sql = (
            "INSERT INTO lane (village_id, name, geom, area) VALUES (:v, :n,"
            " ST_Multi(ST_GeomFromWKB(decode(:line, 'hex'), 4490)),"
            " ST_Multi(ST_GeomFromWKB(decode(:area, 'hex'), 4490)))"
        )
    session.execute(text(sql), params)
    return {"inserted": len(params), "updated": 0}


def _import_grids(session: Session, gdf: gpd.GeoDataFrame, rows: _Rows, path: Path) -> dict:
    codes, names = _text(gdf, "code"), _text(gdf, "name")
    levels = pd.to_numeric(_text(gdf, "level"), errors="coerce")
    parents = _text(gdf, "parent_code")
    rows.refuse(
        ~codes.fillna("").str.fullmatch(r"[0-9]{6,32}").to_numpy(),
        "网格编码须为 6–32 位数字",
        "code must be 6-32 digits",
    )
    rows.refuse(~levels.isin([1, 2, 3]).to_numpy(), "级别须为 1、2 或 3", "level must be 1, 2 or 3")
    rows.refuse(
        ((levels > 1) & parents.isna()).to_numpy(),
        "2、3 级网格须有上级编码",
        "levels 2 and 3 need parent_code",
    )
    rows.refuse(
        codes.duplicated(keep=False).to_numpy() & codes.notna().to_numpy(),
        "文件中编码重复",
        "duplicate code in the file",
    )
    rows.raise_if_any(path)
    village_ids = _village_ids(session, gdf, rows)
    rows.raise_if_any(path)
    inserted = updated = 0
    # Parents before children, so that a file may hold all three levels.
    for level in (1, 2, 3):
        for i in np.flatnonzero((levels == level).to_numpy()):
            parent_id = None
            if level > 1:
                parent_id = session.execute(
                    text("SELECT id FROM grid WHERE code = :c AND level = :l AND valid_to IS NULL"),
                    {"c": parents[i], "l": level - 1},
                ).scalar()
                if parent_id is None:
                    rows.refuse(
                        np.arange(len(gdf)) == i,
                        f"上级网格 {parents[i]} 不存在或级别不符",
                        f"parent grid {parents[i]} missing or not one level up",
                    )
                    continue
            was_insert = session.execute(
                text(
                    """
                    INSERT INTO grid (code, level, parent_id, parent_level, village_id, name, geom)
                    VALUES (:code, :level, :pid, :plevel, :vid, :name,
                            ST_Multi(ST_GeomFromWKB(decode(:wkb, 'hex'), 4490)))
                    ON CONFLICT (code) WHERE valid_to IS NULL DO UPDATE SET
                        name = EXCLUDED.name, geom = EXCLUDED.geom, level = EXCLUDED.level,
                        parent_id = EXCLUDED.parent_id, parent_level = EXCLUDED.parent_level,
                        village_id = EXCLUDED.village_id, version = grid.version + 1
                    RETURNING (xmax = 0)
                    """
                ),
                {
                    "code": codes[i],
                    "level": level,
                    "pid": parent_id,
                    "plevel": level - 1 if parent_id else None,
                    "vid": int(village_ids[i]),
                    "name": names[i] or codes[i],
                    "wkb": gdf.geometry.iloc[i].wkb_hex,
                },
            ).scalar_one()
            inserted += bool(was_insert)
            updated += not was_insert
    rows.raise_if_any(path)
    return {"inserted": inserted, "updated": updated}


def _import_households(session: Session, gdf: gpd.GeoDataFrame, rows: _Rows, path: Path) -> dict:
    # A MultiPoint of one part is a point written by a tool that always writes multi.
    parts = gdf.geometry.count_geometries()
    rows.refuse((parts != 1).to_numpy(), "一户只能有一个点", "one point per household")
    rows.raise_if_any(path)
    points = gdf.geometry.map(lambda g: g.geoms[0] if g.geom_type == "MultiPoint" else g)
    gdf = gdf.set_geometry(gpd.GeoSeries(points, crs=SRID))
    people = pd.to_numeric(_text(gdf, "people").fillna("1"), errors="coerce")
    rows.refuse(
        ~(people >= 1).to_numpy() | (people % 1 != 0).to_numpy(),
        "人口须为正整数",
        "people must be a positive integer",
    )
    address = _text(gdf, "address")
    rows.refuse(address.isna().to_numpy(), "缺少地址", "address missing")
    village_ids = _village_ids(session, gdf, rows)
    rows.raise_if_any(path)
    grids = gpd.read_postgis(
        "SELECT id, level, geom FROM grid WHERE valid_to IS NULL",
        session.connection(),
        geom_col="geom",
        crs=SRID,
    )
    grid_ids = np.full(len(gdf), None, dtype=object)
    if len(grids):
        # The deepest grid holding the point (level 3 where grids go that deep).
        joined = gpd.sjoin(gdf[[gdf.geometry.name]], grids, predicate="within", how="inner")
        joined = joined.sort_values("level").groupby(level=0).last()
        grid_ids[joined.index.to_numpy()] = joined["id"].to_numpy()
    session.execute(
        text(
            "INSERT INTO household (village_id, grid_id, address, people, geom)"
            " VALUES (:v, :g, :a, :p, ST_GeomFromWKB(decode(:w, 'hex'), 4490))"
        ),
        [
            {"v": int(v), "g": None if g is None else int(g), "a": a, "p": int(p), "w": w}
            for v, g, a, p, w in zip(
                village_ids, grid_ids, address, people, _wkb(gdf.geometry), strict=True
            )
        ],
    )
    return {"inserted": len(gdf), "updated": 0}


_IMPORTERS = {
    "villages": _import_villages,
    "streets": lambda s, g, r, p: _import_lines(s, g, r, p, "street"),
    "lanes": lambda s, g, r, p: _import_lines(s, g, r, p, "lane"),
    "grids": _import_grids,
    "households": _import_households,
}
