"""A week of twice-daily patrols: varied routes and times, each hotspot its share of visits.

A patrol that walks the same route at the same time every day is easy to
avoid. The plan follows the Stackelberg security-game line (ARMOR, PROTECT),
with whole routes as the pure strategies:

1. **Route pool.** The orienteering solver plans many good routes: the best
   one, then routes whose prizes are damped for hotspots the pool already
   visits often, with log-normal noise. Every pool route is feasible.
2. **Targets**, fixed before any route is chosen. Given (``target_visits``),
   or by default the security-game coverage: the mixed strategy over the pool
   (a linear programme, each route at most ``max_repeat`` times a week) that
   minimises the largest risk left uncovered, max_t p_t · (1 − c_t), while
   keeping ``min_prize_share`` of the best route's prize on average; c_t times
   the week's patrols, rounded to whole visits (largest remainders), is the
   target. A week has whole visits only, so the target is a count.
3. **Selection.** A small integer program (HiGHS) picks ``days × windows``
   routes from the pool with every hotspot's visits within ``freq_tol`` of its
   target and the prize floor kept; a local search then swaps routes to bring
   the mean Jaccard overlap of the stop sets down to ``max_overlap`` without
   breaking the other two. Whatever cannot be met is named in
   :attr:`WeekPlan.shortfalls` (never silently dropped).
4. **Order and times.** Routes are shuffled over the days, then swapped so a
   patrol differs from the one before it; start times are stratified over the
   days within each window (every part of the window is used once a week).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from layers.patrol.budget import DEFAULT_SPEED_MPS, BudgetRoute, StopNetwork, budget_route
from layers.patrol.errors import PatrolInputError

#: Default patrol windows (minutes after midnight): morning and evening rounds.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((6 * 60, 10 * 60), (15 * 60, 20 * 60))


@dataclass(frozen=True)
class PlannedPatrol:
    """One patrol of the week: day, window, start time (minutes after midnight), route."""

    day: int
    slot: int
    start_min: float
    route: BudgetRoute


@dataclass(frozen=True)
class WeekPlan:
    """The week's patrols and how well they meet the targets.

    Attributes
    ----------
    patrols : list of PlannedPatrol
        In time order.
    target_visits : ndarray of int
        Visits per hotspot the week should make.
    target_freq : ndarray
        ``target_visits / len(patrols)``: share of patrols stopping at each hotspot.
    best : BudgetRoute
        The deterministic best route (the same every time, without variety).
    shortfalls : tuple of str
        Bilingual notes on the requirements the plan could not meet (prize
        floor, visit targets, overlap cap); empty when all are met.
    """

    patrols: list[PlannedPatrol]
    target_visits: np.ndarray
    target_freq: np.ndarray
    best: BudgetRoute
    shortfalls: tuple[str, ...] = ()

    @property
    def visits(self) -> np.ndarray:
        """Visits per hotspot in the plan."""
        v = np.zeros(len(self.target_visits), dtype=int)
        for p in self.patrols:
            v[p.route.stops] += 1
        return v

    def metrics(self, prize: np.ndarray) -> dict[str, float]:
        """Variety, prize and frequency figures of the plan.

        Parameters
        ----------
        prize : ndarray
            True priority of each hotspot (what the routes are scored with).

        Returns
        -------
        dict
            ``overlap_stops``: mean Jaccard similarity of the stop sets of patrols
            on different days (all such pairs); ``overlap_next_day``: the same
            over patrols on consecutive days only; ``overlap_lanes``: the same over walked edges
            (length-weighted); ``prize_share``: mean prize per patrol / the best
            route's; ``max_freq_dev``: largest relative deviation of a hotspot's
            visit frequency from its target (hotspots with a target > 0);
            ``start_sd_min``: mean over windows of the SD of start times.
        """
        prize = np.asarray(prize, dtype=float)
        pats = self.patrols
        sets = [set(p.route.stops) for p in pats]
        lanes = [_edge_lengths(p.route) for p in pats]
        js, jl, jn = [], [], []
        for a, b in combinations(range(len(pats)), 2):
            if pats[a].day == pats[b].day:
                continue
            u = sets[a] | sets[b]
            js.append(len(sets[a] & sets[b]) / len(u) if u else 1.0)
            jl.append(_weighted_jaccard(lanes[a], lanes[b]))
            if abs(pats[a].day - pats[b].day) == 1:
                jn.append(js[-1])
        best_prize = float(prize[self.best.stops].sum()) if self.best.stops else 0.0
        mean_prize = float(np.mean([prize[p.route.stops].sum() for p in pats]))
        freq = self.visits / len(pats)
        has = self.target_freq > 0
        dev = np.abs(freq[has] - self.target_freq[has]) / self.target_freq[has]
        slots = sorted({p.slot for p in pats})
        sd = [np.std([p.start_min for p in pats if p.slot == s]) for s in slots]
        return {
            "overlap_stops": float(np.mean(js)) if js else 0.0,
            "overlap_next_day": float(np.mean(jn)) if jn else 0.0,
            "overlap_lanes": float(np.mean(jl)) if jl else 0.0,
            "prize_share": mean_prize / best_prize if best_prize else 1.0,
            "max_freq_dev": float(dev.max()) if has.any() else 0.0,
            "unvisited_targets": int(((self.visits == 0) & has).sum()),
            "start_sd_min": float(np.mean(sd)),
        }


def _edge_lengths(route: BudgetRoute) -> dict[tuple[float, float, float, float], float]:
    """Walked edges keyed by their end coordinates (networks differ per route)."""
    out = {}
    net = route.network
    for e, _ in route.steps:
        a, b = net.node_xy[net.u[e]], net.node_xy[net.v[e]]
        key = tuple(np.round(np.r_[min(tuple(a), tuple(b)), max(tuple(a), tuple(b))], 1))
        out[key] = float(net.length[e])
    return out


def _weighted_jaccard(a: dict, b: dict) -> float:
    union = sum(a.values()) + sum(v for k, v in b.items() if k not in a)
    inter = sum(v for k, v in a.items() if k in b)
    return inter / union if union else 1.0


def water_filling(priority: np.ndarray, capacity: float) -> np.ndarray:
    """Coverage c_t ∈ [0, 1] with Σ c_t = capacity minimising max_t p_t · (1 − c_t).

    The minimax solution sets c_t = max(0, 1 − λ / p_t), λ found by bisection.
    """
    p = np.asarray(priority, dtype=float)
    pos = p > 0
    cap = min(float(capacity), float(pos.sum()))
    if cap <= 0:
        return np.zeros_like(p)
    lo, hi = 0.0, float(p.max())
    for _ in range(100):
        lam = (lo + hi) / 2
        c = np.where(pos, np.clip(1 - lam / np.where(pos, p, 1.0), 0, 1), 0.0)
        if c.sum() > cap:
            lo = lam
        else:
            hi = lam
    return np.where(pos, np.clip(1 - hi / np.where(pos, p, 1.0), 0, 1), 0.0)


def largest_remainder(share: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``share`` summing to ``total`` (Hamilton's method)."""
    raw = np.asarray(share, dtype=float)
    if raw.sum() <= 0:
        return np.zeros(len(raw), dtype=int)
    raw = raw * total / raw.sum()
    base = np.floor(raw).astype(int)
    rest = total - base.sum()
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return base


