"""``wangge grid run``: partition a village's households into captain areas and store them.

Reads the village's households, lanes, streets and barriers from PostGIS, runs
:class:`gridding.Gridder` (incrementally when the village already has areas,
keeping pinned ones), and writes the result in the caller's transaction:

* lane areas keep their codes where the engine kept them, so captains keep
  their areas (role assignments point at the area row);
* street areas and party groups are matched to the old ones by the lane areas
  they share, so street captains and party groups keep theirs where possible;
* member households are rewritten; a gridding_run row records parameters and
  figures, and the audit log says who ran it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridding import BAOPIAN_LIANHU, Gridder, GriddingInputError, Scheme
from layers.accounts import audit
from layers.bulk import copy_rows, ewkb
from layers.db import SRID
from layers.errors import Invalid, NotFound

LEVELS = {
    "lane": ("L", "{:03d}", "巷长区"),
    "street": ("S", "{:02d}", "街长区"),
    "party_group": ("P", "{:03d}", "党小组"),
}


@dataclass(frozen=True)
class GridRunResult:
    run_id: int
    villages: list[str]
    summary: dict
    village_reports: list[dict]


def _read(session: Session, sql: str, params: dict) -> gpd.GeoDataFrame:
    return gpd.read_postgis(
        text(sql), session.connection(), geom_col="geom", crs=SRID, params=params
    )


def run_gridding(
    session: Session,
    village_codes: list[str] | None = None,
    *,
    scheme: Scheme = BAOPIAN_LIANHU,
    seed: int = 0,
    actor: str = "cli",
) -> GridRunResult:
    """Grid the villages ``village_codes`` (all when ``None``) and store the captain areas.

    Raises
    ------
    NotFound
        An unknown village code.
    Invalid
        The households cannot be partitioned (the engine's message).
    """
    villages = _read(session, "SELECT id, code, geom FROM village ORDER BY code", {})
    if village_codes:
        unknown = sorted(set(village_codes) - set(villages["code"]))
        if unknown:
            raise NotFound(f"没有代码为 {', '.join(unknown)} 的村 / unknown village {unknown}")
        villages = villages[villages["code"].isin(village_codes)]
    ids = [int(v) for v in villages["id"]]
    p = {"v": ids}
    households = _read(
        session,
        "SELECT h.id, v.code AS village_code, a.code AS area_code, h.geom FROM household h"
        " JOIN village v ON v.id = h.village_id LEFT JOIN captain_area_member m"
        " ON m.household_id = h.id LEFT JOIN captain_area a ON a.id = m.area_id"
        " WHERE h.village_id = ANY(:v) ORDER BY h.id",
        p,
    )
    if households.empty:
        raise Invalid("所选村没有住户 / the villages have no households", "village")
    lanes = _read(
        session, "SELECT id, geom FROM lane WHERE village_id = ANY(:v) AND geom IS NOT NULL", p
    )
    streets = _read(session, "SELECT id, geom FROM street WHERE village_id = ANY(:v)", p)
    barriers = _read(session, "SELECT id, geom FROM barrier", {})
    old = pd.read_sql(
        text(
            "SELECT id, code, level, pinned, street_area_id, party_group_id FROM captain_area"
            " WHERE village_id = ANY(:v)"
        ),
        session.connection(),
        params=p,
    )
    current = households.set_index("id")["area_code"].dropna()
    pinned = set(old.loc[(old["level"] == "lane") & old["pinned"], "code"])
    try:
        model = Gridder(
            households,
            villages=villages,
            lanes=lanes if len(lanes) else None,
            streets=streets if len(streets) else None,
            barriers=barriers if len(barriers) else None,
            scheme=scheme,
            id_column="id",
            village_column="village_code",
            village_id_column="code",
            seed=seed,
            current=current if len(current) else None,
            pinned=pinned,
        ).solve()
    except GriddingInputError as exc:
        raise Invalid(str(exc), "households") from exc

    params = {
        "scheme": {
            "lane": [scheme.lane.lo, scheme.lane.hi],
            "street": [scheme.street.lo, scheme.street.hi],
        },
        "seed": seed,
        "villages": list(villages["code"]),
        "incremental": bool(len(current)),
    }
    summary = {k: v for k, v in model.summary_.items() if k != "notes"}
    summary["notes"] = model.summary_.get("notes", [])
    run_id = session.execute(
        text(
            "INSERT INTO gridding_run (village_id, params, summary) VALUES (:v,"
            " CAST(:p AS jsonb), CAST(:s AS jsonb)) RETURNING id"
        ),
        {
            "v": ids[0] if len(ids) == 1 else None,
            "p": json.dumps(params, ensure_ascii=False),
            "s": json.dumps(summary, ensure_ascii=False, default=str),
        },
    ).scalar_one()
    village_id = dict(zip(villages["code"], villages["id"], strict=True))
    _store(session, model, old, village_id, run_id, scheme)
    audit.record(
        session,
        "grid.run",
        actor_name=actor,
        object_type="gridding_run",
        object_id=run_id,
        detail={"villages": params["villages"], "changed_captain": summary.get("changed_captain")},
    )
    reports = model.villages_.assign(village=model.villages_["village"].astype(str))
    return GridRunResult(run_id, list(villages["code"]), summary, reports.to_dict("records"))


def _fresh_codes(taken: set[str], village: str, level: str, count: int) -> list[str]:
    letter, fmt, _ = LEVELS[level]
    prefix = f"{village}-{letter}"
    used = {
        int(c[len(prefix) :]) for c in taken if c.startswith(prefix) and c[len(prefix) :].isdigit()
    }
    out, n = [], 0
    while len(out) < count:
        n += 1
        if n not in used:
            out.append(prefix + fmt.format(n))
    return out


def _store(
    session, model: Gridder, old: pd.DataFrame, village_id: dict, run_id: int, scheme: Scheme
) -> None:
    lane = model.lane_areas_.to_crs(SRID).reset_index(drop=True)
    lane["village"] = lane["village"].astype(str)
    taken = set(old["code"])
    # Lane codes: the engine hands back the old code where it kept an area.
    codes = (
        lane["area_id"].astype(str).where(lane["area_id"].astype(str).isin(taken)).astype(object)
    )
    for village, idx in lane.index[codes.isna()].groupby(lane.loc[codes.isna(), "village"]).items():
        fresh = _fresh_codes(taken, village, "lane", len(idx))
        codes.loc[idx] = fresh
        taken |= set(fresh)
    lane["code"] = codes
    lane_code_of = dict(zip(lane["area_id"], lane["code"], strict=True))

    groups = {}
    for level, key, bounds in (
        ("street", "street_area_id", scheme.street),
        ("party_group", "party_group_id", scheme.party),
    ):
        table = (model.street_areas_ if level == "street" else model.party_groups_).to_crs(SRID)
        members = lane.groupby(key)["code"].apply(frozenset)
        old_level = old[old["level"] == level]
        old_col = "street_area_id" if level == "street" else "party_group_id"
        old_members = (
            old[old["level"] == "lane"]
            .merge(old_level[["id", "code"]], left_on=old_col, right_on="id", suffixes=("", "_g"))
            .groupby("code_g")["code"]
            .apply(frozenset)
        )
        codes_g = _match(members, old_members)
        table = table.reset_index(drop=True)
        table["code"] = table[key].map(codes_g).astype(object)
        for village, idx in (
            table.index[table["code"].isna()]
            .groupby(table.loc[table["code"].isna(), "village"].astype(str))
            .items()
        ):
            fresh = _fresh_codes(taken, village, level, len(idx))
            table.loc[idx, "code"] = fresh
            taken |= set(fresh)
        table["households"] = table[key].map(lane.groupby(key)["households"].sum())
        groups[level] = (table, key, bounds)

    # Upsert all levels by code, groups first so that lane rows can point at them.
    for level, (table, _key, bounds) in groups.items():
        _upsert(session, table, level, village_id, run_id, bounds.lo, bounds.hi)
    lane_ids = {}
    for table, key, _bounds in groups.values():
        ids = dict(
            session.execute(
                text("SELECT code, id FROM captain_area WHERE code = ANY(:c)"),
                {"c": list(table["code"])},
            ).all()
        )
        lane_ids[key] = table.set_index(key)["code"].map(ids)
    lane["street_ref"] = lane["street_area_id"].map(lane_ids["street_area_id"])
    lane["party_ref"] = lane["party_group_id"].map(lane_ids["party_group_id"])
    _upsert(session, lane, "lane", village_id, run_id, scheme.lane.lo, scheme.lane.hi)

    keep = (
        set(lane["code"]) | set(groups["street"][0]["code"]) | set(groups["party_group"][0]["code"])
    )
    stale = sorted(set(old["code"]) - keep)
    # Members first: the new assignment replaces the old one for these villages.
    session.execute(
        text(
            "DELETE FROM captain_area_member m USING captain_area a WHERE a.id = m.area_id"
            " AND a.village_id = ANY(:v)"
        ),
        {"v": [int(v) for v in village_id.values()]},
    )
    if stale:
        session.execute(text("DELETE FROM captain_area WHERE code = ANY(:c)"), {"c": stale})
    area_id = dict(
        session.execute(
            text("SELECT code, id FROM captain_area WHERE code = ANY(:c)"),
            {"c": list(lane["code"])},
        ).all()
    )
    assignments = model.assignments_
    copy_rows(
        session,
        "captain_area_member",
        ("household_id", "area_id"),
        zip(
            assignments["household_id"].astype(int),
            assignments["area_id"].map(lane_code_of).map(area_id),
            strict=True,
        ),
    )


def _match(new: pd.Series, old: pd.Series) -> dict:
    """New group key → old code, greedily by the most lane areas shared (each used once)."""
    pairs = Counter()
    owner = {lane: code for code, lanes in old.items() for lane in lanes}
    for key, lanes in new.items():
        for lane in lanes:
            if lane in owner:
                pairs[key, owner[lane]] += 1
    out, used = {}, set()
    for (key, code), _n in sorted(pairs.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        if key not in out and code not in used:
            out[key] = code
            used.add(code)
    return out


def _upsert(
    session, table: pd.DataFrame, level: str, village_id: dict, run_id: int, lo: int, hi: int
) -> None:
    label = LEVELS[level][2]
    rows = [
        {
            "village_id": int(village_id[str(r.village)]),
            "run_id": run_id,
            "level": level,
            "code": r.code,
            "name": f"{label}{int(r.code.rsplit(level[0].upper(), 1)[-1])}",
            "street": _ref(getattr(r, "street_ref", None)),
            "party": _ref(getattr(r, "party_ref", None)),
            "lo": lo,
            "hi": hi,
            "households": int(r.households),
            "geom": g,
        }
        for r, g in zip(table.itertuples(), ewkb(table.geometry, multi=True), strict=True)
    ]
    session.execute(
        text(
            """
            INSERT INTO captain_area (village_id, run_id, level, code, name, street_area_id,
                party_group_id, min_size, max_size, households, geom)
            VALUES (:village_id, :run_id, :level, :code, :name, :street, :party, :lo, :hi,
                :households, CAST(:geom AS geometry))
            ON CONFLICT (code) DO UPDATE SET
                run_id = EXCLUDED.run_id, street_area_id = EXCLUDED.street_area_id,
                party_group_id = EXCLUDED.party_group_id, min_size = EXCLUDED.min_size,
                max_size = EXCLUDED.max_size,
                -- a pinned area keeps its households and shape; only its grouping follows
                households = CASE WHEN captain_area.pinned THEN captain_area.households
                                  ELSE EXCLUDED.households END,
                geom = CASE WHEN captain_area.pinned THEN captain_area.geom ELSE EXCLUDED.geom END,
                version = captain_area.version + 1
            """
        ),
        rows,
    )


def _ref(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
