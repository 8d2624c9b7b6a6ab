"""Local search after the bisection: boundary moves and swaps that shorten the cut.

A household on the edge of its area moves to a neighbouring area when that
lowers the total cost of cut edges plus a pull towards the area's centre
(compactness), and both areas stay within bounds and connected. A cut edge costs
its class cost (cheap across streets, dear within a lane) times the length of
the border the two households' cells share, so the search shortens the areas'
real outlines (which is what Polsby–Popper measures) along streets.

Single moves stall at the bounds: most areas end up at the minimum or maximum,
and an area of 20 can take no household however much better it would fit. So
each round also tries *swaps*: a household ``x`` of area ``s`` that would do
better in a neighbouring area ``t`` is exchanged with a household ``y`` of ``t``
that borders ``s``, when the two moves together gain. The sizes stay as they
were (households of equal weight, or the bounds are checked), and each half of
the swap is checked for connectivity like a single move.

Moves and swaps never break a guarantee, so the pass can stop at any time; it
runs a few rounds or until nothing improves.
"""

from __future__ import annotations

import numpy as np

from gridding.graph import NeighbourGraph

#: Partners tried for each household in the swap pass (best first).
SWAP_PARTNERS = 3
#: Longest border counted, in median borders (hull cells reach into fields).
BORDER_CAP = 1.5
#: A round moving fewer than one household in this many is the last.
STOP_SHARE = 1000
#: Gains at or below this are treated as none (float noise).
EPS = 1e-9


def _perimeter_cost(graph: NeighbourGraph, keep: np.ndarray) -> np.ndarray:
    """Cut costs scaled by the border the two cells share (relative to the median).

    The area polygons are unions of the households' cells, so an area's
    perimeter is the sum of the borders of its cut edges: weighting each cut by
    its border makes the search shorten the real outline, not just count pairs.
    Hull edges and very long borders are capped at :data:`BORDER_CAP` medians.
    """
    cost = graph.cost[keep]
    if graph.border is None:
        return cost
    border = graph.border[keep]
    finite = np.isfinite(border)
    if not finite.any():
        return cost
    med = max(float(np.median(border[finite])), 1e-9)
    return cost * np.minimum(border, BORDER_CAP * med) / med


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
    swaps: bool = True,
) -> tuple[np.ndarray, int]:
    """Improve a partition by single-household boundary moves and swaps.

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
    swaps : bool
        Whether to try swaps when single moves are blocked by the bounds.

    Returns
    -------
    labels : ndarray
        The improved labels.
    moves : int
        Households that changed area (a swap counts two).
    """
    state = _State(graph, labels, lo, hi, movable, compactness)
    total = 0
    # Rounds after the first few move a handful of households each: stop when a
    # round moves fewer than one in STOP_SHARE (or none, for small inputs).
    few = int(graph.weight.sum()) // STOP_SHARE
    for _ in range(rounds):
        moved = state.move_pass()
        if swaps:
            moved += state.swap_pass()
        total += moved
        if moved <= few:
            break
    return state.labels(), total