def week_plan(
    stops: StopNetwork,
    priority: np.ndarray,
    *,
    days: int = 7,
    windows: tuple[tuple[int, int], ...] = DEFAULT_WINDOWS,
    budget_min: float = 60.0,
    stop_min: float | np.ndarray = 12.0,
    speed_mps: float = DEFAULT_SPEED_MPS,
    target_visits: np.ndarray | None = None,
    min_prize_share: float = 0.95,
    max_overlap: float = 0.5,
    freq_tol: float = 0.1,
    max_repeat: int = 2,
    pool_size: int = 30,
    noise: float = 0.25,
    seed: int = 0,
    max_iter: int = 200,
) -> WeekPlan:
    """Plan ``days`` × ``len(windows)`` time-budget patrols with varied routes and times.

    Parameters
    ----------
    stops : StopNetwork
        Base and hotspots placed on the network (:func:`~layers.patrol.budget.place_stops`).
    priority : ndarray
        Priority of each hotspot (e.g. Gi* hotspot ``priority``).
    days : int
        Days planned.
    windows : tuple of (int, int)
        Patrol windows as minutes after midnight; one patrol per window per day.
    budget_min, stop_min, speed_mps
        As for :func:`~layers.patrol.budget.budget_route`.
    target_visits : ndarray of int, optional
        Visits each hotspot should get in the week; default: the security-game
        coverage under the prize floor (see the module docstring).
    min_prize_share : float
        Mean prize per patrol kept, as a share of the best route's.
    max_overlap : float
        Cap on the mean Jaccard overlap of the stop sets of two patrols.
    freq_tol : float
        Allowed relative deviation of a hotspot's visits from its target.
    max_repeat : int
        Times one route may be used in the week.
    pool_size : int
        Routes planned to choose from.
    noise : float
        Log-normal noise on the pool's prizes (σ is twice this).
    seed : int
    max_iter : int
        Search rounds per route.

    Returns
    -------
    WeekPlan
    """
    p = np.asarray(priority, dtype=float)
    n_routes = days * len(windows)
    if days < 1 or not windows:
        raise PatrolInputError("至少规划一天一个时段", "plan at least one day and one window")
    for a, b in windows:
        if not 0 <= a < b <= 24 * 60:
            raise PatrolInputError("巡逻时段无效", f"bad patrol window {a}–{b}")
    common = dict(budget_min=budget_min, stop_min=stop_min, speed_mps=speed_mps)
    rng = np.random.default_rng(seed)
    best = budget_route(stops, None, None, None, p, seed=seed, **common)
    want = None if target_visits is None else np.asarray(target_visits) / n_routes
    pool = [best]
    seen = {tuple(sorted(best.stops))}
    count = np.zeros(len(p))
    count[best.stops] += 1
    for k in range(pool_size * 3):
        if len(pool) >= pool_size:
            break
        # Damping what the pool already covers steers new routes elsewhere
        # (a cheap stand-in for column generation with the LP's dual prices);
        # with targets, toward the hotspots the pool visits less than wanted.
        if want is None:
            weight = 0.6 ** (count / max(1.0, len(pool) / 3))
        else:
            weight = want * np.exp(-3.0 * (count / len(pool) - want))
        prize = p * weight * np.exp(noise * 2 * rng.standard_normal(len(p)))
        route = budget_route(
            stops, None, None, None, prize, seed=seed + k + 1, max_iter=max_iter, **common
        )
        key = tuple(sorted(route.stops))
        if not route.stops or key in seen:
            continue
        seen.add(key)
        pool.append(route)
        count[route.stops] += 1
    a = np.zeros((len(pool), len(p)))
    for k, route in enumerate(pool):
        a[k, route.stops] = 1.0
    prizes = a @ p
    if target_visits is None:
        target = _ssg_target(a, prizes, p, n_routes, max_repeat, min_prize_share)
    else:
        target = np.asarray(target_visits, dtype=int)
    counts = _select(a, prizes, p, n_routes, max_repeat, min_prize_share, target, freq_tol)
    counts = _lower_overlap(a, prizes, counts, target, max_repeat, min_prize_share,
                            freq_tol, max_overlap, rng)  # fmt: skip
    chosen = [pool[k] for k in np.repeat(np.arange(len(pool)), counts)]
    order = _spread(chosen, rng)
    routes = [chosen[i] for i in order]
    patrols = []
    for s, (lo, hi) in enumerate(windows):
        strata = rng.permutation(days)
        for d in range(days):
            route = routes[d * len(windows) + s]
            # Start so the patrol ends inside the window when it can.
            latest = max(lo, hi - route.total_s / 60.0)
            width = (latest - lo) / days
            start = lo + (strata[d] + rng.random()) * width
            patrols.append(PlannedPatrol(d, s, float(start), route))
    patrols.sort(key=lambda q: (q.day, q.start_min))
    plan = WeekPlan(patrols, target, target / n_routes, best)
    m = plan.metrics(p)
    notes = []
    if m["prize_share"] < min_prize_share - 1e-9:
        notes.append(
            f"平均奖励仅为最佳路线的 {m['prize_share']:.0%}（要求 {min_prize_share:.0%}） / "
            f"mean prize is {m['prize_share']:.0%} of the best route's "
            f"(floor {min_prize_share:.0%})"
        )
    if m["max_freq_dev"] > freq_tol + 1e-9:
        notes.append(
            f"有热点的巡逻频次偏离目标 {m['max_freq_dev']:.0%}（允许 {freq_tol:.0%}） / "
            f"a hotspot's visits are {m['max_freq_dev']:.0%} off its target "
            f"(tolerance {freq_tol:.0%})"
        )
    if m["overlap_stops"] > max_overlap + 1e-9:
        notes.append(
            f"不同日路线重合度 {m['overlap_stops']:.2f} 高于 {max_overlap:.2f}：在奖励下限内"
            f"可选的路线太少 / day-to-day overlap {m['overlap_stops']:.2f} is above "
            f"{max_overlap:.2f}: too few routes keep the prize floor"
        )
    return replace(plan, shortfalls=tuple(notes))


