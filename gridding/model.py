"""The estimator: configure a :class:`Gridder`, call :meth:`Gridder.solve`, read results.

>>> from gridding import Gridder
>>> model = Gridder(households, villages=villages, barriers=barriers, id_column="key")
>>> model.solve()                                  # doctest: +SKIP
>>> model.lane_areas_, model.street_areas_, model.party_groups_, model.villages_

Incremental re-gridding is the same call with the current assignment and the
pinned areas::

    Gridder(households_now, ..., current=old.assignments_.set_index("household_id")
            ["area_id"], pinned={3, 17}).solve()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridding import hierarchy, metrics
from gridding.compact import cell_measures, polish
from gridding.graph import NeighbourGraph, build_graph
from gridding.incremental import regrid
from gridding.inputs import GriddingInputError, prepare
from gridding.partition import Bounds
from gridding.polygons import area_polygons, clip_regions, voronoi_cells
from gridding.refine import refine
from gridding.units import UnitReport, area_bounds, partition_graph


@dataclass(frozen=True)
class Scheme:
    """Bounds of the three levels. The default is 包片联户 (十五级镇, 献县).

    Other schemes map onto the same levels: for 三级网格 give the level-3 grid
    size as ``lane`` and the number of level-3 grids per level-2 grid as
    ``street``; for 片/组/邻 the 邻 (neighbour head) size as ``lane`` and the
    组 size, in 邻, as ``street``.

    Parameters
    ----------
    lane : Bounds
        Households per lane-captain (巷长) area.
    street : Bounds
        Lane areas per street-captain (街长) area.
    party : Bounds
        Lane areas per party group (党小组): two, three where the count is odd.
    """

    lane: Bounds = field(default_factory=lambda: Bounds(15, 20))
    street: Bounds = field(default_factory=lambda: Bounds(6, 8))
    party: Bounds = field(default_factory=lambda: Bounds(2, 3, target=2))


BAOPIAN_LIANHU = Scheme()

#: Rounds of :func:`refine` before the Polsby–Popper polish.
REFINE_ROUNDS = 2


class Gridder:
    """Partition households into lane-captain areas, street areas and party groups.

    Parameters
    ----------
    households : GeoDataFrame
        Household points (or building polygons), any CRS.
    villages : GeoDataFrame, optional
        Village polygons; no area crosses a village boundary.
    lanes : GeoDataFrame, optional
        Lane lines; the households along one lane are kept together.
    streets : GeoDataFrame, optional
        Other street lines; areas prefer to end at them.
    barriers : GeoDataFrame, optional
        Main roads, rivers: areas cross them only when bounds leave no choice.
    scheme : Scheme
        Bounds of the levels (包片联户 by default).
    id_column, weight_column : str, optional
        Household id column (row number by default); households-per-point column.
    village_column, village_id_column : str, optional
        Household column naming the village (else found by location); id column of
        ``villages`` (``code`` if present, else row number).
    max_edge : float
        Neighbours farther apart than this (metres) are not relied on for contiguity.
    reach : float
        Radius (metres) a household's cell extends to in the area polygons.
    seed : int
        Seed; the result is deterministic for a seed.
    current : Series or mapping, optional
        Current area id per household id: re-grid incrementally. Households not in
        it are new; households missing from ``households`` are gone.
    pinned : iterable, optional
        Area ids (of ``current``) that must not change.
    polygons : bool
        Whether to build area polygons. The households' clipped Voronoi cells are
        built either way (except when re-gridding incrementally): the compactness
        polish measures them, so the areas do not depend on this flag.

    Attributes
    ----------
    assignments_ : DataFrame
        ``household_id``, ``area_id``, ``street_area_id``, ``party_group_id``.
    lane_areas_, street_areas_, party_groups_ : GeoDataFrame
        One row per area, in the CRS of ``households``.
    villages_ : DataFrame
        Per village: households, areas, whether the bounds could be met, notes.
    summary_ : dict
        Counts, quality figures and seconds.
    graph_ : NeighbourGraph
        The household neighbour graph (metric CRS).
    """

    def __init__(
        self,
        households: gpd.GeoDataFrame,
        *,
        villages: gpd.GeoDataFrame | None = None,
        lanes: gpd.GeoDataFrame | None = None,
        streets: gpd.GeoDataFrame | None = None,
        barriers: gpd.GeoDataFrame | None = None,
        scheme: Scheme = BAOPIAN_LIANHU,
        id_column: str | None = None,
        weight_column: str | None = None,
        village_column: str | None = None,
        village_id_column: str | None = None,
        max_edge: float = 150.0,
        reach: float = 40.0,
        seed: int = 0,
        current=None,
        pinned=(),
        polygons: bool = True,
    ) -> None:
        self.households = households
        self.villages = villages
        self.lanes = lanes
        self.streets = streets
        self.barriers = barriers
        self.scheme = scheme
        self.id_column = id_column
        self.weight_column = weight_column
        self.village_column = village_column
        self.village_id_column = village_id_column
        self.max_edge = max_edge
        self.reach = reach
        self.seed = seed
        self.current = current
        self.pinned = pinned
        self.polygons = polygons

    def solve(self) -> Gridder:
        """Run the partition; results are set as attributes ending in ``_``.

        Returns
        -------
        Gridder
            ``self``.

        Raises
        ------
        GriddingInputError
            When the input cannot be partitioned (the message says why).
        """
        t0 = time.perf_counter()
        scheme = self.scheme
        prep = prepare(
            self.households,
            max_weight=scheme.lane.hi,
            villages=self.villages,
            lanes=self.lanes,
            streets=self.streets,
            barriers=self.barriers,
            id_column=self.id_column,
            weight_column=self.weight_column,
            village_column=self.village_column,
            village_id_column=self.village_id_column,
        )
        g = build_graph(
            prep.xy,
            prep.weight,
            prep.group,
            lanes=prep.lanes,
            streets=prep.streets,
            barriers=prep.barriers,
            max_edge=self.max_edge,
        )
        self.graph_ = g
        t_graph = time.perf_counter()

        # The households' clipped Voronoi cells: the polish pass measures them and
        # the area polygons are made of them, so they are built once for both.
        cells = regions = None
        if self.polygons or self.current is None:
            cells = voronoi_cells(g.xy, g.group)
            regions = clip_regions(g.xy, g.group, prep.village_geoms, self.reach)
        t_cells = time.perf_counter()
        area_ids, pinned_codes, incremental = self._lane_areas(prep, g, cells, regions)
        labels = self.labels_nodes_
        k = int(labels.max()) + 1
        ag = hierarchy.area_graph(g, labels)
        streets, s_reports = hierarchy.street_areas(ag, scheme.street, self.seed)
        party, _ = hierarchy.party_groups(ag, streets, scheme.party, self.seed)
        t_part = time.perf_counter()

        geoms = None
        if self.polygons:
            polys = area_polygons(
                g.xy, labels, g.group, prep.village_geoms, self.reach, cells, regions
            )
            geoms = polys.geoms
            self.polygon_fallbacks_ = polys
        t_poly = time.perf_counter()

        quality = metrics.evaluate(g, labels, scheme.lane.lo, scheme.lane.hi, geoms)
        self._tables(prep, g, labels, area_ids, streets, party, geoms, k, pinned_codes)
        self._village_table(prep, g, labels, streets, s_reports)
        t_end = time.perf_counter()
        in_b = self.lane_areas_["in_bounds"]
        s_in = self.street_areas_["in_bounds"]
        self.summary_ = {
            "households": int(g.weight.sum()),
            "points": g.n,
            "lane_areas": k,
            "street_areas": int(streets.max()) + 1,
            "party_groups": int(party.max()) + 1,
            "share_in_bounds": round(float(in_b.mean()), 4),
            "street_share_in_bounds": round(float(s_in.mean()), 4),
            "share_contiguous": quality["share_contiguous"],
            "mean_polsby_popper": quality.get("mean_polsby_popper"),
            "barrier_share": quality["barrier_share"],
            "street_crossing_share": quality["street_share"],
            "infeasible_villages": int((~self.villages_["feasible"]).sum()),
            "crs": prep.crs.to_string(),
            **prep.counts,
            **incremental,
            "notes": prep.notes,
            "seconds": {
                "graph": round(t_graph - t0, 3),
                "cells": round(t_cells - t_graph, 3),
                "partition": round(t_part - t_cells, 3),
                "polygons": round(t_poly - t_part, 3),
                "total": round(t_end - t0, 3),
            },
        }
        return self

    def _lane_areas(self, prep, g: NeighbourGraph, cells, regions):
        """Node labels (``labels_nodes_``), the area id of each label, pinned labels."""
        lane = self.scheme.lane
        if self.current is None:
            labels, reports = partition_graph(
                g.xy, g.weight, g.group, g.u, g.v, g.cost, g.soft, lane, self.seed
            )
            lo, hi = area_bounds(reports)
            # Two rounds of the street-aware search set the cuts along streets; the
            # polish then works on the measured figure itself (more rounds of the
            # first gain little that the polish would not, and cost time).
            labels, self.moves_ = refine(g, labels, lo, hi, rounds=REFINE_ROUNDS)
            labels, polished = polish(g, labels, lo, hi, cell_measures(g, cells, regions))
            self.moves_ += polished
            self.labels_nodes_ = labels
            self.lane_reports_ = reports
            k = int(labels.max()) + 1
            return np.arange(1, k + 1, dtype=object), np.zeros(k, dtype=bool), {}
        cur = pd.Series(self.current) if not isinstance(self.current, pd.Series) else self.current
        cur = cur.dropna()
        old_ids = pd.unique(cur.to_numpy())
        code_of = {a: i for i, a in enumerate(old_ids.tolist())}
        pinned = set(self.pinned)
        unknown = pinned - set(code_of)
        if unknown:
            raise GriddingInputError(
                f"pinned areas not in the current assignment: {sorted(map(str, unknown))[:5]}"
            )
        hh_code = pd.Series(prep.ids).map(cur).map(code_of).fillna(-1).to_numpy(np.int64)
        # A node carries all households at one spot; it keeps their (first) area.
        node_code = np.full(g.n, -1, dtype=np.int64)
        np.maximum.at(node_code, prep.node_of, hh_code)
        pin = np.array([a in pinned for a in old_ids.tolist()], dtype=bool)
        res = regrid(g, node_code, pin, self.scheme.lane, self.seed)
        # Compact the codes to 0..k-1 labels, remembering the id each one carries.
        codes, labels = np.unique(res.labels, return_inverse=True)
        self.labels_nodes_ = labels.ravel()
        self.lane_reports_ = res.reports
        fresh = _fresh_ids(old_ids, int((codes >= len(old_ids)).sum()))
        ids = np.array(
            [old_ids[c] if c < len(old_ids) else fresh.pop(0) for c in codes.tolist()], dtype=object
        )
        pinned_codes = np.array([c < len(old_ids) and pin[c] for c in codes.tolist()])
        before = hh_code
        after = codes[self.labels_nodes_[prep.node_of]]
        existed = before >= 0
        info = {
            "changed_captain": int((existed & (after != before)).sum()),
            "new_households": int((~existed).sum()),
            "gone_households": int(len(cur) - existed.sum()),
            "areas_rebuilt": len(res.rebuilt),
            "areas_kept": int(len(old_ids) - len(res.rebuilt)),
        }
        size = np.bincount(self.labels_nodes_, g.weight).astype(np.int64)
        lane_lo, lane_hi = self.scheme.lane.lo, self.scheme.lane.hi
        info["incremental_notes"] = [
            f"pinned area {ids[c]} has {size[c]} households, outside {lane_lo}..{lane_hi}; "
            "left as it is"
            for c in np.flatnonzero(pinned_codes & ((size < lane_lo) | (size > lane_hi)))
        ]
        return ids, pinned_codes, info

    def _tables(self, prep, g, labels, area_ids, streets, party, geoms, k, pinned_codes):
        crs = prep.input_crs
        size = np.bincount(labels, g.weight, minlength=k).astype(np.int64)
        lo, hi = self.scheme.lane.lo, self.scheme.lane.hi
        contiguous = metrics.contiguous_areas(g, labels)
        village = np.zeros(k, dtype=np.int64)
        village[labels] = g.group
        street_ids = streets + 1
        party_ids = party + 1
        geo = gpd.GeoSeries(geoms if geoms is not None else [None] * k, crs=prep.crs).to_crs(crs)
        pp = metrics.polsby_popper(geoms) if geoms is not None else np.full(k, np.nan)
        self.lane_areas_ = gpd.GeoDataFrame(
            {
                "area_id": area_ids,
                "village": [prep.village_ids[v] for v in village],
                "households": size,
                "street_area_id": street_ids,
                "party_group_id": party_ids,
                "in_bounds": (size >= lo) & (size <= hi),
                "contiguous": contiguous,
                "pinned": pinned_codes,
                "polsby_popper": np.round(pp, 4),
            },
            geometry=geo.values,
            crs=crs,
        )
        hh_label = labels[prep.node_of]
        self.assignments_ = pd.DataFrame(
            {
                "household_id": prep.ids,
                "area_id": area_ids[hh_label],
                "street_area_id": street_ids[hh_label],
                "party_group_id": party_ids[hh_label],
            }
        )
        self.street_areas_ = _groups(self.lane_areas_, "street_area_id", self.scheme.street, crs)
        self.party_groups_ = _groups(self.lane_areas_, "party_group_id", self.scheme.party, crs)
        self.party_groups_["street_area_id"] = (
            self.lane_areas_.groupby("party_group_id")["street_area_id"].first().to_numpy()
        )

    def _village_table(self, prep, g, labels, streets, s_reports: list[UnitReport]):
        rows = []
        for vi, vid in enumerate(prep.village_ids):
            lane_r = [r for r in self.lane_reports_ if r.group == vi]
            street_r = [r for r in s_reports if r.group == vi]
            mask = g.group == vi
            if not mask.any():
                continue
            notes = [n for r in lane_r + street_r for n in r.notes]
            rows.append(
                {
                    "village": vid,
                    "households": int(g.weight[mask].sum()),
                    "lane_areas": len(np.unique(labels[mask])),
                    "street_areas": len(np.unique(streets[np.unique(labels[mask])])),
                    "lane_feasible": all(r.feasible for r in lane_r),
                    "street_feasible": all(r.feasible for r in street_r),
                    "feasible": all(r.feasible for r in lane_r),
                    "barrier_crossings_needed": any(r.pieces > 1 for r in lane_r),
                    "notes": "; ".join(notes),
                }
            )
        self.villages_ = pd.DataFrame(rows)


def _fresh_ids(old_ids: np.ndarray, count: int) -> list:
    """Ids for new areas: next integers if the old ids are integers, else ``new-N``."""
    ints = [a for a in old_ids.tolist() if isinstance(a, int | np.integer)]
    if len(ints) == len(old_ids):
        start = max(ints, default=0) + 1
        return list(range(start, start + count))
    return [f"new-{i + 1}" for i in range(count)]


def _groups(areas: gpd.GeoDataFrame, key: str, bounds: Bounds, crs) -> gpd.GeoDataFrame:
    """One row per group of lane areas, with the union of their polygons."""
    keys = areas[key].to_numpy()
    order = np.argsort(keys, kind="stable")
    gid, first, count = np.unique(keys[order], return_index=True, return_counts=True)
    geoms = np.asarray(areas.geometry.values, dtype=object)[order]
    ids = areas["area_id"].to_numpy()[order]
    households = areas["households"].to_numpy()[order]
    rows = []
    for g, a, c in zip(gid.tolist(), first.tolist(), count.tolist(), strict=True):
        part = geoms[a : a + c]
        part = part[~shapely.is_missing(part)]
        rows.append(
            {
                key: g,
                "village": areas["village"].iat[order[a]],
                "lane_areas": c,
                "area_ids": ",".join(map(str, ids[a : a + c].tolist())),
                "households": int(households[a : a + c].sum()),
                "in_bounds": bounds.lo <= c <= bounds.hi,
                "geometry": _union(part) if len(part) else None,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _union(parts: np.ndarray):
    """Union of lane-area polygons; they tile their village, so a coverage union is exact."""
    if len(parts) == 1:
        return parts[0]
    try:
        merged = shapely.coverage_union_all(parts)
    except shapely.errors.GEOSException:
        return shapely.union_all(parts)
    # A fallback polygon (see gridding.polygons) may overlap a neighbour slightly.
    return merged if merged.is_valid else shapely.union_all(parts)
