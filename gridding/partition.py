"""Contiguous partition of a weighted graph into areas whose sizes lie within bounds.

The guarantee comes by construction, from recursive bisection: a connected unit
that must become ``k`` areas is cut into two connected halves that will become
``k1 = k // 2`` and ``k - k1`` areas, and each half's weight is chosen inside the
range that the halves can still be divided within bounds::

    max(k1·lo, W − k2·hi)  ≤  W_left  ≤  min(k1·hi, W − k2·lo)

so when the recursion reaches ``k = 1`` every area is in bounds and connected.

A cut is a sweep line across the unit (projection on its principal axes); among
the sweep positions whose weight is in range the cheapest one is taken (the cut
cost of an edge is low across streets and barriers, high within a lane, see
:mod:`gridding.graph`). Sweeping across the long axis keeps areas compact. A sweep
may leave a side in pieces (a bend in a river, a concave village); each stray
piece is handed to the side it is most tied to, spreading outwards from the two
main pieces, which keeps both sides connected. When no sweep gives a valid cut,
a slower region-growing search that keeps the remainder connected is tried
(:mod:`gridding.fallback`).

All cuts of one level of the recursion, over every unit at once, are made in
one pass of array operations (segmented sorts and prefix sums), so the cost is
a few dozen numpy calls per level instead of per cut: 200,000 households are
about 11,000 cuts but only a dozen levels.

This module knows nothing of geometry files or villages: nodes, coordinates,
weights, edges, costs and bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gridding.fallback import GROW_LIMIT, best_effort, grow
from gridding.graph import component_labels

#: Sweep positions kept per direction and unit, tried best score first.
TOP = 3
#: Sweep directions, turned from the principal axis.
TURNS = tuple(i * math.pi / 8 for i in (0, 4, 2, 6, 1, 3, 5, 7))
#: Weight of the sides' spread (moment of inertia against a disc) in a cut's score.
SHAPE = 0.5


@dataclass(frozen=True)
class Bounds:
    """Allowed size (sum of node weights) of one area.

    Parameters
    ----------
    lo, hi : int
        Inclusive bounds, ``1 <= lo <= hi``.
    target : float, optional
        Preferred size, used to choose the number of areas; the midpoint by default.
    """

    lo: int
    hi: int
    target: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.hi:
            raise ValueError(f"bounds need 1 <= min <= max, got {self.lo}..{self.hi}")

    @property
    def preferred(self) -> float:
        return self.target if self.target is not None else (self.lo + self.hi) / 2


@dataclass(frozen=True)
class Plan:
    """How many areas a connected unit of weight ``total`` becomes, and in what bounds."""

    total: int
    k: int
    feasible: bool
    lo: int
    hi: int


def plan(total: int, bounds: Bounds) -> Plan:
    """Choose the number of areas for a connected unit.

    A unit of unit-weight nodes can be split into ``k`` areas of ``lo..hi`` iff
    ``k·lo <= total <= k·hi``. Among such ``k`` the one nearest
    ``total / bounds.preferred`` is taken. If there is none (12 households with
    15–20; 21–29 households with 15–20) the ``k`` with the smallest violation is
    taken and the bounds are widened just enough: the closest feasible answer.
    """
    lo, hi = bounds.lo, bounds.hi
    kmin, kmax = max(1, math.ceil(total / hi)), total // lo
    if kmin <= kmax:
        k = min(max(round(total / bounds.preferred), kmin), kmax)
        return Plan(total, k, True, lo, hi)

    def violation(k: int) -> int:
        return max(math.ceil(total / k) - hi, lo - total // k, 0)

    k = min(range(max(1, kmax), kmin + 1), key=lambda k: (violation(k), -k))
    return Plan(total, k, False, min(lo, total // k), max(hi, math.ceil(total / k)))


def split_range(total: int, k: int, lo: int, hi: int) -> tuple[int, int, int]:
    """``(k1, min, max)``: the left half's area count and allowed weight."""
    k1 = k // 2
    k2 = k - k1
    return k1, max(k1 * lo, total - k2 * hi), min(k1 * hi, total - k2 * lo)


