"""The plan of one village in its own metric frame (u east-ish, v north-ish, metres).

A North China plain village is drawn as it is built: one east–west main street
(大街, or the provincial road where the road runs through), a north–south main
street crossing it in larger villages, back streets (前街/后街) in tall ones, and
parallel lanes (胡同) every 35–45 m leaving the streets, with one courtyard
(院) per household on either side. The outline follows the lane columns, so it
is the ragged rectilinear shape such villages have on a map.

Grids are cut from the outline with axis-parallel boxes in this frame: level 2
along the main streets (or the road), level 3 between lane columns. Boxes that
share exact coordinates tile the outline exactly, and the later rotation and
reprojection treat shared vertices identically, so the tiling survives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layers.demo.names import lane_names

#: Half widths (m) of the east–west main street, the provincial road corridor
#: (carriageway plus verges: houses keep clear of it), back streets and the
#: north–south main street.
HW_STREET = 5.0
HW_ROAD = 18.0
HW_BACK = 4.0
HW_NS = 5.0
#: Distance from a street edge to the first courtyard wall.
SETBACK = 2.0
#: Distance from a dead-end lane's last courtyard to the village edge.
END_MARGIN = 3.0
#: Half width of a lane; courtyards start this far from its axis.
HW_LANE = 2.0
#: Far coordinate for the open sides of cutting boxes (villages are < 2 km).
BIG = 5000.0


@dataclass
class VillagePlan:
    """One village laid out in its local frame; all coordinates in metres.

    Attributes
    ----------
    ring : (k, 2) array
        Exterior ring of the village outline (closed).
    bbox : (4,) array
        umin, vmin, umax, vmax of the outline.
    streets : list of tuple
        (name, is_main, u0, v0, u1, v1) per street.
    lane_xy : (m, 4) array
        u0, v0, u1, v1 per lane (from the street it leaves, into the block).
    lane_street : (m,) int array
        Index into ``streets`` of the street a lane leaves from.
    lane_names, lane_clan : list
        Lane names and clan surname index (-1 for none).
    house_uv : (n, 2) array
        Courtyard centres.
    house_lane : (n,) int array
        Lane index, -1 for an off-lane courtyard.
    house_no : (n,) int array
        House number on its lane (odd west side, even east side) or in the village.
    l2_boxes : (k2, 4) array
        Cutting boxes of the level-2 grids.
    l3_boxes : (k3, 4) array
        Cutting boxes of the level-3 grids.
    l3_parent : (k3,) int array
        Index of each level-3 grid's level-2 grid.
    house_l3 : (n,) int array
        Index of each household's level-3 grid.
    """

    ring: np.ndarray
    bbox: np.ndarray
    streets: list[tuple[str, bool, float, float, float, float]]
    lane_xy: np.ndarray
    lane_street: np.ndarray
    lane_names: list[str]
    lane_clan: list[int]
    house_uv: np.ndarray
    house_lane: np.ndarray
    house_no: np.ndarray
    l2_boxes: np.ndarray
    l3_boxes: np.ndarray
    l3_parent: np.ndarray
    house_l3: np.ndarray


def _smooth_noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Smooth random multipliers: neighbouring lanes have similar lengths."""
    raw = rng.normal(0.0, sigma, n + 4)
    return np.exp(np.convolve(raw, np.ones(5) / np.sqrt(5.0), mode="valid")[:n])


