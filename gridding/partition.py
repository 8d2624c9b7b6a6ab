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
may leave a side in pieces (a bend in a river, a concave village); the pieces are
handed to the other side by a two-source breadth-first search on the graph of
pieces, which keeps both sides connected. When no sweep gives a valid cut, a
slower region-growing search that keeps the remainder connected is tried.

This module knows nothing of geometry files or villages: nodes, coordinates,
weights, edges, costs and bounds.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from gridding.graph import component_labels

#: Units up to this many nodes get the region-growing fallback when sweeps fail.
GROW_LIMIT = 600


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
    m = len(xy)
    labels = np.zeros(m, dtype=np.int64)
    result = UnitResult(labels, k)
    stack = [(np.arange(m), eu, ev, ec, k, 0)]
    while stack:
        idx, su, sv, sc, kk, base = stack.pop()
        if kk == 1:
            labels[idx] = base
            continue
        sw = w[idx]
        k1, lmin, lmax = split_range(int(sw.sum()), kk, lo, hi)
        left = _bisect(xy[idx], sw, su, sv, sc, kk, lmin, lmax, rng)
        if left is None:
            result.exact = False
            left = _best_effort(xy[idx], sw, su, sv, k1 / kk)
            result.notes.append(
                f"no contiguous cut of {int(sw.sum())} into {kk} areas within {lo}..{hi}"
            )
        for mask, kc, bc in ((left, k1, base), (~left, kk - k1, base + k1)):
            keep = mask[su] & mask[sv]
            pos = np.cumsum(mask) - 1
            stack.append((idx[mask], pos[su[keep]], pos[sv[keep]], sc[keep], kc, bc))
    return result


def _directions(xy: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    """Sweep directions: the principal axis first, then turned by 90°, 45°, 135°."""
    c = xy - np.average(xy, axis=0, weights=w)
    cov = (c * w[:, None]).T @ c
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, np.argmax(vals)]
    a = math.atan2(major[1], major[0])
    return [
        np.array([math.cos(a + t), math.sin(a + t)])
        for t in (0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4)
    ]