@dataclass
class UnitResult:
    """Outcome of dividing one connected unit."""

    labels: np.ndarray
    k: int
    exact: bool = True  # every bisection found a cut inside its range
    notes: list[str] = field(default_factory=list)


def divide(
    xy: np.ndarray,
    w: np.ndarray,
    eu: np.ndarray,
    ev: np.ndarray,
    ec: np.ndarray,
    k: int,
    lo: int,
    hi: int,
    rng: np.random.Generator,
) -> UnitResult:
    """Divide one connected unit into ``k`` connected areas of weight ``lo..hi``.

    Parameters
    ----------
    xy, w : ndarray
        Node coordinates (m, 2) and weights (m,).
    eu, ev, ec : ndarray
        Local edges (indices into ``xy``) and their cut costs.
    k, lo, hi : int
        Number of areas and per-area bounds.
    rng : numpy.random.Generator
        Breaks ties in the fallback search, for determinism under a seed.

    Returns
    -------
    UnitResult
        ``labels`` in ``0..k-1``; ``exact`` is False if some cut had to leave its
        range (no contiguous cut within bounds was found).
    """
    one = np.zeros(len(xy), dtype=np.int64)
    labels, exact, notes = divide_units(
        xy, w, eu, ev, ec, one, np.array([k]), np.array([lo]), np.array([hi]), rng
    )
    return UnitResult(labels, k, bool(exact[0]), notes[0])