class _State:
    """A partition being improved: labels, sizes and centroids, kept in step."""

    def __init__(self, graph, labels, lo, hi, movable, compactness):
        k = int(labels.max()) + 1
        self.movable = np.ones(k, dtype=bool) if movable is None else movable
        self.lo, self.hi = lo, hi
        # Soft edges neither hold an area together nor attract a household across.
        keep = ~graph.soft
        self.u, self.v, self.c = graph.u[keep], graph.v[keep], _perimeter_cost(graph, keep)
        ip, nb, cc = _csr(graph.n, self.u, self.v, self.c)
        self.ip, self.nb, self.cc = ip.tolist(), nb.tolist(), cc.tolist()
        # Contiguity counts every edge: a merged unit's area may hang on a soft one.
        fp, fn, _ = _csr(graph.n, graph.u, graph.v, graph.cost)
        self.fp, self.fn = fp.tolist(), fn.tolist()
        self.w = graph.weight.tolist()
        self.xy = graph.xy
        self.px, self.py = graph.xy[:, 0].tolist(), graph.xy[:, 1].tolist()
        wf = graph.weight.astype(float)
        size = np.bincount(labels, graph.weight, minlength=k).astype(np.int64)
        sx = np.bincount(labels, wf * graph.xy[:, 0], minlength=k)
        sy = np.bincount(labels, wf * graph.xy[:, 1], minlength=k)
        cx, cy = sx / size, sy / size
        spread = float(
            np.mean((graph.xy[:, 0] - cx[labels]) ** 2 + (graph.xy[:, 1] - cy[labels]) ** 2)
        )
        self.mu = compactness / max(spread, 1e-9)
        self.size, self.sx, self.sy = size.tolist(), sx.tolist(), sy.tolist()
        self.lab = labels.tolist()

    def labels(self) -> np.ndarray:
        return np.asarray(self.lab, dtype=np.int64)

    def gain(self, x: int, s: int, t: int) -> tuple[float, float]:
        """Gain of moving ``x`` from ``s`` to ``t``, and ``x``'s tie to ``t``."""
        lab, nb, cc = self.lab, self.nb, self.cc
        to_s = to_t = 0.0
        for j in range(self.ip[x], self.ip[x + 1]):
            ly = lab[nb[j]]
            if ly == s:
                to_s += cc[j]
            elif ly == t:
                to_t += cc[j]
        px, py = self.px[x], self.py[x]
        ns, nt = self.size[s], self.size[t]
        ds = (px - self.sx[s] / ns) ** 2 + (py - self.sy[s] / ns) ** 2
        dt = (px - self.sx[t] / nt) ** 2 + (py - self.sy[t] / nt) ** 2
        return to_t - to_s + self.mu * (ds - dt), to_t

    def move(self, x: int, s: int, t: int) -> None:
        wx = self.w[x]
        self.lab[x] = t
        self.size[s] -= wx
        self.size[t] += wx
        self.sx[s] -= wx * self.px[x]
        self.sy[s] -= wx * self.py[x]
        self.sx[t] += wx * self.px[x]
        self.sy[t] += wx * self.py[x]

    def fits(self, s: int, t: int, out_s: int, out_t: int = 0) -> bool:
        """Whether ``s`` losing ``out_s`` to ``t`` and ``t`` losing ``out_t`` keeps bounds."""
        ns = self.size[s] - out_s + out_t
        nt = self.size[t] + out_s - out_t
        return self.lo[s] <= ns <= self.hi[s] and self.lo[t] <= nt <= self.hi[t]

    def leaves(self, x: int, s: int) -> bool:
        return _stays_connected(x, s, self.lab, self.fp, self.fn)

    def move_pass(self) -> int:
        """Single moves, best gain first; households moved."""
        cand, target, _ = _candidates(self, best_only=True)
        movable, w = self.movable, self.w
        moved = 0
        for x, t in zip(cand.tolist(), target.tolist(), strict=True):
            s = self.lab[x]
            if s == t or not (movable[s] and movable[t]) or not self.fits(s, t, w[x]):
                continue
            # Gain may be stale after earlier moves: recompute it.
            g, tie = self.gain(x, s, t)
            if g <= EPS or tie <= 0 or not self.leaves(x, s):
                continue
            self.move(x, s, t)
            moved += w[x]
        return moved

    def swap_pass(self) -> int:
        """Swaps of two households between neighbouring areas; households moved."""
        node, area, gain = _candidates(self, best_only=False)
        if len(node) == 0:
            return 0
        own = self.labels()[node]
        k = len(self.size)
        # Partners: for each (area t, neighbour s), its households best moved to s,
        # as a sorted key array (t·k + s) searched per candidate.
        order = np.lexsort((node, -gain, area, own))
        pkey = own[order] * k + area[order]
        head = np.r_[True, pkey[1:] != pkey[:-1]]
        at = np.arange(len(order))
        top = order[at - np.maximum.accumulate(np.where(head, at, 0)) < SWAP_PARTNERS]
        pkey = own[top] * k + area[top]
        pnode = node[top].tolist()
        movable, w, size, hi, lo = self.movable, self.w, self.size, self.hi, self.lo
        # Households worth moving whose move the bounds block (t full or s at its minimum).
        first = np.flatnonzero(gain > EPS)
        first = first[np.lexsort((node[first], -gain[first]))]
        fs, ft, fw = own[first], area[first], np.asarray(self.w)[node[first]]
        sz = np.asarray(size)
        blocked = (sz[ft] + fw > hi[ft]) | (sz[fs] - fw < lo[fs])
        first = first[blocked]
        # Partners of x (in s, bound for t) are households of t that border s.
        want = area[first] * k + own[first]
        start = np.searchsorted(pkey, want).tolist()
        pkey = pkey.tolist()
        swapped = 0
        for x, s, t, j0 in zip(
            node[first].tolist(), own[first].tolist(), area[first].tolist(), start, strict=True
        ):
            if self.lab[x] != s or not (movable[s] and movable[t]):
                continue
            tk = t * k + s
            for j in range(j0, len(pnode)):
                if pkey[j] != tk:
                    break
                y = pnode[j]
                if self.lab[y] != t or not self.fits(s, t, w[x], w[y]):
                    continue
                gx, tie_x = self.gain(x, s, t)
                if tie_x <= 0 or not self.leaves(x, s):
                    break
                self.move(x, s, t)
                gy, tie_y = self.gain(y, t, s)
                if gx + gy > EPS and tie_y > 0 and self.leaves(y, t):
                    self.move(y, t, s)
                    swapped += w[x] + w[y]
                    break
                self.move(x, t, s)  # undo
        return swapped


