"""Did the patrol walk its route? Checkpoints visited, lanes walked, times kept.

Checkpoints use the buffer method of the research note (§4): a checkpoint is
visited when the track comes within 20 m, and the dwell is the time spent
there. GPS outliers (a fix far from its neighbours' median) are dropped and
the track is smoothed over three fixes: at σ = 10 m noise that halves the false
visits to checkpoints on the neighbouring lane 40 m away. With fixes every 5 s
or faster, two smoothed fixes must fall inside the radius, one otherwise.

Lanes are judged by the map-matched walk (:mod:`layers.patrol.matching`): the
fixes are matched to the network and consecutive matches joined along it, and
a lane counts as walked when at least 60 % of it was. With a fix every 15 s
straight lines between fixes cut corners and miss short dead ends; the first
version (a 15 m buffer around the straight-line track, counting only points
about as near to the lane as to any other) left lane-coverage errors of up to
5 points at 15 s fixes; matching keeps them within 2. The buffer method stays
available (``match=False``).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.lib.stride_tricks import sliding_window_view

from layers.patrol.errors import PatrolInputError
from layers.patrol.matching import match_track
from layers.patrol.network import LaneNetwork, build_network

CHECKPOINT_RADIUS_M = 20.0
LANE_BUFFER_M = 15.0
LANE_MIN_SHARE = 0.6
#: Lanes are sampled this often (m) to measure the share within the buffer.
SAMPLE_M = 5.0
#: Fixes this far from the median of their neighbours are outliers (m).
OUTLIER_M = 40.0
#: Out-of-radius gaps shorter than this (s) do not end a stop (noise pops out).
MAX_GAP_S = 120.0
#: A track point covers a lane only if no other lane is nearer by more than this (m).
CLAIM_MARGIN_M = 3.0
#: Spacing (m) of the points the track is cut into for the lane test.
TRACK_STEP_M = 2.5


@dataclass(frozen=True)
class ComplianceReport:
    """The check of one walked track against its assignment.

    Attributes
    ----------
    checkpoints : pandas.DataFrame
        Per checkpoint: ``visited``, ``arrive_s``, ``leave_s`` (epoch seconds),
        ``dwell_s``, ``dwell_ok`` (dwell ≥ the required minimum), ``min_dist_m``,
        ``delay_s`` (arrival − planned arrival, when planned times are given).
    lanes : pandas.DataFrame
        Per assigned lane: ``length_m``, ``covered_share``, ``walked``.
    lane_share : float
        Length of walked lanes / assigned length (0..1).
    checkpoint_share : float
        Visited checkpoints / checkpoints.
    start_s, end_s : float
        First and last fix time (NaN without times).
    start_delay_s : float
        Start − planned start (NaN when not planned).
    distance_m : float
        Length of the cleaned track.
    n_fixes, n_outliers : int
    """

    checkpoints: pd.DataFrame
    lanes: pd.DataFrame
    lane_share: float
    checkpoint_share: float
    start_s: float
    end_s: float
    start_delay_s: float
    distance_m: float
    n_fixes: int
    n_outliers: int

    def summary(self) -> dict[str, float]:
        """The headline figures as a flat dict (for storage and the monthly table)."""
        return {
            "lane_share": self.lane_share,
            "lanes_walked": int(self.lanes["walked"].sum()) if len(self.lanes) else 0,
            "lanes_total": len(self.lanes),
            "lane_length_m": float(self.lanes["length_m"].sum()) if len(self.lanes) else 0.0,
            "checkpoint_share": self.checkpoint_share,
            "checkpoints_visited": int(self.checkpoints["visited"].sum())
            if len(self.checkpoints)
            else 0,
            "checkpoints_total": len(self.checkpoints),
            "dwell_ok": int(self.checkpoints["dwell_ok"].sum()) if len(self.checkpoints) else 0,
            "start_delay_s": self.start_delay_s,
            "duration_s": self.end_s - self.start_s,
            "distance_m": self.distance_m,
        }


def clean_track(
    x: np.ndarray, y: np.ndarray, *, outlier_m: float = OUTLIER_M
) -> tuple[np.ndarray, np.ndarray]:
    """Outlier mask and 3-fix moving-average smoothing of a track.

    Returns
    -------
    keep : ndarray of bool
        Fixes that are not outliers (farther than ``outlier_m`` from the
        median of the four fixes around them).
    xy : ndarray, shape ``(keep.sum(), 2)``
        The kept fixes, smoothed.
    """
    xy = np.column_stack([x, y]).astype(float)
    n = len(xy)
    keep = np.ones(n, dtype=bool)
    if n >= 5:
        pad = np.pad(xy, ((2, 2), (0, 0)), mode="edge")
        win = sliding_window_view(pad, 5, axis=0)  # (n, 2, 5)
        neigh = np.concatenate([win[:, :, :2], win[:, :, 3:]], axis=2)
        med = np.median(neigh, axis=2)
        keep = np.hypot(*(xy - med).T) <= outlier_m
    kept = xy[keep]
    if len(kept) >= 3:
        sm = kept.copy()
        sm[1:-1] = (kept[:-2] + kept[1:-1] + kept[2:]) / 3.0
        kept = sm
    return keep, kept


def _claimed_cover(
    path: shapely.LineString,
    geoms: np.ndarray,
    lengths: np.ndarray,
    owner: np.ndarray,
    frac: np.ndarray,
    buffer_m: float,
    margin_m: float,
) -> np.ndarray:
    """Which lane sample points lie within ``buffer_m`` of a track point the lane claims.

    The track is cut into points every :data:`TRACK_STEP_M`; a point is claimed
    by every lane within the buffer whose distance is at most ``margin_m`` more
    than the nearest lane's (a nearest-lane assignment, softened so a walker in
    the middle of a junction counts for all lanes there). A claimed point at
    distance d from the lane, projected to position x along it, covers the
    stretch x ± sqrt(buffer² − d²) of that lane; the stretches are merged on
    one axis with every lane laid end to end (gaps between lanes keep the
    stretches apart).
    """
    n_step = max(int(np.ceil(path.length / TRACK_STEP_M)), 1)
    q = shapely.line_interpolate_point(path, np.linspace(0.0, 1.0, n_step + 1), normalized=True)
    tree = shapely.STRtree(geoms)
    qi, li = tree.query(q, predicate="dwithin", distance=buffer_m)
    if not len(qi):
        return np.zeros(len(owner), dtype=bool)
    d = shapely.distance(q[qi], geoms[li])
    dmin = np.full(len(q), np.inf)
    np.minimum.at(dmin, qi, d)
    keep = d <= dmin[qi] + margin_m
    qi, li, d = qi[keep], li[keep], d[keep]
    x = shapely.line_locate_point(geoms[li], q[qi])
    half = np.sqrt(np.maximum(buffer_m**2 - d**2, 0.0))
    start = np.r_[0.0, np.cumsum(lengths + 4 * buffer_m)[:-1]]
    lo, hi = start[li] + x - half, start[li] + x + half
    order = np.argsort(lo, kind="stable")
    lo, reach = lo[order], np.maximum.accumulate(hi[order])
    pos = start[owner] + frac * lengths[owner]
    k = np.searchsorted(lo, pos, side="right") - 1
    return (k >= 0) & (reach[np.maximum(k, 0)] >= pos)


def _buffer_shares(path, geoms, lengths, lane_buffer_m, claim_margin_m) -> np.ndarray:
    """Share of each lane within the buffer of the (smoothed, straight-line) track."""
    n_s = np.maximum(np.ceil(lengths / SAMPLE_M).astype(int), 1)
    owner = np.repeat(np.arange(len(geoms)), n_s)
    # Sample midpoints of n equal pieces: every sample stands for the same length.
    frac = (np.arange(n_s.sum()) - np.repeat(np.cumsum(n_s) - n_s, n_s) + 0.5) / n_s[owner]
    near = _claimed_cover(path, geoms, lengths, owner, frac, lane_buffer_m, claim_margin_m)
    # The ends of a lane lie within the buffer of the streets it joins: a short
    # lane between two walked streets would count as walked from its ends
    # alone. The share is taken over the part beyond the buffer from each end
    # (the whole lane when that part is shorter than the buffer).
    along = frac * lengths[owner]
    inner = (along >= lane_buffer_m) & (along <= lengths[owner] - lane_buffer_m)
    use = inner | ~np.repeat(lengths > 3 * lane_buffer_m, n_s)
    return np.bincount(owner, weights=near & use, minlength=len(geoms)) / np.maximum(
        np.bincount(owner, weights=use, minlength=len(geoms)), 1
    )


def _visits(inside: np.ndarray, t: np.ndarray, max_gap_s: float) -> tuple[float, float, float]:
    """First arrival, its leaving time and the longest stay from in-radius flags."""
    idx = np.flatnonzero(inside)
    if not len(idx):
        return np.nan, np.nan, 0.0
    tt = t[idx]
    if not np.isfinite(tt).all():
        return np.nan, np.nan, 0.0
    # Stays: runs of in-radius fixes whose gaps are short.
    breaks = np.flatnonzero(np.diff(tt) > max_gap_s)
    starts = np.r_[0, breaks + 1]
    ends = np.r_[breaks, len(tt) - 1]
    dwell = tt[ends] - tt[starts]
    k = int(np.argmax(dwell))
    return float(tt[starts[0]]), float(tt[ends[0]]), float(dwell[k])


def check_track(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray | None = None,
    *,
    checkpoints: np.ndarray | None = None,
    min_dwell_s: float | np.ndarray = 0.0,
    lanes: np.ndarray | list | None = None,
    planned_start_s: float | None = None,
    planned_arrive_s: np.ndarray | None = None,
    checkpoint_radius_m: float = CHECKPOINT_RADIUS_M,
    lane_buffer_m: float = LANE_BUFFER_M,
    lane_min_share: float = LANE_MIN_SHARE,
    max_gap_s: float = MAX_GAP_S,
    claim_margin_m: float = CLAIM_MARGIN_M,
    network: LaneNetwork | None = None,
    lane_edges: np.ndarray | None = None,
    match: bool = True,
    sigma_m: float = 10.0,
) -> ComplianceReport:
    """Check a walked track (metric coordinates) against checkpoints and lanes.

    Parameters
    ----------
    x, y : ndarray
        Track fixes in a metric CRS (see :meth:`layers.patrol.gpx.Track.xy`).
    t : ndarray, optional
        Fix times, seconds since the epoch; without them no dwell is measured.
    checkpoints : ndarray, shape ``(k, 2)``, optional
        Checkpoint coordinates.
    min_dwell_s : float or ndarray
        Stay required at each checkpoint (e.g. 600 for a Koper stop).
    lanes : array of LineString, optional
        Assigned lanes (e.g. ``network.geometry`` or the route's edges).
    planned_start_s : float, optional
        Planned start (epoch seconds), for the start delay.
    planned_arrive_s : ndarray, optional
        Planned arrival at each checkpoint (epoch seconds), for delays.
    checkpoint_radius_m, lane_buffer_m, lane_min_share, max_gap_s
        The rules (20 m, 15 m, 60 %, 120 s by default).
    claim_margin_m : float
        A point of the track counts toward a lane only when it is at most this
        much farther from the lane than from the nearest lane (see
        :func:`_claimed_cover`; buffer method only).
    network : LaneNetwork, optional
        The whole walkable network (assigned lanes and the streets joining
        them); the track is map-matched on it. Without it a network is built
        from ``lanes`` (which must then be the whole network).
    lane_edges : ndarray of int, optional
        With ``network``: the edges judged (default all); ``lanes`` is ignored.
    match : bool
        Judge lanes by the map-matched walk (default) or by the buffer method.
    sigma_m : float
        GPS noise assumed by the matching (m).

    Returns
    -------
    ComplianceReport

    Raises
    ------
    PatrolInputError
        If the track has fewer than two fixes.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 2:
        raise PatrolInputError("轨迹点太少，无法核查", "the track has too few points to check")
    t = np.full(len(x), np.nan) if t is None else np.asarray(t, dtype=float)
    order = np.argsort(t, kind="stable") if np.isfinite(t).all() else np.arange(len(x))
    x, y, t = x[order], y[order], t[order]
    keep, xy = clean_track(x, y)
    tk = t[keep]
    path = shapely.LineString(xy) if len(xy) >= 2 else shapely.LineString(np.r_[xy, xy])
    shapely.prepare(path)

    # Fixes needed inside the radius: one at 15 s or sparser, two at 5 s (a
    # neighbouring lane 40 m away gets single noisy fixes inside every so often).
    step = np.nanmedian(np.diff(tk)) if np.isfinite(tk).sum() >= 2 else np.nan
    min_fixes = max(1, round(10.0 / step)) if np.isfinite(step) and step > 0 else 1
    cp = np.zeros((0, 2)) if checkpoints is None else np.asarray(checkpoints, dtype=float)
    need = np.broadcast_to(np.asarray(min_dwell_s, dtype=float), (len(cp),))
    rows = []
    for i, (cx, cy) in enumerate(cp):
        d = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)
        dmin = float(d.min()) if len(d) else np.inf
        inside = d <= checkpoint_radius_m
        visited = bool(inside.sum() >= min_fixes)
        arrive, leave, dwell = _visits(inside, tk, max_gap_s) if visited else (np.nan, np.nan, 0.0)
        row = {
            "checkpoint": i,
            "visited": visited,
            "arrive_s": arrive,
            "leave_s": leave,
            "dwell_s": dwell,
            "dwell_ok": bool(visited and dwell >= need[i]),
            "min_dist_m": dmin,
            "delay_s": np.nan,
        }
        if planned_arrive_s is not None and np.isfinite(arrive):
            row["delay_s"] = arrive - float(planned_arrive_s[i])
        rows.append(row)
    cps = pd.DataFrame(
        rows,
        columns=["checkpoint", "visited", "arrive_s", "leave_s", "dwell_s", "dwell_ok",
                 "min_dist_m", "delay_s"],
    )  # fmt: skip

    lane_rows = []
    if network is not None and match:
        judged = np.arange(network.n_edges) if lane_edges is None else np.asarray(lane_edges)
        geoms = network.geometry[judged]
        lengths = network.length[judged]
        matched = match_track(network, np.column_stack([x, y])[keep], sigma_m=sigma_m)
        share = matched.covered_m[judged] / np.maximum(lengths, 1e-9)
    elif lanes is not None and len(lanes) and match:
        geoms = np.asarray(lanes, dtype=object)
        lengths = shapely.length(geoms)
        net = build_network(
            gpd.GeoDataFrame({"key": np.arange(len(geoms))}, geometry=list(geoms)), snap_m=1.0
        )
        matched = match_track(net, np.column_stack([x, y])[keep], sigma_m=sigma_m)
        owner = net.key.astype(np.int64)
        share = np.bincount(owner, weights=matched.covered_m, minlength=len(geoms)) / np.maximum(
            lengths, 1e-9
        )
    elif lanes is not None and len(lanes):
        geoms = np.asarray(lanes, dtype=object)
        lengths = shapely.length(geoms)
        share = _buffer_shares(path, geoms, lengths, lane_buffer_m, claim_margin_m)
    else:
        geoms = np.zeros(0, dtype=object)
        lengths = share = np.zeros(0)
    for i in range(len(geoms)):
        lane_rows.append(
            {
                "lane": i,
                "length_m": float(lengths[i]),
                "covered_share": float(min(share[i], 1.0)),
                "walked": bool(share[i] >= lane_min_share),
            }
        )
    lanes_df = pd.DataFrame(lane_rows, columns=["lane", "length_m", "covered_share", "walked"])
    total = lanes_df["length_m"].sum()
    lane_share = (
        float(lanes_df.loc[lanes_df["walked"], "length_m"].sum() / total) if total > 0 else np.nan
    )
    start = float(np.nanmin(t)) if np.isfinite(t).any() else np.nan
    end = float(np.nanmax(t)) if np.isfinite(t).any() else np.nan
    return ComplianceReport(
        checkpoints=cps,
        lanes=lanes_df,
        lane_share=lane_share,
        checkpoint_share=float(cps["visited"].mean()) if len(cps) else np.nan,
        start_s=start,
        end_s=end,
        start_delay_s=start - planned_start_s if planned_start_s is not None else np.nan,
        distance_m=float(path.length),
        n_fixes=len(x),
        n_outliers=int((~keep).sum()),
    )