def _bisect(
    xy: np.ndarray,
    w: np.ndarray,
    eu: np.ndarray,
    ev: np.ndarray,
    ec: np.ndarray,
    k: int,
    lmin: int,
    lmax: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """A connected left side (bool mask) of weight ``lmin..lmax`` whose rest is connected."""
    m = len(xy)
    if lmin > lmax or m < 2:
        return None
    total = float(w.sum())
    target = min(max(total * (k // 2) / k, lmin), lmax)
    half = max((lmax - lmin) / 2, 1.0)
    best: tuple[float, np.ndarray] | None = None
    for d in _directions(xy, w):
        proj = xy @ d
        order = np.argsort(proj, kind="stable")
        cw = np.cumsum(w[order])[:-1]  # weight of prefix of length p = 1..m-1
        valid = np.flatnonzero((cw >= lmin) & (cw <= lmax))
        if len(valid) == 0:
            continue
        rank = np.empty(m, dtype=np.int64)
        rank[order] = np.arange(m)
        a = np.minimum(rank[eu], rank[ev])
        b = np.maximum(rank[eu], rank[ev])
        # An edge is cut by every prefix length p with a < p <= b.
        diff = np.bincount(a + 1, ec, minlength=m + 1) - np.bincount(b + 1, ec, minlength=m + 1)
        cut = np.cumsum(diff)[1:m]
        cv = cut[valid]
        dev = (cw[valid] - target) / half
        score = cv + 0.5 * (np.median(cv) + 1e-9) * dev * dev
        for j in np.argsort(score, kind="stable")[:3]:
            if best is not None and score[j] >= best[0]:
                break
            left = np.zeros(m, dtype=bool)
            left[order[: valid[j] + 1]] = True
            left = _repair(left, eu, ev, w)
            lw = w[left].sum()
            if lmin <= lw <= lmax and 0 < left.sum() < m:
                best = (float(score[j]), left)
                break
    if best is not None:
        return best[1]
    if m <= GROW_LIMIT:
        return _grow(xy, w, eu, ev, lmin, lmax, rng)
    return None


def _repair(left: np.ndarray, eu: np.ndarray, ev: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Make both sides connected by handing stray pieces to the other side.

    Each side keeps its heaviest piece; every other piece joins the side whose
    main piece a two-source breadth-first search over the piece graph reaches
    first, so each side stays one connected region.
    """
    same = left[eu] == left[ev]
    comp = component_labels(len(left), eu[same], ev[same])
    nc = int(comp.max()) + 1
    if nc <= 2:
        return left
    cw = np.bincount(comp, w, minlength=nc)
    cleft = np.zeros(nc, dtype=bool)
    cleft[comp] = left
    main_l = int(np.argmax(np.where(cleft, cw, -1)))
    main_r = int(np.argmax(np.where(~cleft, cw, -1)))
    a, b = comp[eu[~same]], comp[ev[~same]]
    adj: list[list[int]] = [[] for _ in range(nc)]
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        adj[x].append(y)
        adj[y].append(x)
    side = [-1] * nc
    side[main_l], side[main_r] = 1, 0
    queue = deque([main_l, main_r])
    while queue:
        c = queue.popleft()
        for nb in sorted(adj[c]):
            if side[nb] < 0:
                side[nb] = side[c]
                queue.append(nb)
    return np.asarray(side, dtype=np.int64)[comp] == 1


def _adjacency(m: int, eu: np.ndarray, ev: np.ndarray) -> list[list[int]]:
    adj: list[list[int]] = [[] for _ in range(m)]
    for x, y in zip(eu.tolist(), ev.tolist(), strict=True):
        adj[x].append(y)
        adj[y].append(x)
    return adj


def _connected_without(adj: list[list[int]], alive: list[bool], count: int) -> bool:
    """Whether the ``count`` alive nodes form one connected piece."""
    if count <= 1:
        return True
    start = alive.index(True)
    seen = {start}
    stack = [start]
    while stack:
        x = stack.pop()
        for y in adj[x]:
            if alive[y] and y not in seen:
                seen.add(y)
                stack.append(y)
    return len(seen) == count


def _grow(
    xy: np.ndarray,
    w: np.ndarray,
    eu: np.ndarray,
    ev: np.ndarray,
    lmin: int,
    lmax: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Grow a connected left side from a seed, never disconnecting the rest.

    Slow (quadratic) but thorough: tried from the extreme nodes along the sweep
    directions and a few random ones.
    """
    m = len(xy)
    adj = _adjacency(m, eu, ev)
    wl = w.tolist()
    seeds: list[int] = []
    for d in _directions(xy, w):
        proj = xy @ d
        seeds += [int(np.argmin(proj)), int(np.argmax(proj))]
    seeds += rng.permutation(m)[:4].tolist()
    tried: set[int] = set()
    for s in seeds:
        if s in tried:
            continue
        tried.add(s)
        alive = [True] * m  # nodes on the right side
        alive[s] = False
        if not _connected_without(adj, alive, m - 1):
            continue
        count, weight = m - 1, wl[s]
        dist = np.hypot(*(xy - xy[s]).T).tolist()
        heap = [(dist[y], y) for y in adj[s]]
        heapq.heapify(heap)
        while count > 0:
            if lmin <= weight <= lmax:
                return ~np.asarray(alive)
            skipped = []
            added = False
            while heap:
                _, y = heapq.heappop(heap)
                if not alive[y] or weight + wl[y] > lmax:
                    continue
                alive[y] = False
                if _connected_without(adj, alive, count - 1):
                    count, weight, added = count - 1, weight + wl[y], True
                    for z in adj[y]:
                        if alive[z]:
                            heapq.heappush(heap, (dist[z], z))
                    break
                alive[y] = True
                skipped.append((dist[y], y))
            for item in skipped:
                heapq.heappush(heap, item)
            if not added:
                break
    return None


def _best_effort(
    xy: np.ndarray, w: np.ndarray, eu: np.ndarray, ev: np.ndarray, share: float
) -> np.ndarray:
    """A connected cut near the wanted share, ignoring the range (reported by caller)."""
    m = len(xy)
    if m < 2:
        return np.ones(m, dtype=bool)
    order = np.argsort(xy @ _directions(xy, w)[0], kind="stable")
    cw = np.cumsum(w[order])
    p = int(np.clip(np.searchsorted(cw, share * cw[-1]) + 1, 1, m - 1))
    left = np.zeros(m, dtype=bool)
    left[order[:p]] = True
    left = _repair(left, eu, ev, w)
    if left.all() or not left.any():
        left = np.zeros(m, dtype=bool)
        left[order[:p]] = True
    return left