def _ssg_target(
    a: np.ndarray,
    prizes: np.ndarray,
    p: np.ndarray,
    n_routes: int,
    max_repeat: int,
    min_prize_share: float,
) -> np.ndarray:
    """Week visits per hotspot: the security-game coverage over the pool, in whole visits.

    Linear programme over the pool's mixed strategy x (x_k ≤ max_repeat / n):
    minimise z ≥ p_t · (1 − Σ_k a_kt x_k) with the mean prize ≥ the floor. When
    the floor cannot be kept under the repeat cap, the cap is lifted, then the
    floor (the selection reports what is missed).
    """
    m, n_t = a.shape
    floor = min_prize_share * prizes[0]
    for cap, share_on in ((max_repeat / n_routes, True), (1.0, True), (1.0, False)):
        # Variables x (m), z. A tiny prize reward breaks ties toward better routes.
        cost = np.r_[-1e-6 * prizes / max(prizes.max(), 1e-9), 1.0]
        a_ub = [np.c_[-(a.T * p[:, None]), -np.ones(n_t)]]
        b_ub = [-p]
        if share_on:
            a_ub.append(np.r_[-prizes, 0.0][None, :])
            b_ub.append(np.array([-floor + 1e-9]))
        res = linprog(
            cost,
            A_ub=np.vstack(a_ub),
            b_ub=np.concatenate(b_ub),
            A_eq=np.r_[np.ones(m), 0.0][None, :],
            b_eq=[1.0],
            bounds=[(0, cap)] * m + [(None, None)],
            method="highs",
        )
        if res.status == 0:
            c = a.T @ res.x[:m]
            return largest_remainder(c, round(float(c.sum()) * n_routes))
    return (a[0] * n_routes).astype(int)