def monthly_coverage(checks: pd.DataFrame) -> pd.DataFrame:
    """Monthly coverage per patrol and area, for the monthly review (每月评议).

    Parameters
    ----------
    checks : pandas.DataFrame
        One row per checked track with columns ``patrol``, ``area``,
        ``started_at`` (datetime), ``lane_length_m``, ``lane_share``,
        ``checkpoints_visited``, ``checkpoints_total`` and ``dwell_ok``
        (e.g. :meth:`ComplianceReport.summary` plus the three keys).

    Returns
    -------
    pandas.DataFrame
        Per (patrol, area, month): ``patrols`` (tracks), ``lane_share``
        (length-weighted mean of walked share), ``checkpoint_share`` and
        ``dwell_share`` (stops long enough / checkpoints visited).
    """
    need = {"patrol", "area", "started_at", "lane_length_m", "lane_share",
            "checkpoints_visited", "checkpoints_total", "dwell_ok"}  # fmt: skip
    missing = need - set(checks.columns)
    if missing:
        names = ", ".join(sorted(missing))
        raise PatrolInputError(f"缺少列：{names}", f"missing columns: {names}")
    df = checks.copy()
    # Tracks of routes without assigned lanes carry None there: as numbers, missing
    # figures are NaN and a month with none of them gets NaN, not a division error.
    numeric = [
        "lane_length_m",
        "lane_share",
        "checkpoints_visited",
        "checkpoints_total",
        "dwell_ok",
    ]
    df[numeric] = df[numeric].apply(pd.to_numeric).astype(float)
    started = pd.to_datetime(df["started_at"])
    if started.dt.tz is not None:
        # Months are Beijing months, whatever zone the times came in.
        started = started.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    df["month"] = started.dt.to_period("M").astype(str)
    df["walked_m"] = df["lane_length_m"] * df["lane_share"].fillna(0.0)
    g = df.groupby(["patrol", "area", "month"], sort=True)
    out = g.agg(
        patrols=("lane_share", "size"),
        walked_m=("walked_m", "sum"),
        lane_length_m=("lane_length_m", "sum"),
        checkpoints_visited=("checkpoints_visited", "sum"),
        checkpoints_total=("checkpoints_total", "sum"),
        dwell_ok=("dwell_ok", "sum"),
    ).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["lane_share"] = out["walked_m"] / out["lane_length_m"]
        out["checkpoint_share"] = out["checkpoints_visited"] / out["checkpoints_total"]
        out["dwell_share"] = out["dwell_ok"] / out["checkpoints_visited"]
    return out