def _candidates(state: _State, best_only: bool):
    """Boundary nodes and the neighbouring areas they could move to, with gains.

    With ``best_only``, one entry per node (its best positive-gain target), best
    gain first; otherwise every (node, neighbouring area) pair, any gain.
    """
    labels = state.labels()
    u, v, c, movable = state.u, state.v, state.c, state.movable
    k = len(state.size)
    size = np.asarray(state.size, dtype=float)
    cx = np.asarray(state.sx) / np.maximum(size, 1)
    cy = np.asarray(state.sy) / np.maximum(size, 1)
    xy = state.xy
    empty = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    if not (labels[u] != labels[v]).any():
        return empty
    # Tie of each node to each neighbouring area (own area included).
    node = np.r_[u, v]
    area = np.r_[labels[v], labels[u]]
    cost = np.r_[c, c]
    key = node.astype(np.int64) * k + area
    keys, inv = np.unique(key, return_inverse=True)
    tie = np.bincount(inv.ravel(), cost)
    kn, ka = keys // k, keys % k
    own = ka == labels[kn]
    own_tie = np.zeros(len(labels))
    own_tie[kn[own]] = tie[own]
    gain = tie - own_tie[kn]
    own_l = labels[kn]
    gain += state.mu * (
        (xy[kn, 0] - cx[own_l]) ** 2
        + (xy[kn, 1] - cy[own_l]) ** 2
        - (xy[kn, 0] - cx[ka]) ** 2
        - (xy[kn, 1] - cy[ka]) ** 2
    )
    ok = ~own & movable[ka] & movable[own_l]
    if best_only:
        ok &= gain > EPS
    if not ok.any():
        return empty
    kn, ka, gain = kn[ok], ka[ok], gain[ok]
    if not best_only:
        return kn, ka, gain
    order = np.lexsort((ka, kn, -gain))
    kn, ka, gain = kn[order], ka[order], gain[order]
    _, first = np.unique(kn, return_index=True)
    first = np.sort(first)
    return kn[first], ka[first], gain[first]


def _stays_connected(x: int, s: int, lab, ip: list, nb: list) -> bool:
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
