"""Local search after the bisection: boundary moves that shorten the cut.

A household on the edge of its area moves to a neighbouring area when that
lowers the total cost of cut edges (fewer and cheaper neighbour pairs split,
which is a shorter, straighter border that follows streets) and both areas stay
within bounds and connected. Moves never break a guarantee, so the pass can stop
at any time; it runs a few rounds or until nothing improves.
"""

from __future__ import annotations

import numpy as np

from gridding.graph import NeighbourGraph


def _csr(n: int, u: np.ndarray, v: np.ndarray, c: np.ndarray):
    a = np.r_[u, v]
    b = np.r_[v, u]
    w = np.r_[c, c]
    order = np.argsort(a, kind="stable")
    indptr = np.searchsorted(a[order], np.arange(n + 1))
    return indptr, b[order], w[order]


def refine(
    graph: NeighbourGraph,
    labels: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    movable: np.ndarray | None = None,
    rounds: int = 8,
    compactness: float = 2.0,
) -> tuple[np.ndarray, int]:
    """Improve a partition by single-household boundary moves.

    Parameters
    ----------
    graph : NeighbourGraph
        Household graph. Households are drawn only along non-soft edges; an area
        must stay connected over all its edges (a merged unit's area may hang on a
        soft one).
    labels : ndarray
        Area label per node (not modified).
    lo, hi : ndarray
        Bounds per area (the engine may have widened them for infeasible units).
    movable : ndarray of bool, optional
        Areas that may change (pinned or kept areas are not movable).
    rounds : int
        Maximum number of passes.
    compactness : float
        Weight of moving a household nearer its area's centre, in cut-edge units
        per mean squared area radius.

    Returns
    -------
    labels : ndarray
        The improved labels.
    moves : int
        Households moved.
    """
    labels = labels.copy()
    k = int(labels.max()) + 1
    if movable is None:
        movable = np.ones(k, dtype=bool)
    # Soft edges neither hold an area together nor attract a household across.
    keep = ~graph.soft
    u, v, c = graph.u[keep], graph.v[keep], graph.cost[keep]
    indptr, nbr, nc = _csr(graph.n, u, v, c)
    # Contiguity counts every edge: a merged unit's area may hang on a soft one.
    full_ptr, full_nbr, _ = _csr(graph.n, graph.u, graph.v, graph.cost)
    fp, fn = full_ptr.tolist(), full_nbr.tolist()
    size = np.bincount(labels, graph.weight, minlength=k).astype(np.int64)
    weight = graph.weight
    xy = graph.xy
    wf = weight.astype(float)
    sx = np.bincount(labels, wf * xy[:, 0], minlength=k)
    sy = np.bincount(labels, wf * xy[:, 1], minlength=k)
    cx, cy = sx / size, sy / size
    spread = float(np.mean((xy[:, 0] - cx[labels]) ** 2 + (xy[:, 1] - cy[labels]) ** 2))
    mu = compactness / max(spread, 1e-9)
    total = 0
    for _ in range(rounds):
        cx, cy = sx / np.maximum(size, 1), sy / np.maximum(size, 1)
        cand, target, gain = _candidates(labels, u, v, c, movable, xy, cx, cy, mu)
        if len(cand) == 0:
            break
        moved = 0
        lab = labels  # alias; updated in place
        ip, nb, cc = indptr.tolist(), nbr.tolist(), nc.tolist()
        for x, t in zip(cand.tolist(), target.tolist(), strict=True):
            s = int(lab[x])
            if s == t or not (movable[s] and movable[t]):
                continue
            wx = int(weight[x])
            if size[s] - wx < lo[s] or size[t] + wx > hi[t]:
                continue
            # Gain may be stale after earlier moves: recompute it.
            to_s = to_t = 0.0
            for j in range(ip[x], ip[x + 1]):
                ly = lab[nb[j]]
                if ly == s:
                    to_s += cc[j]
                elif ly == t:
                    to_t += cc[j]
            px, py = xy[x]
            ds = (px - sx[s] / size[s]) ** 2 + (py - sy[s] / size[s]) ** 2
            dt = (px - sx[t] / size[t]) ** 2 + (py - sy[t] / size[t]) ** 2
            if to_t - to_s + mu * (ds - dt) <= 1e-9 or to_t <= 0:
                continue
            if not _stays_connected(x, s, lab, fp, fn):
                continue
            lab[x] = t
            size[s] -= wx
            size[t] += wx
            sx[s] -= wx * px
            sy[s] -= wx * py
            sx[t] += wx * px
            sy[t] += wx * py
            moved += wx
        total += moved
        if moved == 0:
            break
        del gain
    return labels, total


def _candidates(labels, u, v, c, movable, xy, cx, cy, mu):
    """Boundary nodes with a positive-gain move, best gain first."""
    lu, lv = labels[u], labels[v]
    cross = lu != lv
    # Tie of each node to each neighbouring area (own area included).
    node = np.r_[u, v]
    area = np.r_[lv, lu]
    cost = np.r_[c, c]
    k = int(labels.max()) + 1
    key = node.astype(np.int64) * k + area
    keys, inv = np.unique(key, return_inverse=True)
    tie = np.bincount(inv.ravel(), cost)
    kn, ka = keys // k, keys % k
    own = ka == labels[kn]
    own_tie = np.zeros(len(labels))
    own_tie[kn[own]] = tie[own]
    gain = tie - own_tie[kn]
    own_l = labels[kn]
    gain += mu * (
        (xy[kn, 0] - cx[own_l]) ** 2
        + (xy[kn, 1] - cy[own_l]) ** 2
        - (xy[kn, 0] - cx[ka]) ** 2
        - (xy[kn, 1] - cy[ka]) ** 2
    )
    ok = ~own & (gain > 1e-9) & movable[ka] & movable[labels[kn]]
    if not cross.any() or not ok.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    kn, ka, gain = kn[ok], ka[ok], gain[ok]
    order = np.lexsort((ka, kn, -gain))
    kn, ka, gain = kn[order], ka[order], gain[order]
    _, first = np.unique(kn, return_index=True)
    first = np.sort(first)
    return kn[first], ka[first], gain[first]


def _stays_connected(x: int, s: int, lab: np.ndarray, ip: list, nb: list) -> bool:
    """Whether area ``s`` stays connected when node ``x`` leaves it."""
    same = [nb[j] for j in range(ip[x], ip[x + 1]) if lab[nb[j]] == s]
    if not same:
        return False  # x is alone (cannot happen within bounds) or held by soft edges only
    if len(same) == 1:
        return True
    # Breadth-first search inside the area, without x, from one same-area neighbour.
    targets = set(same)
    seen = {same[0], x}
    stack = [same[0]]
    targets.discard(same[0])
    while stack and targets:
        y = stack.pop()
        for j in range(ip[y], ip[y + 1]):
            z = nb[j]
            if z not in seen and lab[z] == s:
                seen.add(z)
                targets.discard(z)
                stack.append(z)
    return not targets
