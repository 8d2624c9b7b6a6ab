"""The overlap search: moves that keep the prize floor and visits, lowering the overlap.

Step 4 of :mod:`layers.patrol.weekplan`: replace one patrol's route, or
recombine two patrols' stops into two other listed routes, in an iterated
local search.
"""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np


def _jac(x: int, y: int) -> float:
    u = (x | y).bit_count()
    return (x & y).bit_count() / u if u else 1.0


def _improve(members, prizes, chosen, lo, hi, floor, cap, target, rng, search_s):
    """Lower the mean pairwise overlap of the chosen routes by moves that keep the rest.

    Moves: replace one patrol's route by any listed route (visits stay in
    range, the prize floor holds); recombine two patrols' stops into two other
    listed routes (same visits and prize). Iterated: random kicks and descents
    until the mean overlap of all pairs is below ``target`` or ``search_s``
    CPU seconds pass.
    """
    a = members.astype(np.int64)
    if members.shape[1] <= 62:
        masks = members.astype(np.int64) @ (1 << np.arange(members.shape[1], dtype=np.int64))
        masks = [int(mk) for mk in masks]
    else:
        weights = 1 << np.arange(members.shape[1], dtype=object)
        masks = [int(sum(int(w) for w, b in zip(weights, row, strict=True) if b))
                 for row in members]  # fmt: skip
    index = {mk: i for i, mk in enumerate(masks)}
    sizes = a.sum(axis=1)
    n = len(chosen)
    if n < 2:
        return members[list(chosen)]
    start = time.thread_time()
    ids = np.arange(len(masks))

    def overlap(cur: list[int]) -> float:
        cm = [masks[c] for c in cur]
        return sum(_jac(cm[i], cm[j]) for i, j in combinations(range(n), 2))

    def state(cur: list[int]):
        v = a[cur].sum(axis=0)
        viol = float(np.maximum(lo - v, 0).sum() + np.maximum(v - hi, 0).sum())
        return v, viol, float(prizes[cur].sum()), np.bincount(cur, minlength=len(masks))

    def replace_options(cur, i, v, viol0, total, uses):
        """Routes that may replace patrol i, and the overlap each would give it."""
        others = [cur[j] for j in range(n) if j != i]
        inter = a @ a[others].T
        union = sizes[:, None] + sizes[others][None, :] - inter
        row = (inter / np.maximum(union, 1)).sum(axis=1)
        cand_v = (v - a[cur[i]])[None, :] + a
        viol = (np.maximum(lo - cand_v, 0) + np.maximum(cand_v - hi, 0)).sum(axis=1)
        ok = viol <= viol0 + 1e-9
        ok &= (total - prizes[cur[i]] + prizes >= floor - 1e-6) | (prizes >= prizes[cur[i]])
        ok &= uses - (ids == cur[i]) < cap
        return ok, row, viol

    def descend(cur: list[int], stop: float = search_s) -> list[int]:
        cur = list(cur)
        v, viol0, total, uses = state(cur)
        improved = True
        while improved and time.thread_time() - start < stop:
            improved = False
            for i in rng.permutation(n):
                ok, row, viol = replace_options(cur, i, v, viol0, total, uses)
                gain = np.where(ok, row[cur[i]] - row, -np.inf)
                j = int(np.argmax(gain))
                if gain[j] > 1e-9:
                    uses[cur[i]] -= 1
                    uses[j] += 1
                    total += prizes[j] - prizes[cur[i]]
                    v = v - a[cur[i]] + a[j]
                    viol0 = float(viol[j])
                    cur[i] = j
                    improved = True
            # Recombination of two patrols: same visits, same prize.
            cm = [masks[c] for c in cur]
            for i, j in combinations(rng.permutation(n).tolist(), 2):
                if time.thread_time() - start > stop:
                    break
                mi, mj = cm[i], cm[j]
                common, diff = mi & mj, mi ^ mj
                bits = [b for b in range(diff.bit_length()) if diff >> b & 1]
                if not bits or len(bits) > 12:
                    continue
                rest = [cm[q] for q in range(n) if q not in (i, j)]
                old = sum(_jac(mi, r) + _jac(mj, r) for r in rest) + _jac(mi, mj)
                best = None
                for sub in range(1 << (len(bits) - 1)):
                    x = common
                    for t, b in enumerate(bits):
                        if sub >> t & 1:
                            x |= 1 << b
                    y = common | (diff & ~x)
                    if x not in index or y not in index or {x, y} == {mi, mj}:
                        continue
                    xi, yi = index[x], index[y]
                    if uses[xi] + 1 > cap or uses[yi] + 1 + (xi == yi) > cap:
                        continue
                    new = sum(_jac(x, r) + _jac(y, r) for r in rest) + _jac(x, y)
                    if new < old - 1e-9 and (best is None or new < best[0]):
                        best = (new, x, y)
                if best is not None:
                    for q, mk in ((i, best[1]), (j, best[2])):
                        uses[cur[q]] -= 1
                        cur[q] = index[mk]
                        uses[cur[q]] += 1
                        cm[q] = mk
                    improved = True
        return cur

    def kick(cur: list[int]) -> list[int]:
        """Two random moves that keep the constraints (worse or not): leave the local optimum."""
        cur = list(cur)
        for _ in range(2):
            v, viol0, total, uses = state(cur)
            i = int(rng.integers(n))
            ok, _, _ = replace_options(cur, i, v, viol0, total, uses)
            ok[cur[i]] = False
            if ok.any():
                cur[i] = int(rng.choice(np.flatnonzero(ok)))
        return cur

    best = descend([int(i) for i in chosen], stop=max(search_s, 0.3))
    best_ov = overlap(best)
    cur, cur_ov = best, best_ov
    # Iterated local search: kicks and descents until the cap is met with a
    # margin or the time is up (the first descent usually takes a tenth of it).
    while time.thread_time() - start < search_s and best_ov / (n * (n - 1) / 2) > target:
        cand = descend(kick(cur))
        ov = overlap(cand)
        if ov < best_ov - 1e-9:
            best, best_ov = cand, ov
        if ov <= cur_ov + 1e-9 or rng.random() < 0.1:
            cur, cur_ov = cand, ov
    return members[best]
