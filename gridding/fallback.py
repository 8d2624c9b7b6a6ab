"""Per-unit cut searches for the cases the batched sweep cannot settle.

:mod:`gridding.partition` cuts every unit of a level at once with sweep lines.
When none of a unit's sweep positions gives a valid cut (a very concave or
stringy unit), the unit gets these slower searches, one at a time: region
growing that keeps the remainder connected, and as a last resort a cut near the
wanted share that ignores the range (reported by the caller).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from gridding.graph import component_labels

#: Units up to this many nodes get the region-growing fallback when sweeps fail.
GROW_LIMIT = 600


def directions(xy: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
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


def repair(left: np.ndarray, eu: np.ndarray, ev: np.ndarray, w: np.ndarray) -> np.ndarray:
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


def grow(
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
    for d in directions(xy, w):
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


def best_effort(
    xy: np.ndarray, w: np.ndarray, eu: np.ndarray, ev: np.ndarray, share: float
) -> np.ndarray:
    """A connected cut near the wanted share, ignoring the range (reported by caller)."""
    m = len(xy)
    if m < 2:
        return np.ones(m, dtype=bool)
    order = np.argsort(xy @ directions(xy, w)[0], kind="stable")
    cw = np.cumsum(w[order])
    p = int(np.clip(np.searchsorted(cw, share * cw[-1]) + 1, 1, m - 1))
    left = np.zeros(m, dtype=bool)
    left[order[:p]] = True
    left = repair(left, eu, ev, w)
    if left.all() or not left.any():
        left = np.zeros(m, dtype=bool)
        left[order[:p]] = True
    return left