def _select(
    a: np.ndarray,
    prizes: np.ndarray,
    p: np.ndarray,
    n_routes: int,
    max_repeat: int,
    min_prize_share: float,
    target: np.ndarray,
    freq_tol: float,
) -> np.ndarray:
    """How often to use each pool route (integer program; relaxed step by step if infeasible).

    Visits stay within ``freq_tol`` of the targets (hard) and the fewest
    visits go off the targets; when that is infeasible the visits off the
    targets are only minimised, then the repeat cap, then the prize floor go.
    """
    m, n_t = a.shape
    floor = min_prize_share * n_routes * prizes[0]
    tv = np.asarray(target, dtype=float)
    slack = np.floor(freq_tol * tv + 1e-9)
    for repeat, share_on, hard in (
        (max_repeat, True, True),
        (max_repeat, True, False),
        (n_routes, True, False),
        (n_routes, False, False),
    ):
        # Variables: x (m), d (n_t) with d_t ≥ |Σ_k a_kt x_k − tv_t|.
        w = 1.0 / np.maximum(tv, 1.0)  # a visit off a small target weighs more
        cost = np.r_[-1e-6 * prizes / max(prizes.max(), 1e-9), w]
        rows = [np.c_[a.T, -np.eye(n_t)], np.c_[-a.T, -np.eye(n_t)]]
        lo = [np.full(n_t, -np.inf), np.full(n_t, -np.inf)]
        hi = [tv, -tv]
        d_hi = np.where(tv > 0, slack, np.inf) if hard else np.full(n_t, np.inf)
        integrality = np.r_[np.ones(m), np.zeros(n_t)]
        bounds = Bounds(np.zeros(m + n_t), np.r_[np.full(m, repeat), d_hi])
        nvar = m + n_t
        total = np.zeros(nvar)
        total[:m] = 1.0
        rows.append(total[None, :])
        lo.append(np.array([n_routes]))
        hi.append(np.array([n_routes]))
        if share_on:
            pr = np.zeros(nvar)
            pr[:m] = prizes
            rows.append(pr[None, :])
            lo.append(np.array([floor - 1e-6]))
            hi.append(np.array([np.inf]))
        res = milp(
            cost,
            constraints=LinearConstraint(np.vstack(rows), np.concatenate(lo), np.concatenate(hi)),
            integrality=integrality,
            bounds=bounds,
            options={"time_limit": 5.0},
        )
        if res.x is not None:
            return np.rint(res.x[:m]).astype(int)
    out = np.zeros(m, dtype=int)
    out[0] = n_routes
    return out