def _band_segments(
    ext: np.ndarray, hw0: float, v2: float | None, thr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lane segments of one side (north or south) of the main street, per column.

    Returns, per column, (lo, hi) of the first segment and, where the back street
    applies, of the second; heights are distances from the main street's axis.
    """
    lo1 = np.full(ext.shape, hw0 + SETBACK)
    if v2 is None:
        hi1 = ext - END_MARGIN
        lo2 = hi2 = np.full(ext.shape, np.nan)
    else:
        reach = ext >= v2 + thr
        hi1 = np.where(reach, v2 - HW_BACK - SETBACK, ext - END_MARGIN)
        lo2 = np.where(reach, v2 + HW_BACK + SETBACK, np.nan)
        hi2 = np.where(reach, ext - END_MARGIN, np.nan)
    return lo1, hi1, lo2, hi2


def _capacity(ext: np.ndarray, hw0: float, v2: float | None, thr: float, w: float) -> int:
    """Courtyards that fit on one side of the main street (both sides of every lane)."""
    lo1, hi1, lo2, hi2 = _band_segments(ext, hw0, v2, thr)
    k = np.floor(np.maximum(hi1 - lo1, 0) / w)
    k2 = np.floor(np.nan_to_num(np.maximum(hi2 - lo2, 0)) / w)
    return int(2 * (k.sum() + k2.sum()))


def plan_village(
    rng: np.random.Generator,
    n: int,
    on_road: bool,
) -> VillagePlan:
    """Lay out a village of ``n`` households in its local frame.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the village's own stream).
    n : int
        Households to place (>= 1).
    on_road : bool
        Whether the provincial road runs along the east–west main street (v = 0).

    Returns
    -------
    VillagePlan
    """
    w = float(rng.uniform(15.0, 20.0))  # courtyard width along the lane
    s = float(rng.uniform(35.0, 45.0))  # lane spacing = two courtyard depths
    hw0 = HW_ROAD if on_road else HW_STREET
    aspect = float(rng.uniform(0.75, 1.3))
    # Area needed if lanes filled their columns, plus slack for vacant courtyards.
    area = n * 1.06 * w * s / 2.0 / 0.78
    height = np.sqrt(area * aspect)
    width = area / height
    n_col = max(2, round(width / s))
    n_ns = 0 if n_col < 5 else (3 if n_col >= 18 else 1)

    # Column edges along u, with gaps for the north–south main streets.
    n_right = n_col // 2 + (n_col % 2) * int(rng.integers(2))
    n_left = n_col - n_right
    widths: list[float] = []
    kinds: list[int] = []  # 0 lane column, 1 central NS street, 2 side NS street
    for i in range(n_left):
        if n_ns == 3 and i == n_left // 2:
            widths.append(2 * HW_NS)
            kinds.append(2)
        widths.append(s)
        kinds.append(0)
    if n_ns:
        widths.append(2 * HW_NS)
        kinds.append(1)
    for i in range(n_right):
        if n_ns == 3 and i == (n_right + 1) // 2:
            widths.append(2 * HW_NS)
            kinds.append(2)
        widths.append(s)
        kinds.append(0)
    kinds_a = np.array(kinds)
    edges = np.r_[0.0, np.cumsum(widths)]
    # The crossroads (centre of the central street, or of the middle) is u = 0.
    centre = (edges[kinds.index(1)] + HW_NS) if n_ns else edges[n_left]
    edges = edges - centre
    a, b = edges[:-1], edges[1:]
    uc = (a + b) / 2.0
    lane_col = np.flatnonzero(kinds_a == 0)

    # Height profile: a rounded rectangle with smooth noise on each side.
    x = uc[lane_col] / (max(abs(a[0]), abs(b[-1])) + 1e-9)
    p = float(rng.uniform(2.5, 4.0))
    prof = np.maximum(0.35, (1.0 - np.abs(x) ** p) ** (1.0 / p))
    base_n = prof * _smooth_noise(rng, len(lane_col), 0.06)
    base_s = prof * _smooth_noise(rng, len(lane_col), 0.06)
    thr = HW_BACK + SETBACK + 2 * w + END_MARGIN

    def sides(scale: float) -> tuple[np.ndarray, np.ndarray, float | None, float | None]:
        top = hw0 + scale * height / 2.0 * base_n
        bot = hw0 + scale * height / 2.0 * base_s
        v2n = 0.5 * float(top.max()) if top.max() > 260 else None
        v2s = 0.5 * float(bot.max()) if bot.max() > 260 else None
        return top, bot, v2n, v2s

    # Grow the village until enough courtyards fit (a few steps, monotone).
    scale = 1.0
    for _ in range(60):
        top, bot, v2n, v2s = sides(scale)
        cap = _capacity(top, hw0, v2n, thr, w) + _capacity(bot, hw0, v2s, thr, w)
        if cap >= n + max(2, n // 40):
            break
        scale *= 1.0 + max(0.02, min(0.3, (n + max(2, n // 40)) / max(cap, 1) - 1.0) / 2)

    # A back street runs over the columns between the first and last that reach it.
    def apply_back(ext: np.ndarray, v2: float | None) -> tuple[np.ndarray, tuple[int, int] | None]:
        if v2 is None:
            return ext, None
        reach = np.flatnonzero(ext >= v2 + thr)
        if len(reach) == 0:
            return ext, None
        j0, j1 = int(reach[0]), int(reach[-1])
        ext = ext.copy()
        ext[j0 : j1 + 1] = np.maximum(ext[j0 : j1 + 1], v2 + thr)
        return ext, (j0, j1)

    top, back_n = apply_back(top, v2n)
    bot, back_s = apply_back(bot, v2s)
    if back_n is None:
        v2n = None
    if back_s is None:
        v2s = None

    # Streets. East/west halves of the main street are 东大街/西大街 when a
    # north–south street crosses it, as villages with a 十字街 name them.
    streets: list[tuple[str, bool, float, float, float, float]] = []
    u_lo, u_hi = float(a[0]), float(b[-1])
    if n_ns:
        i_west = len(streets)
        streets.append(("西大街", True, 0.0, 0.0, u_lo, 0.0))
        i_east = len(streets)
        streets.append(("东大街", True, 0.0, 0.0, u_hi, 0.0))
    else:
        i_west = i_east = len(streets)
        streets.append(("大街", True, u_lo, 0.0, u_hi, 0.0))
    i_back_n = i_back_s = -1
    if v2n is not None and back_n is not None:
        i_back_n = len(streets)
        streets.append(
            ("后街", True, float(a[lane_col[back_n[0]]]), v2n, float(b[lane_col[back_n[1]]]), v2n)
        )
    if v2s is not None and back_s is not None:
        i_back_s = len(streets)
        streets.append(
            ("前街", True, float(a[lane_col[back_s[0]]]), -v2s, float(b[lane_col[back_s[1]]]), -v2s)
        )

    # Lanes, courtyards and off-lane houses at the end of some dead-end lanes.
    top_full = np.zeros(len(kinds))
    bot_full = np.zeros(len(kinds))
    lanes: list[tuple[float, float, float, float, int]] = []
    hu: list[np.ndarray] = []
    hv: list[np.ndarray] = []
    hl: list[np.ndarray] = []
    hn: list[np.ndarray] = []
    off_u: list[float] = []
    off_v: list[float] = []
    d_house = s / 4.0 + HW_LANE / 2.0  # courtyard centre offset from the lane axis
    for sign, ext, v2, i_back in ((1.0, top, v2n, i_back_n), (-1.0, bot, v2s, i_back_s)):
        lo1, hi1, lo2, hi2 = _band_segments(ext, hw0, v2, thr)
        for k, j in enumerate(lane_col):
            u = float(uc[j])
            street = i_east if u > 0 else i_west
            edge = float(ext[k])
            segs = [(lo1[k], hi1[k], 0.0, street)]
            if not np.isnan(lo2[k]) and v2 is not None:
                # The first segment joins both streets; the second dead-ends.
                segs = [(lo1[k], hi1[k], v2, street), (lo2[k], hi2[k], v2, i_back)]
            for si, (lo, hi, v_end_street, st) in enumerate(segs):
                cnt = int(np.floor(max(hi - lo, 0.0) / w))
                if cnt == 0:
                    continue
                start_axis = 0.0 if si == 0 else float(v_end_street)
                dead_end = si == len(segs) - 1
                end = lo + cnt * w
                lane_end = end if dead_end else float(v_end_street)
                lanes.append((u, sign * start_axis, u, sign * lane_end, st))
                li = len(lanes) - 1
                vv = lo + w * (np.arange(cnt) + 0.5)
                hu.append(np.r_[np.full(cnt, u - d_house), np.full(cnt, u + d_house)])
                hv.append(sign * np.r_[vv, vv])
                hl.append(np.full(2 * cnt, li))
                hn.append(np.r_[2 * np.arange(cnt) + 1, 2 * np.arange(cnt) + 2])
                if dead_end and rng.random() < 0.12:
                    off_u.append(u)
                    off_v.append(sign * (end + w / 2.0))
                    edge = max(edge, end + w + END_MARGIN)
            if sign > 0:
                top_full[j] = edge
            else:
                bot_full[j] = edge
    # Street columns are as tall as their taller neighbour.
    for j in np.flatnonzero(kinds_a != 0):
        top_full[j] = max(top_full[j - 1], top_full[j + 1])
        bot_full[j] = max(bot_full[j - 1], bot_full[j + 1])
    if n_ns:
        jc = kinds.index(1)
        streets.append(("北大街", True, 0.0, 0.0, 0.0, float(top_full[jc])))
        streets.append(("南大街", True, 0.0, 0.0, 0.0, -float(bot_full[jc])))
    for j in np.flatnonzero(kinds_a == 2):
        name = "东街" if uc[j] > 0 else "西街"
        streets.append(
            (name, True, float(uc[j]), -float(bot_full[j]), float(uc[j]), float(top_full[j]))
        )

    house_u = np.concatenate([*hu, np.array(off_u)])
    house_v = np.concatenate([*hv, np.array(off_v)])
    house_lane = np.concatenate([*hl, np.full(len(off_u), -1)]).astype(np.int64)
    house_no = np.concatenate([*hn, np.arange(1, len(off_u) + 1)]).astype(np.int64)

    # Vacant courtyards: drop surplus slots at random so exactly n remain.
    keep = np.sort(rng.choice(len(house_u), size=n, replace=False))
    house_u, house_v = house_u[keep], house_v[keep]
    house_lane, house_no = house_lane[keep], house_no[keep]
    # Lanes that lost all their courtyards still exist (a lane of vacant yards).

    # Outline: the skyline of the columns, a small margin beyond the outer walls.
    margin = 4.0
    a2, b2 = a.copy(), b.copy()
    a2[0] -= margin
    b2[-1] += margin
    upper = np.column_stack([np.c_[a2, b2].ravel(), np.repeat(top_full, 2)])
    lower = np.column_stack([np.c_[a2, b2].ravel()[::-1], -np.repeat(bot_full, 2)[::-1]])
    ring = np.vstack([upper, lower, upper[:1]])
    dup = np.r_[False, np.all(np.diff(ring, axis=0) == 0, axis=1)]
    ring = ring[~dup]
    bbox = np.array([a2[0], -bot_full.max(), b2[-1], top_full.max()])

    # Level 2: north/south of the main street (or road), split at the
    # north–south main street in larger villages.
    k2 = 2 if (n < 260 or not n_ns) else (3 if n < 520 else 4)
    quads = {
        2: [(-BIG, 0.0, BIG, BIG), (-BIG, -BIG, BIG, 0.0)],
        3: [(-BIG, 0.0, 0.0, BIG), (0.0, 0.0, BIG, BIG), (-BIG, -BIG, BIG, 0.0)],
        4: [
            (-BIG, 0.0, 0.0, BIG),
            (0.0, 0.0, BIG, BIG),
            (-BIG, -BIG, 0.0, 0.0),
            (0.0, -BIG, BIG, 0.0),
        ],
    }[k2]
    l2_boxes = np.array(quads)
    l3: list[tuple[float, float, float, float]] = []
    l3_parent: list[int] = []
    house_l3 = np.full(n, -1, dtype=np.int64)
    for qi, (qu0, qv0, qu1, qv1) in enumerate(quads):
        in_q = (house_u > qu0) & (house_u < qu1) & (house_v > qv0) & (house_v < qv1)
        cols = lane_col[(uc[lane_col] > qu0) & (uc[lane_col] < qu1)]
        # Households per lane column (courtyards of one column share its centre band).
        col_of = np.searchsorted(b, house_u[in_q])
        counts = np.array([(col_of == j).sum() for j in cols])
        total = int(counts.sum())
        k3 = 1 if total < 80 else max(int(np.ceil(total / 150)), round(total / 95))
        cum = np.cumsum(counts)
        cuts: list[float] = []
        last = -1
        for m in range(1, k3):
            ci = int(np.argmin(np.abs(cum - total * m / k3)))
            if ci > last and ci < len(cols) - 1:
                cuts.append(float(b[cols[ci]]))
                last = ci
        bounds = [qu0, *cuts, qu1]
        for bi in range(len(bounds) - 1):
            l3.append((bounds[bi], qv0, bounds[bi + 1], qv1))
            l3_parent.append(qi)
            sel = in_q & (house_u > bounds[bi]) & (house_u < bounds[bi + 1])
            house_l3[sel] = len(l3) - 1

    names, clan = lane_names(rng, len(lanes), "胡同" if rng.random() < 0.75 else "巷")
    lane_arr = np.array(lanes, dtype=float).reshape(-1, 5)
    return VillagePlan(
        ring=ring,
        bbox=bbox,
        streets=streets,
        lane_xy=lane_arr[:, :4],
        lane_street=lane_arr[:, 4].astype(np.int64),
        lane_names=names,
        lane_clan=clan,
        house_uv=np.column_stack([house_u, house_v]),
        house_lane=house_lane,
        house_no=house_no,
        l2_boxes=l2_boxes,
        l3_boxes=np.array(l3),
        l3_parent=np.array(l3_parent, dtype=np.int64),
        house_l3=house_l3,
    )