def divide_units(
    xy: np.ndarray,
    w: np.ndarray,
    eu: np.ndarray,
    ev: np.ndarray,
    ec: np.ndarray,
    unit: np.ndarray,
    k: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Divide every connected unit into its areas, one level of cuts at a time.

    Parameters
    ----------
    xy, w : ndarray
        Node coordinates (n, 2) and integer weights (n,).
    eu, ev, ec : ndarray
        Edges (node indices, both ends in one unit) and their cut costs.
    unit : ndarray (n,)
        Unit index of each node, ``0..U-1``; each unit is connected.
    k, lo, hi : ndarray (U,)
        Number of areas and per-area bounds of each unit.
    rng : numpy.random.Generator
        Breaks ties in the fallback search, for determinism under a seed.

    Returns
    -------
    labels : ndarray (n,)
        Area index of each node within its unit, ``0..k-1``.
    exact : ndarray (U,) of bool
        False for units where some cut had to leave its range.
    notes : list of list of str
        Remarks per unit.
    """
    n_units = len(k)
    labels = np.zeros(len(xy), dtype=np.int64)
    exact = np.ones(n_units, dtype=bool)
    notes: list[list[str]] = [[] for _ in range(n_units)]
    w = np.asarray(w, dtype=np.int64)
    # Working set: the nodes of segments (pieces of units) still to be cut, with
    # edges as indices into it. Segment arrays are indexed by segment number.
    idx = np.arange(len(xy))
    seg = np.asarray(unit, dtype=np.int64)
    a, b, c = np.asarray(eu, np.int64), np.asarray(ev, np.int64), np.asarray(ec, float)
    s_k = np.asarray(k, dtype=np.int64)
    s_base = np.zeros(n_units, dtype=np.int64)
    s_lo, s_hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    s_unit = np.arange(n_units)
    while len(idx):
        done = s_k[seg] <= 1
        labels[idx[done]] = s_base[seg[done]]
        if done.all():
            break
        if done.any():
            # Drop finished nodes and segments, renumbering what is left.
            live = ~done
            pos = np.cumsum(live) - 1
            keep = live[a] & live[b]
            a, b, c = pos[a[keep]], pos[b[keep]], c[keep]
            idx, seg = idx[live], seg[live]
        segs, seg = np.unique(seg, return_inverse=True)
        seg = seg.ravel()
        s_k, s_base, s_lo, s_hi, s_unit = (
            s_k[segs],
            s_base[segs],
            s_lo[segs],
            s_hi[segs],
            s_unit[segs],
        )
        xs, ws = xy[idx], w[idx]
        left, ok, lmin, lmax = _cut_level(xs, ws, a, b, c, seg, s_k, s_lo, s_hi)
        k1 = s_k // 2
        for s in np.flatnonzero(~ok).tolist():
            nodes = np.flatnonzero(seg == s)
            left[nodes], cut_ok = _fallback(nodes, xs, ws, a, b, seg, lmin[s], lmax[s], s_k[s], rng)
            if not cut_ok:
                exact[s_unit[s]] = False
                notes[s_unit[s]].append(
                    f"no contiguous cut of {int(ws[nodes].sum())} into {s_k[s]} areas "
                    f"within {s_lo[s]}..{s_hi[s]}"
                )
        # Children: segment 2s takes the left side and k1 areas, 2s+1 the rest.
        seg = 2 * seg + (~left)
        keep = seg[a] == seg[b]
        a, b, c = a[keep], b[keep], c[keep]
        s_k = np.c_[k1, s_k - k1].ravel()
        s_base = np.c_[s_base, s_base + k1].ravel()
        s_lo, s_hi, s_unit = (np.repeat(x, 2) for x in (s_lo, s_hi, s_unit))
    return labels, exact, notes


def _cut_level(xy, w, a, b, c, seg, kk, lo, hi):
    """One cut in each segment: left side per node, whether it is valid, ranges.

    Every segment is swept along its principal axis and three turned axes; a
    sweep position is a prefix of the nodes sorted along the axis. The positions
    whose weight lies in range are scored by cut cost plus a penalty for being
    off the balanced weight, the best few per axis are kept, and they are tried
    best score first: a trial is repaired to two connected sides and kept when
    the repaired left side is still in range.
    """
    nseg = len(kk)
    n = len(seg)
    wf = w.astype(float)
    total = np.bincount(seg, w, minlength=nseg).astype(np.int64)
    size = np.bincount(seg, minlength=nseg)
    k1 = kk // 2
    k2 = kk - k1
    lmin = np.maximum(k1 * lo, total - k2 * hi)
    lmax = np.minimum(k1 * hi, total - k2 * lo)
    target = np.minimum(np.maximum(total * k1 / kk, lmin), lmax)
    half = np.maximum((lmax - lmin) / 2, 1.0)
    possible = (lmin <= lmax) & (size >= 2)

    x, y = xy[:, 0], xy[:, 1]
    tw = np.maximum(total, 1)
    mx = np.bincount(seg, wf * x, minlength=nseg) / tw
    my = np.bincount(seg, wf * y, minlength=nseg) / tw
    dx, dy = x - mx[seg], y - my[seg]
    sxx = np.bincount(seg, wf * dx * dx, minlength=nseg)
    syy = np.bincount(seg, wf * dy * dy, minlength=nseg)
    sxy = np.bincount(seg, wf * dx * dy, minlength=nseg)
    major = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    start = np.cumsum(size) - size
    w_start = np.cumsum(total) - total
    # Households per square metre of each segment, from its typical neighbour
    # distance (a hexagonal lattice of spacing d has 1 / (0.866 d²)), so the
    # compactness of a side can be judged against a disc of the same weight.
    elen = np.log(np.maximum(np.hypot(dx[a] - dx[b], dy[a] - dy[b]), 1e-3))
    ecount = np.maximum(np.bincount(seg[a], minlength=nseg), 1)
    spacing = np.exp(np.bincount(seg[a], elen, minlength=nseg) / ecount)
    disc = 2 * math.pi / (0.866 * spacing**2)  # I·disc / W² is 1 for a disc
    sq = wf * (dx * dx + dy * dy)
    sq_tot = np.bincount(seg, sq, minlength=nseg)

    ranks = np.empty((len(TURNS), n), dtype=np.int64)
    cand = []
    for j, turn in enumerate(TURNS):
        ang = major + turn
        proj = dx * np.cos(ang)[seg] + dy * np.sin(ang)[seg]
        order = _sweep_order(proj, seg)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        so = seg[order]
        ranks[j] = rank - start[seg]
        pos = np.arange(n) - start[so]  # prefix length - 1
        cw = np.cumsum(w[order]) - w_start[so]
        ra, rb = rank[a], rank[b]
        lo_r, hi_r = np.minimum(ra, rb), np.maximum(ra, rb)
        # An edge is cut by every prefix that ends at a sorted position in [lo_r, hi_r).
        diff = np.bincount(lo_r, c, minlength=n + 1) - np.bincount(hi_r, c, minlength=n + 1)
        cut = np.cumsum(diff)[:n]
        valid = (pos < size[so] - 1) & (cw >= lmin[so]) & (cw <= lmax[so]) & possible[so]
        g = np.flatnonzero(valid)
        vs, cv = so[g], cut[g]
        mean = np.bincount(vs, cv, minlength=nseg) / np.maximum(np.bincount(vs, minlength=nseg), 1)
        dev = (cw[g] - target[vs]) / half[vs]
        # Moments of inertia of both sides, from prefix sums in sweep order.
        wl = cw[g].astype(float)
        wr = total[vs] - wl
        px = (np.cumsum(wf[order] * dx[order]) - _starts(wf * dx, seg, order, nseg))[g]
        py = (np.cumsum(wf[order] * dy[order]) - _starts(wf * dy, seg, order, nseg))[g]
        pq = (np.cumsum(sq[order]) - _starts(sq, seg, order, nseg))[g]
        il = pq - (px * px + py * py) / wl
        ir = (sq_tot[vs] - pq) - (px * px + py * py) / wr  # side sums are opposite
        spread = disc[vs] * (il / (wl * wl) + ir / (wr * wr)) - 2
        score = cv + (mean[vs] + 1e-9) * (0.5 * dev * dev + SHAPE * spread)
        o = np.lexsort((score, vs))
        vo = vs[o]
        top = o[np.arange(len(o)) - np.searchsorted(vo, vo) < TOP]
        cand.append((vs[top], np.full(len(top), j), pos[g[top]], score[top]))

    cs, cd, ct, cscore = (np.concatenate(z) for z in zip(*cand, strict=True))
    o = np.lexsort((cscore, cs))
    cs, cd, ct = cs[o], cd[o], ct[o]
    first = np.searchsorted(cs, np.arange(nseg))
    count = np.bincount(cs, minlength=nseg)
    left = np.zeros(n, dtype=bool)
    ok = np.zeros(nseg, dtype=bool)
    for r in range(int(count.max()) if len(count) else 0):
        trying = ~ok & (count > r)
        if not trying.any():
            break
        ts = np.flatnonzero(trying)
        d = np.zeros(nseg, dtype=np.int64)
        th = np.zeros(nseg, dtype=np.int64)
        d[ts], th[ts] = cd[first[ts] + r], ct[first[ts] + r]
        nodes = np.flatnonzero(trying[seg])
        ns = seg[nodes]
        trial = ranks[d[ns], nodes] <= th[ns]
        pos = np.full(n, -1, dtype=np.int64)
        pos[nodes] = np.arange(len(nodes))
        e = trying[seg[a]]
        trial = repair_many(trial, ns, pos[a[e]], pos[b[e]], c[e], w[nodes])
        lw = np.bincount(ns, w[nodes] * trial, minlength=nseg)
        nl = np.bincount(ns, trial, minlength=nseg)
        good = trying & (lw >= lmin) & (lw <= lmax) & (nl > 0) & (nl < size)
        take = good[ns]
        left[nodes[take]] = trial[take]
        ok |= good
    return left, ok, lmin, lmax


def _sweep_order(proj: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """``np.lexsort((proj, seg))``: nodes by segment, then along the sweep.

    The same order from one sort of packed integer keys (segment, position
    along the sweep in steps of 2⁻ᶻ of its range, node index), several times
    faster than a lexsort and as deterministic: the keys are distinct, so any
    sort gives one answer. Positions closer than a step (micrometres) are
    taken as equal and keep node order, as lexsort keeps equal ones.
    """
    n = len(seg)
    ib = max(int(n - 1).bit_length(), 1)
    sb = max(int(seg.max()).bit_length(), 1) if n else 1
    zb = 62 - ib - sb
    if n == 0 or zb < 24:
        return np.lexsort((proj, seg))
    lo, hi = float(proj.min()), float(proj.max())
    if hi > lo:
        z = ((proj - lo) * ((2.0**zb - 1) / (hi - lo))).astype(np.int64)
    else:
        z = np.zeros(n, dtype=np.int64)
    key = (seg.astype(np.int64) << (zb + ib)) | (z << ib) | np.arange(n, dtype=np.int64)
    return np.argsort(key)


def _starts(values, seg, order, nseg):
    """Per sorted position, the sum of ``values`` over earlier segments."""
    tot = np.bincount(seg, values, minlength=nseg)
    return (np.cumsum(tot) - tot)[seg[order]]


def repair_many(
    left: np.ndarray, seg: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """Make both sides of every segment connected by handing stray pieces over.

    Each side of a segment keeps its heaviest piece. The other pieces are
    settled outwards from those two, a ring at a time: a piece touching settled
    pieces joins the side it shares the costlier border with (its own side on a
    tie), so it is attached to that side's main piece through settled pieces and
    each side stays one connected region.

    Parameters
    ----------
    left : ndarray of bool
        Side of each node.
    seg : ndarray
        Segment of each node; edges ``a``–``b`` (costs ``c``) lie within segments.
    w : ndarray
        Node weights.

    Returns
    -------
    ndarray of bool
        The repaired sides.
    """
    same = left[a] == left[b]
    comp = component_labels(len(left), a[same], b[same])
    nc = int(comp.max()) + 1 if len(comp) else 0
    cseg = np.zeros(nc, dtype=np.int64)
    cseg[comp] = seg
    per_seg = np.bincount(cseg, minlength=int(seg.max()) + 1 if len(seg) else 0)
    if not (per_seg > 2).any():
        return left
    cleft = np.zeros(nc, dtype=bool)
    cleft[comp] = left
    cw = np.bincount(comp, w, minlength=nc)
    side = np.where(per_seg[cseg] > 2, -1, cleft.astype(np.int64))
    # Heaviest piece of each side of each segment (ties: lowest piece number).
    order = np.lexsort((np.arange(nc), -cw, ~cleft, cseg))
    so, sl = cseg[order], cleft[order]
    head = np.r_[True, (so[1:] != so[:-1]) | (sl[1:] != sl[:-1])]
    mains = order[head]
    side[mains] = cleft[mains]
    cross = ~same
    pa, pb, pc = comp[a[cross]], comp[b[cross]], c[cross]
    while True:
        sa, sb = side[pa], side[pb]
        fwd = (sa >= 0) & (sb < 0)
        back = (sb >= 0) & (sa < 0)
        if not (fwd.any() or back.any()):
            break
        to = np.r_[pb[fwd], pa[back]]
        frm = np.r_[sa[fwd], sb[back]]
        cost = np.r_[pc[fwd], pc[back]]
        t1 = np.bincount(to, cost * (frm == 1), minlength=nc)
        t0 = np.bincount(to, cost * (frm == 0), minlength=nc)
        hit = np.unique(to)
        side[hit] = np.where(
            t1[hit] > t0[hit], 1, np.where(t0[hit] > t1[hit], 0, cleft[hit].astype(np.int64))
        )
    side = np.where(side < 0, cleft, side)  # unreachable pieces (disconnected input) stay
    return side[comp] == 1


def _fallback(nodes, xy, w, a, b, seg, lmin, lmax, kk, rng) -> tuple[np.ndarray, bool]:
    """Cut one segment by region growing, else near the wanted share.

    Returns the left side of ``nodes`` and whether it is a valid cut.
    """
    s = seg[nodes[0]]
    pos = np.full(len(seg), -1, dtype=np.int64)
    pos[nodes] = np.arange(len(nodes))
    e = (seg[a] == s) & (seg[b] == s)
    la, lb = pos[a[e]], pos[b[e]]
    sx, sw = xy[nodes], w[nodes]
    if lmin <= lmax and 2 <= len(nodes) <= GROW_LIMIT:
        lm = grow(sx, sw, la, lb, int(lmin), int(lmax), rng)
        if lm is not None:
            return lm, True
    return best_effort(sx, sw, la, lb, (kk // 2) / kk), False
