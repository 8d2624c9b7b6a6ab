"""The iterated local search's moves: 2-opt and or-opt, insertion, swap, perturbation."""

from __future__ import annotations

import numpy as np

from layers.patrol.orienteering.tour import _EPS, tour_time


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
