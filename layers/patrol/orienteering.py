"""The orienteering problem: most prize from optional stops within a time budget.

A patrol with a time budget leaves the base, stops at some hotspots (each with a
prize and a stop time, 10–15 minutes for a Koper stop) and returns in time.
Two solvers, the exact one first:

* **Exact dynamic programme** (Held–Karp over the subsets that fit). With
  12-minute stops a 60-minute patrol makes at most four stops, so only a few
  thousand subsets of 20 hotspots fit in the budget and the programme proves
  the optimum in milliseconds. It gives up (and hands over to the search below)
  as soon as the subsets that fit pass ``exact_states``, which is what happens
  with many short stops (50 checkpoints, 1-minute stops, 2 hours).
* **Iterated local search** over (which stops, in what order) in plain Python,
  fast and strong on the larger cases:

  - construction by best prize-per-extra-second insertion;
  - local search: 2-opt and or-opt on the order, then insertion of any stop
    that still fits, then replacement of a visited stop by a better unvisited one;
  - perturbation: drop a random part of the route and rebuild it with noisy ratios.

The search is deterministic for a seed and stops after ``max_iter`` rounds or
``time_limit_s``, whichever comes first (the time limit is a safety net: on an
idle machine 400 rounds of 50 candidates take about 0.35 s; only when it cuts
the search short does the result depend on the machine's load).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csgraph

_EPS = 1e-9


@dataclass(frozen=True)
class Tour:
    """Stops in visiting order (indices 1..k of the matrix; 0 is the base)."""

    stops: tuple[int, ...]
    time_s: float
    prize: float
    #: True when the exact programme proved no tour within the budget has more prize.
    optimal: bool = False


def tour_time(dist: np.ndarray, service: np.ndarray, stops: list[int] | tuple[int, ...]) -> float:
    """Walking plus stop time of base → stops → base."""
    if not stops:
        return 0.0
    seq = [0, *stops, 0]
    return float(dist[seq[:-1], seq[1:]].sum() + service[list(stops)].sum())


def _best_insertion(dist: np.ndarray, route: list[int], i: int) -> tuple[float, int]:
    """Cheapest extra walking to put ``i`` into ``route`` and the position."""
    seq = np.array([0, *route, 0])
    a, b = seq[:-1], seq[1:]
    delta = dist[a, i] + dist[i, b] - dist[a, b]
    k = int(np.argmin(delta))
    return float(delta[k]), k


def _two_opt(dist: np.ndarray | list[list[float]], route: list[int]) -> list[int]:
    """2-opt and or-opt (moving runs of 1–3 stops) until no move shortens the walk.

    ``dist`` may be a list of lists: scalar look-ups in lists are several times
    faster than in numpy arrays, and this loop is the hot spot of the search.
    """
    d = dist.tolist() if isinstance(dist, np.ndarray) else dist
    seq = [0, *route, 0]
    improved = True
    while improved and len(seq) > 3:
        improved = False
        n = len(seq)
        for i in range(1, n - 2):
            a, b = seq[i - 1], seq[i]
            dab = d[a][b]
            for j in range(i + 1, n - 1):
                c, e = seq[j], seq[j + 1]
                if d[a][c] + d[b][e] < dab + d[c][e] - _EPS:
                    seq[i : j + 1] = seq[i : j + 1][::-1]
                    improved = True
                    a, b = seq[i - 1], seq[i]
                    dab = d[a][b]
        for seg in (1, 2, 3):
            i = 1
            while i + seg < len(seq):
                first, last = seq[i], seq[i + seg - 1]
                p, q = seq[i - 1], seq[i + seg]
                gain = d[p][first] + d[last][q] - d[p][q]
                best, where, rev = gain - _EPS, -1, False
                # Edges (seq[k], seq[k+1]) outside the run and not touching it.
                for k in range(len(seq) - 1):
                    if i - 1 <= k <= i + seg - 1:
                        continue
                    x, y = seq[k], seq[k + 1]
                    dx = d[x]
                    base = dx[y]
                    fwd = dx[first] + d[last][y] - base
                    bwd = dx[last] + d[first][y] - base
                    if fwd < best:
                        best, where, rev = fwd, k, False
                    if bwd < best:
                        best, where, rev = bwd, k, True
                if where >= 0:
                    run = seq[i : i + seg]
                    moved = run[::-1] if rev else run
                    rest = seq[:i] + seq[i + seg :]
                    at = where if where < i else where - seg
                    seq = rest[: at + 1] + moved + rest[at + 1 :]
                    improved = True
                i += 1
    return seq[1:-1]


def _exact(
    dist: np.ndarray, service: np.ndarray, prize: np.ndarray, budget: float, max_states: int
) -> list[int] | None:
    """The optimal tour by Held–Karp over the subsets that fit, or None past ``max_states``.

    States are (subset, last stop) with the least time to have served the
    subset ending there; a state is kept only when the shortest way home still
    fits, so the levels hold just the subsets that can be completed. For a
    fixed subset and last stop the previous subset is unique, which makes each
    level one vectorised step.
    """
    useful = np.flatnonzero(prize > 0)
    useful = useful[useful > 0]
    m = len(useful)
    if m == 0:
        return []
    if m > 62:
        return None
    idx = np.r_[0, useful]
    d = dist[np.ix_(idx, idx)]
    sv = service[idx]
    pz = prize[idx]
    # Shortest times back to the base (the closure, in case the matrix is not
    # metric) bound what any extension of a state still needs.
    back = csgraph.shortest_path(d, method="D", directed=True)[:, 0]
    bit = np.r_[0, 1 << np.arange(m, dtype=np.int64)].astype(np.int64)
    # Level 1: base -> j.
    cost = np.full((m, m + 1), np.inf)
    arr1 = d[0, 1:] + sv[1:]
    ok = arr1 + back[1:] <= budget + _EPS
    cost[np.arange(m), np.arange(1, m + 1)] = np.where(ok, arr1, np.inf)
    keep = ok
    masks = bit[1:][keep]
    cost = cost[keep]
    levels = [(masks, cost, None, None)]
    best = (0.0, 0.0, None)  # prize, -time, (level, row, end)
    states = len(masks)
    lv = 0
    while len(masks):
        # Close every state: tour time through its best end.
        tot = cost + d[:, 0][None, :]
        end = np.argmin(tot, axis=1)
        t = tot[np.arange(len(masks)), end]
        pr = (((masks[:, None] & bit[None, 1:]) != 0) * pz[1:][None, :]).sum(axis=1)
        key = np.lexsort((t, -pr))[0]
        if (pr[key], -t[key]) > best[:2] and np.isfinite(t[key]):
            best = (float(pr[key]), float(-t[key]), (lv, int(key), int(end[key])))
        # Extend: arrive at j (not in the mask) from the best end i.
        inmask = (masks[:, None] & bit[None, :]) != 0
        inmask[:, 0] = True
        new = np.full((len(masks), m + 1), np.inf)
        frm = np.zeros((len(masks), m + 1), dtype=np.int64)
        for i in range(1, m + 1):
            c = cost[:, i, None] + d[i][None, :]
            better = c < new
            new = np.where(better, c, new)
            frm = np.where(better, i, frm)
        new += sv[None, :]
        new[inmask] = np.inf
        new[new + back[None, :] > budget + _EPS] = np.inf
        rows, cols = np.nonzero(np.isfinite(new))
        if not len(rows):
            break
        nm = masks[rows] | bit[cols]
        uniq, inv = np.unique(nm, return_inverse=True)
        states += len(uniq)
        if states > max_states:
            return None
        ncost = np.full((len(uniq), m + 1), np.inf)
        ncost[inv, cols] = new[rows, cols]
        par = np.full((len(uniq), m + 1), -1, dtype=np.int64)
        par[inv, cols] = rows
        pend = np.zeros((len(uniq), m + 1), dtype=np.int64)
        pend[inv, cols] = frm[rows, cols]
        masks, cost = uniq, ncost
        levels.append((masks, cost, par, pend))
        lv += 1
    if best[2] is None:
        return []
    lv, row, endj = best[2]
    route = []
    while True:
        route.append(int(idx[endj]))
        if lv == 0:
            break
        _, _, par, pend = levels[lv]
        row, endj = int(par[row, endj]), int(pend[row, endj])
        lv -= 1
    return route[::-1]


class _Search:
    """State shared by the moves of one solve (vectorised over candidate stops)."""

    def __init__(self, dist, service, prize, budget, rng):
        self.dist = dist
        self.service = service
        self.prize = prize
        self.budget = budget
        self.rng = rng
        self.dl = dist.tolist()
        self.memo: dict[tuple[int, ...], list[int]] = {}
        self.useful = np.flatnonzero(prize > 0)

    def order(self, r: list[int]) -> list[int]:
        """:func:`_two_opt`, remembered: the search meets a third of its inputs again."""
        key = tuple(r)
        if key not in self.memo:
            if len(self.memo) > 50_000:
                self.memo.clear()
            self.memo[key] = _two_opt(self.dl, r)
        return list(self.memo[key])

    def time(self, r: list[int]) -> float:
        return tour_time(self.dist, self.service, r)

    def value(self, r: list[int]) -> tuple[float, float]:
        return (float(self.prize[r].sum()) if r else 0.0, -self.time(r))

    def _out(self, r: list[int]) -> np.ndarray:
        return np.setdiff1d(self.useful, r, assume_unique=True)

    def fill(self, r: list[int], noise: float = 0.0) -> list[int]:
        """Insert stops by best (noisy) prize per extra second while they fit."""
        r = list(r)
        t = self.time(r)
        out = self._out(r)
        while len(out):
            seq = np.array([0, *r, 0])
            a, b = seq[:-1], seq[1:]
            delta = self.dist[a][:, out] + self.dist[out][:, b].T - self.dist[a, b][:, None]
            pos = np.argmin(delta, axis=0)
            extra = delta[pos, np.arange(len(out))] + self.service[out]
            fits = t + extra <= self.budget + _EPS
            if not fits.any():
                break
            score = self.prize[out] / np.maximum(extra, 1.0)
            if noise:
                score = score * np.exp(noise * self.rng.standard_normal(len(out)))
            score[~fits] = -np.inf
            k = int(np.argmax(score))
            r.insert(int(pos[k]), int(out[k]))
            t += float(extra[k])
            out = np.delete(out, k)
        return r

    def swap(self, r: list[int]) -> list[int]:
        """Replace one visited stop by an unvisited one: more prize, or the same in less time."""
        while r:
            out = self._out(r)
            if not len(out):
                return r
            t = self.time(r)
            seq = np.array([0, *r, 0])
            m = len(r)
            prev, nxt = seq[:-2], seq[2:]
            # Time saved by dropping each visited stop j (position j + 1 in seq).
            save = self.dist[prev, r] + self.dist[r, nxt] - self.dist[prev, nxt] + self.service[r]
            a, b = seq[:-1], seq[1:]
            ins = self.dist[a][:, out] + self.dist[out][:, b].T - self.dist[a, b][:, None]
            # Without j, the legs (prev, j) and (j, next) become (prev, next); the
            # other legs keep their insertion costs (prefix/suffix minima skip j's).
            big = np.full((1, len(out)), np.inf)
            pre = np.minimum.accumulate(np.r_[big, ins], axis=0)  # pre[j] = min ins[:j]
            suf = np.minimum.accumulate(np.r_[ins, big][::-1], axis=0)[::-1]  # suf[j] = min ins[j:]
            bridge = (
                self.dist[prev][:, out] + self.dist[out][:, nxt].T - self.dist[prev, nxt][:, None]
            )
            best = np.minimum(np.minimum(pre[:m], suf[2 : m + 2]), bridge).T
            new_t = t - save[None, :] + best + self.service[out][:, None]
            gain = self.prize[out][:, None] - self.prize[r][None, :]
            ok = (new_t <= self.budget + _EPS) & (
                (gain > _EPS) | ((np.abs(gain) <= _EPS) & (new_t < t - 1.0))
            )
            if not ok.any():
                return r
            key = np.where(ok, gain * 1e6 - new_t, -np.inf)
            i, j = np.unravel_index(int(np.argmax(key)), key.shape)
            rest = r[:j] + r[j + 1 :]
            _, p = _best_insertion(self.dist, rest, int(out[i]))
            r = self.fill(self.order([*rest[:p], int(out[i]), *rest[p:]]))
        return r

    def local(self, r: list[int]) -> list[int]:
        r = self.fill(self.order(r))
        return self.swap(r)

    def drop_to_budget(self, r: list[int], keep: set[int]) -> list[int]:
        """Remove the stops of least prize per saved second until the tour fits."""
        r = list(r)
        while self.time(r) > self.budget + _EPS:
            seq = np.array([0, *r, 0])
            prev, nxt, arr = seq[:-2], seq[2:], np.asarray(r)
            save = (
                self.dist[prev, arr]
                + self.dist[arr, nxt]
                - self.dist[prev, nxt]
                + self.service[arr]
            )
            ratio = self.prize[arr] / np.maximum(save, 1.0)
            ratio[[s in keep for s in r]] = np.inf
            if np.isinf(ratio).all():
                ratio[:] = self.prize[arr] / np.maximum(save, 1.0)
            r.pop(int(np.argmin(ratio)))
        return r

    def perturb(self, r: list[int]) -> list[int]:
        """Shake the tour: drop random stops, cut a segment, or force new stops in."""
        move = self.rng.random()
        n = len(r)
        out = self._out(r)
        if move < 1 / 3 and len(out):
            # Forcing one or two unvisited stops in reaches exchanges (one hotspot for
            # two quick checkpoints, say) that single swaps cannot.
            forced = self.rng.choice(
                out, size=min(len(out), int(self.rng.integers(1, 3))), replace=False
            )
            kept = list(r)
            for i in forced:
                _, p = _best_insertion(self.dist, kept, int(i))
                kept.insert(p, int(i))
            kept = self.drop_to_budget(self.order(kept), {int(i) for i in forced})
        elif move < 2 / 3 and n:
            q = int(self.rng.integers(1, max(2, n // 2 + 1)))
            drop = set(self.rng.choice(r, size=min(q, n), replace=False).tolist())
            kept = [s for s in r if s not in drop]
        elif n:
            a = int(self.rng.integers(0, n))
            b = int(self.rng.integers(a + 1, n + 1))
            kept = r[:a] + r[b:]
        else:
            kept = []
        return self.fill(self.order(kept), noise=0.5)


def solve_orienteering(
    dist: np.ndarray,
    service: np.ndarray,
    prize: np.ndarray,
    budget: float,
    *,
    seed: int = 0,
    max_iter: int = 400,
    time_limit_s: float = 0.8,
    exact_states: int = 20_000,
) -> Tour:
    """Best tour found from the base (index 0) within ``budget``.

    Parameters
    ----------
    dist : ndarray, shape ``(k, k)``
        Travel time between the base (0) and the candidate stops (1..k−1).
    service : ndarray, shape ``(k,)``
        Stop time at each (index 0 ignored).
    prize : ndarray, shape ``(k,)``
        Value of visiting each stop (index 0 ignored; ≤ 0 never visited).
    budget : float
        Time budget for walking plus stops.
    seed : int
        Seed of the perturbations.
    max_iter : int
        Rounds of perturbation and local search.
    time_limit_s : float
        Cap on the search's CPU time (s).
    exact_states : int
        Subsets the exact programme may enumerate before handing over to the
        search (0: search only).

    Returns
    -------
    Tour
    """
    dist = np.asarray(dist, dtype=float)
    service = np.asarray(service, dtype=float).copy()
    prize = np.asarray(prize, dtype=float).copy()
    service[0] = 0.0
    prize[0] = 0.0
    # Stops that cannot be reached and left within the budget never help.
    reach = dist[0] + service + dist[:, 0] <= budget + _EPS
    prize[~reach] = 0.0
    if exact_states > 0:
        route = _exact(dist, service, prize, float(budget), exact_states)
        if route is not None:
            return Tour(
                tuple(route),
                tour_time(dist, service, route),
                float(prize[route].sum()) if route else 0.0,
                optimal=True,
            )
    rng = np.random.default_rng(seed)
    s = _Search(dist, service, prize, float(budget), rng)
    # CPU time of this thread, not wall time: on a loaded machine the search
    # keeps its rounds (and its result) and only the wait grows.
    start = time.thread_time()
    cur = s.local(s.fill([]))
    best = cur
    best_v = s.value(best)
    cur_v = best_v
    for _ in range(max_iter):
        if time.thread_time() - start > time_limit_s:
            break
        cand = s.local(s.perturb(cur))
        v = s.value(cand)
        if v > best_v:
            best, best_v = cand, v
        # Accept sideways and small downhill moves to wander between optima.
        if v >= cur_v or rng.random() < 0.1:
            cur, cur_v = cand, v
        if rng.random() < 0.05:
            cur, cur_v = best, best_v
    best = _two_opt(dist, best)
    if len(set(best)) != len(best):
        raise RuntimeError("a stop was planned twice")
    return Tour(
        tuple(int(i) for i in best), s.time(best), float(prize[best].sum()) if best else 0.0
    )


@dataclass(frozen=True)
class TourSet:
    """Every stop set that fits in the budget, with its shortest tour time.

    Attributes
    ----------
    members : ndarray of bool, shape ``(n, k)``
        Row ``i`` marks the stops (matrix indices 1..k as columns 0..k−1) of set ``i``.
    time_s : ndarray, shape ``(n,)``
        Least walking plus stop time of a tour through set ``i`` (exact).
    """

    members: np.ndarray
    time_s: np.ndarray


def enumerate_tours(
    dist: np.ndarray, service: np.ndarray, budget: float, *, max_sets: int = 200_000
) -> TourSet | None:
    """All non-empty stop sets whose shortest tour from the base fits in ``budget``.

    The same Held–Karp levels as the exact orienteering programme, kept whole:
    a set is feasible exactly when some state (set, last stop) of its level
    can still get home in time, so the levels list every feasible set once,
    each with its least tour time. ``None`` when there are more than
    ``max_sets`` sets (the caller then falls back to sampled routes).

    Parameters
    ----------
    dist : ndarray, shape ``(k + 1, k + 1)``
        Travel times; index 0 is the base.
    service : ndarray, shape ``(k + 1,)``
        Stop times (index 0 ignored).
    budget : float
    max_sets : int

    Returns
    -------
    TourSet or None
    """
    dist = np.asarray(dist, dtype=float)
    service = np.asarray(service, dtype=float).copy()
    service[0] = 0.0
    k = len(dist) - 1
    reach = np.flatnonzero(dist[0, 1:] + service[1:] + dist[1:, 0] <= budget + _EPS) + 1
    m = len(reach)
    if m == 0:
        return TourSet(np.zeros((0, k), dtype=bool), np.zeros(0))
    if m > 62:
        return None
    idx = np.r_[0, reach]
    d = dist[np.ix_(idx, idx)]
    sv = service[idx]
    back = csgraph.shortest_path(d, method="D", directed=True)[:, 0]
    bit = np.r_[0, 1 << np.arange(m, dtype=np.int64)].astype(np.int64)
    cost = np.full((m, m + 1), np.inf)
    cost[np.arange(m), np.arange(1, m + 1)] = d[0, 1:] + sv[1:]
    masks = bit[1:].copy()
    all_masks, all_t = [], []
    total = 0
    while len(masks):
        tot = (cost + d[:, 0][None, :]).min(axis=1)
        ok = tot <= budget + _EPS
        masks, cost, tot = masks[ok], cost[ok], tot[ok]
        if not len(masks):
            break
        total += len(masks)
        if total > max_sets:
            return None
        all_masks.append(masks)
        all_t.append(tot)
        inmask = (masks[:, None] & bit[None, :]) != 0
        inmask[:, 0] = True
        new = np.full((len(masks), m + 1), np.inf)
        for i in range(1, m + 1):
            new = np.minimum(new, cost[:, i, None] + d[i][None, :])
        new += sv[None, :]
        new[inmask] = np.inf
        new[new + back[None, :] > budget + _EPS] = np.inf
        rows, cols = np.nonzero(np.isfinite(new))
        if not len(rows):
            break
        nm = masks[rows] | bit[cols]
        uniq, inv = np.unique(nm, return_inverse=True)
        ncost = np.full((len(uniq), m + 1), np.inf)
        np.minimum.at(ncost, (inv, cols), new[rows, cols])
        masks, cost = uniq, ncost
    masks = np.concatenate(all_masks)
    sub = (masks[:, None] & bit[None, 1:]) != 0
    members = np.zeros((len(masks), k), dtype=bool)
    members[:, reach - 1] = sub
    return TourSet(members, np.concatenate(all_t))