def _jaccard_matrix(a: np.ndarray) -> np.ndarray:
    inter = a @ a.T
    size = a.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 1.0)


def _lower_overlap(
    a: np.ndarray,
    prizes: np.ndarray,
    counts: np.ndarray,
    target: np.ndarray,
    max_repeat: int,
    min_prize_share: float,
    freq_tol: float,
    max_overlap: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Swap pool routes in and out to lower the mean pairwise overlap of the week.

    A swap is kept when it breaks nothing the selection met (prize floor,
    visits within tolerance, repeat cap) and lowers the overlap; the search
    stops once the overlap is under the cap or no swap helps.
    """
    jac = _jaccard_matrix(a)
    n = int(counts.sum())
    floor = min_prize_share * n * prizes[0] - 1e-6
    tv = np.asarray(target, dtype=float)
    slack = np.where(tv > 0, np.floor(freq_tol * tv + 1e-9), np.inf)

    def off(c: np.ndarray) -> float:
        return float(np.maximum(np.abs(c @ a - tv) - slack, 0).sum())

    def overlap(c: np.ndarray) -> float:
        # Mean over pairs of distinct patrols (a route used twice pairs with itself).
        pair = c @ jac @ c - (c * np.diag(jac)).sum()  # ordered pairs, self excluded
        return pair / (n * (n - 1)) if n > 1 else 0.0

    cur = counts.copy()
    cur_ov, cur_off = overlap(cur), off(cur)
    cur_ok = cur @ prizes >= floor
    for _ in range(200):
        if cur_ov <= max_overlap:
            break
        best = None
        for i in rng.permutation(np.flatnonzero(cur)):
            cand = cur.copy()
            cand[i] -= 1
            for j in np.flatnonzero(cand < max_repeat):
                if j == i:
                    continue
                cand[j] += 1
                ok = (cand @ prizes >= floor) or not cur_ok
                o = off(cand)
                if ok and o <= cur_off:
                    v = overlap(cand)
                    if v < cur_ov - 1e-12 and (best is None or v < best[0]):
                        best = (v, cand.copy(), o)
                cand[j] -= 1
        if best is None:
            break
        cur_ov, cur, cur_off = best
    return cur


def _spread(routes: list[BudgetRoute], rng: np.random.Generator) -> list[int]:
    """An order of the routes in which consecutive patrols share few stops."""
    n = len(routes)
    sets = [set(r.stops) for r in routes]

    def sim(i: int, j: int) -> float:
        u = sets[i] | sets[j]
        return len(sets[i] & sets[j]) / len(u) if u else 1.0

    order = list(rng.permutation(n))

    def cost(o: list[int]) -> float:
        return sum(sim(o[k], o[k + 1]) for k in range(n - 1))

    cur = cost(order)
    for _ in range(20 * n):
        i, j = sorted(rng.choice(n, size=2, replace=False)) if n > 1 else (0, 0)
        if i == j:
            break
        order[i], order[j] = order[j], order[i]
        c = cost(order)
        if c <= cur:
            cur = c
        else:
            order[i], order[j] = order[j], order[i]
    return [int(k) for k in order]
