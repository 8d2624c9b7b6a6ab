"""A week of twice-daily patrols: varied routes and times, each hotspot its share of visits.

A patrol that walks the same route at the same time every day is easy to
avoid. The plan follows the Stackelberg security-game line (ARMOR, PROTECT),
with whole routes as the pure strategies.

**What is asked, read exactly** (issue 7; :meth:`WeekPlan.metrics` measures it):

* *Day-to-day overlap ≤ 0.5*: the Jaccard similarity of the stop sets of two
  patrols (the hotspots stopped at; the route between them follows from the
  stops), averaged over every pair of patrols on different days — the research
  note's "mean pairwise Jaccard between days", with two patrols a day. The
  mean over all pairs (same day included), over consecutive days and over the
  walked lanes are reported beside it.
* *≥ 95 % of the deterministic plan's prize*: the deterministic plan walks the
  best route every time, so the mean prize per patrol must be at least 95 % of
  the best route's.
* *Visit frequency within ±10 % of its target*: the target frequency is the
  security-game coverage c_t of each hotspot (below); a week has whole visits,
  so the target is 14·c_t rounded down or up (whichever lets the week be
  planned; closer first), T_t, and the visits v_t must satisfy
  |v_t − T_t| ≤ 10 % of T_t — exactly T_t below ten visits, and no visit at
  a hotspot whose target is 0.

**How.**

1. **Every feasible route.** With 10–15-minute stops a patrol makes a few
   stops, so the feasible stop sets are few (≈100 for 60 minutes, ≈10,000 for
   2 hours among 20 hotspots): :func:`~layers.patrol.orienteering.enumerate_tours`
   lists them all with their shortest tours. Only when there are too many
   (many short stops) is a pool sampled with the orienteering search instead.
2. **Targets** (unless given): the security-game coverage over all feasible
   routes — the mixed strategy minimising the largest uncovered risk
   max_t p_t·(1 − c_t) with the mean prize kept (a linear programme); among
   its optima, the one with the least Σ c_t² (spread visits lower the overlap).
3. **Selection**, an integer programme (HiGHS) over all routes: 14 routes, the
   prize floor and every hotspot's visits within tolerance are hard; it
   minimises the pairs of patrols sharing a stop (Σ v_t(v_t − 1), exact in
   whole visits) and repeated routes, which is what the overlap is made of.
4. **Overlap search**: moves that keep the prize floor and the visit ranges —
   replace one patrol's route, or recombine two patrols' stops into two other
   feasible routes (same visits, same prize) — lower the exact mean overlap.
5. **Bound.** With all routes listed, a linear relaxation bounds Σ v_t(v_t − 1)
   from below; as J = I/(|A| + |B| − I) ≥ I/(2K − I) is convex in the shared
   stops I (K: most stops of a route), Jensen's inequality turns it into a
   lower bound on the mean overlap. When that bound, or the infeasibility of
   the integer programme, shows the requirements cannot all be met, the
   shortfall says so ("proved"); otherwise a shortfall is the solver's.
6. **Order and times.** Routes are paired into days so that patrols on
   different days share few stops (a day's two patrols never have the same
   stops), neighbouring days differ, a route used twice is walked the other
   way round the second time, and start times are stratified over the days
   within each window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from itertools import combinations, pairwise

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from layers.patrol.budget import (
    DEFAULT_SPEED_MPS,
    BudgetRoute,
    StopNetwork,
    budget_route,
    route_from_stops,
)
from layers.patrol.errors import PatrolInputError
from layers.patrol.orienteering import enumerate_tours, solve_orienteering

#: Default patrol windows (minutes after midnight): morning and evening rounds.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((6 * 60, 10 * 60), (15 * 60, 20 * 60))
#: Routes (those of most prize) the selection's integer programme chooses from.
MILP_ROUTES = 1000


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
        Visits per hotspot the week should make (whole visits).
    target_freq : ndarray
        ``target_visits / len(patrols)``: share of patrols stopping at each hotspot.
    best : BudgetRoute
        The deterministic best route (the same every time, without variety).
    shortfalls : tuple of str
        Bilingual notes on the requirements the plan does not meet (prize
        floor, visit targets, overlap cap); empty when all are met.
    coverage : ndarray
        The security-game coverage the targets round (or the given targets / n).
    freq_tol : float
        Allowed relative deviation of a hotspot's visits from its target.
    overlap_bound : float
        Proved lower bound on the day-to-day overlap of any plan meeting the
        prize floor and the visit targets (NaN when the routes were sampled,
        not all listed).
    proved_infeasible : tuple of str
        Requirements shown to be unattainable together with the others
        (``"overlap"``, ``"targets"``); empty when nothing is proved.
    routes_listed : int
        Feasible routes considered (all of them when ``exhaustive``).
    exhaustive : bool
        Whether every feasible route was listed.
    """

    patrols: list[PlannedPatrol]
    target_visits: np.ndarray
    target_freq: np.ndarray
    best: BudgetRoute
    shortfalls: tuple[str, ...] = ()
    coverage: np.ndarray = field(default_factory=lambda: np.zeros(0))
    freq_tol: float = 0.1
    overlap_bound: float = float("nan")
    proved_infeasible: tuple[str, ...] = ()
    routes_listed: int = 0
    exhaustive: bool = False

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
            ``overlap_stops``: mean Jaccard similarity of the stop sets of
            patrols on different days (all such pairs: the requirement);
            ``overlap_all_pairs``: the same over all pairs of patrols;
            ``overlap_next_day``: over patrols on consecutive days only;
            ``overlap_lanes``: over walked edges (length-weighted);
            ``prize_share``: mean prize per patrol / the best route's;
            ``max_freq_dev``: largest relative deviation of a hotspot's visits
            from its target (hotspots with a target > 0);
            ``visits_at_zero_target``: visits to hotspots whose target is 0;
            ``freq_ok``: 1 when every hotspot is within tolerance (and
            zero-target hotspots unvisited); ``start_sd_min``: mean over
            windows of the SD of start times; ``overlap_bound``.
        """
        prize = np.asarray(prize, dtype=float)
        pats = self.patrols
        sets = [set(p.route.stops) for p in pats]
        lanes = [_edge_lengths(p.route) for p in pats]
        js, ja, jl, jn = [], [], [], []
        for a, b in combinations(range(len(pats)), 2):
            u = sets[a] | sets[b]
            j = len(sets[a] & sets[b]) / len(u) if u else 1.0
            ja.append(j)
            if pats[a].day == pats[b].day:
                continue
            js.append(j)
            jl.append(_weighted_jaccard(lanes[a], lanes[b]))
            if abs(pats[a].day - pats[b].day) == 1:
                jn.append(j)
        best_prize = float(prize[self.best.stops].sum()) if self.best.stops else 0.0
        mean_prize = float(np.mean([prize[p.route.stops].sum() for p in pats]))
        visits = self.visits
        tv = np.asarray(self.target_visits)
        has = tv > 0
        dev = np.abs(visits[has] - tv[has]) / tv[has]
        slack = np.floor(self.freq_tol * tv + 1e-9)
        slots = sorted({p.slot for p in pats})
        sd = [np.std([p.start_min for p in pats if p.slot == s]) for s in slots]
        return {
            "overlap_stops": float(np.mean(js)) if js else 0.0,
            "overlap_all_pairs": float(np.mean(ja)) if ja else 0.0,
            "overlap_next_day": float(np.mean(jn)) if jn else 0.0,
            "overlap_lanes": float(np.mean(jl)) if jl else 0.0,
            "prize_share": mean_prize / best_prize if best_prize else 1.0,
            "max_freq_dev": float(dev.max()) if has.any() else 0.0,
            "visits_at_zero_target": int(visits[~has].sum()),
            "freq_ok": int(bool((np.abs(visits - tv) <= slack).all())),
            "unvisited_targets": int(((visits == 0) & has).sum()),
            "start_sd_min": float(np.mean(sd)),
            "overlap_bound": float(self.overlap_bound),
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
    max_repeat: int | None = None,
    pool_size: int = 30,
    noise: float = 0.25,
    seed: int = 0,
    max_iter: int = 200,
    max_routes: int = 200_000,
    search_s: float = 1.0,
    bound_s: float = 0.5,
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
        coverage under the prize floor, in whole visits (module docstring).
    min_prize_share : float
        Mean prize per patrol kept, as a share of the best route's.
    max_overlap : float
        Cap on the mean Jaccard overlap of the stop sets of patrols on different days.
    freq_tol : float
        Allowed relative deviation of a hotspot's visits from its target.
    max_repeat : int, optional
        Times one route may be used in the week (default: no cap beyond
        what the overlap costs).
    pool_size, noise, max_iter
        Sampled pool (only when the feasible routes are too many to list):
        routes planned, log-normal prize noise, search rounds per route.
    seed : int
        Varies the search, the order of the days and the start times.
    max_routes : int
        Most feasible routes listed before falling back to a sampled pool.
    search_s : float
        CPU seconds for the overlap search.
    bound_s : float
        CPU seconds for the convex lower bound on the overlap.

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
    k = len(p)
    dist_s = np.where(np.isfinite(stops.dist_m), stops.dist_m / speed_mps, 1e12)
    service = np.r_[0.0, np.broadcast_to(np.asarray(stop_min, dtype=float) * 60.0, (k,))]
    budget_s = budget_min * 60.0
    listed = enumerate_tours(dist_s, service, budget_s, max_sets=max_routes)
    if listed is not None and len(listed.time_s):
        members = listed.members
        exhaustive = True
        prizes = members @ p
        top = int(np.lexsort((listed.time_s, -prizes))[0])
        best = _route_of(stops, np.flatnonzero(members[top]), p, dist_s, service, budget_s,
                         common, optimal=True)  # fmt: skip
    else:
        best = budget_route(stops, None, None, None, p, seed=seed, **common)
        members = _sampled_pool(stops, p, best, common, pool_size, noise, max_iter, seed, rng)
        exhaustive = False
        prizes = members @ p
    best_prize = max(best.prize, float(prizes.max()) if len(prizes) else 0.0)
    floor = min_prize_share * n_routes * best_prize
    if best_prize <= 0 or not len(members):
        empty = WeekPlan([], np.zeros(k, dtype=int), np.zeros(k), best, freq_tol=freq_tol)
        return _finish(empty, [best] * n_routes, windows, days, rng)
    # A route far below the best can only be offset by routes above the best,
    # which do not exist: with the floor kept, every route has at least
    # best · (1 − n · (1 − share)) of prize.
    useful = prizes >= best_prize * (1 - n_routes * (1 - min_prize_share)) - 1e-9
    useful |= prizes >= 0.999 * best_prize
    members, prizes = members[useful], prizes[useful]
    a = members.astype(float)
    if target_visits is None:
        coverage = _ssg_coverage(a, prizes, p, min_prize_share * best_prize)
        raw = coverage * n_routes
        low = np.floor(raw + 1e-6).astype(int)
        frac = np.clip(raw - low, 0.0, 1.0)
        ambiguous = frac > 1e-6
    else:
        low = np.asarray(target_visits, dtype=int)
        coverage = low / n_routes
        frac = np.zeros(k)
        ambiguous = np.zeros(k, dtype=bool)
    cap = n_routes if max_repeat is None else int(max_repeat)
    # The integer programme gets the routes of most prize (HiGHS needs seconds
    # for 10,000 of them); its infeasibility proves something only over all.
    pick = np.sort(np.argsort(-prizes, kind="stable")[:MILP_ROUTES])
    counts, target, status = _select(a[pick], prizes[pick], n_routes, floor, low, ambiguous,
                                     frac, freq_tol, cap)  # fmt: skip
    if status == "infeasible" and len(pick) < len(prizes):
        status = "relaxed"
    lo, hi = _ranges(target, freq_tol)
    chosen = np.repeat(pick, counts)
    bound = np.nan
    proved: list[str] = []
    if exhaustive:
        # The integer programme saw only the routes of most prize; the linear
        # relaxation below sees them all, and its infeasibility is a proof too.
        bound = _overlap_bound(a, prizes, n_routes, len(windows), floor, low, ambiguous,
                               freq_tol)  # fmt: skip
        if (status == "infeasible" and len(pick) == len(prizes)) or bound == np.inf:
            proved.append("targets")
            bound = np.nan
        else:
            # The convex bound starts from a selection meeting floor and targets.
            if status == "ok" and bound <= max_overlap:
                x0 = np.zeros(len(prizes))
                np.add.at(x0, chosen, 1.0)
                qp = _qp_bound(a, prizes, n_routes, len(windows), floor, low, ambiguous,
                               freq_tol, x0, bound_s)  # fmt: skip
                bound = max(bound, qp) if np.isfinite(qp) else bound
            if bound > max_overlap + 1e-9:
                proved.append("overlap")
    # No search can beat a proved bound: one descent then, not the whole budget.
    sets = _improve(members, prizes, chosen, lo, hi, floor, cap, 0.99 * max_overlap, rng,
                    search_s if not proved else 0.0)  # fmt: skip
    routes = []
    first: dict[tuple[int, ...], BudgetRoute] = {}
    for row in sets:
        key = tuple(np.flatnonzero(row).tolist())
        if key not in first:
            first[key] = _route_of(stops, np.array(key), p, dist_s, service, budget_s, common)
            routes.append(first[key])
        else:
            # The same stops again: walk them the other way round (same length).
            routes.append(route_from_stops(stops, first[key].stops[::-1], p, **common))
    plan = WeekPlan(
        [],
        target,
        target / n_routes,
        best,
        coverage=coverage,
        freq_tol=freq_tol,
        overlap_bound=float(bound),
        proved_infeasible=tuple(proved),
        routes_listed=len(useful),
        exhaustive=exhaustive,
    )
    plan = _finish(plan, routes, windows, days, rng)
    return replace(plan, shortfalls=_notes(plan, p, min_prize_share, max_overlap, freq_tol))


def _finish(plan, routes, windows, days, rng) -> WeekPlan:
    """Order the routes over the week and give each a start time."""
    order = _arrange(routes, len(windows), rng)
    routes = [routes[i] for i in order]
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
    return replace(plan, patrols=patrols)


def _notes(plan: WeekPlan, p, min_prize_share, max_overlap, freq_tol) -> tuple[str, ...]:
    """Bilingual shortfalls, saying when a requirement was proved unattainable."""
    m = plan.metrics(p)
    notes = []
    if m["prize_share"] < min_prize_share - 1e-9:
        notes.append(
            f"平均奖励仅为最佳路线的 {m['prize_share']:.0%}（要求 {min_prize_share:.0%}） / "
            f"mean prize is {m['prize_share']:.0%} of the best route's "
            f"(floor {min_prize_share:.0%})"
        )
    if not m["freq_ok"]:
        why_zh = why_en = ""
        if "targets" in plan.proved_infeasible:
            why_zh = "：已证明在奖励下限内无法同时达到所有目标"
            why_en = ": proved unattainable together with the prize floor"
        notes.append(
            f"有热点的巡逻次数偏离目标（允许 ±{freq_tol:.0%}）{why_zh} / "
            f"some hotspots' visits are off their targets (tolerance ±{freq_tol:.0%}){why_en}"
        )
    if m["overlap_stops"] > max_overlap + 1e-9:
        if "overlap" in plan.proved_infeasible:
            notes.append(
                f"不同日路线重合度 {m['overlap_stops']:.2f} 高于 {max_overlap:.2f}：已证明"
                f"保持奖励下限和巡逻频次目标时重合度至少为 {plan.overlap_bound:.2f} / "
                f"day-to-day overlap {m['overlap_stops']:.2f} is above {max_overlap:.2f}: "
                f"with the prize floor and visit targets kept it is proved to be at least "
                f"{plan.overlap_bound:.2f}"
            )
        else:
            notes.append(
                f"不同日路线重合度 {m['overlap_stops']:.2f} 高于 {max_overlap:.2f} / "
                f"day-to-day overlap {m['overlap_stops']:.2f} is above {max_overlap:.2f}"
            )
    return tuple(notes)


def _route_of(stops, subset, p, dist_s, service, budget_s, common, optimal=False) -> BudgetRoute:
    """The shortest tour through exactly the stops ``subset`` (0-based), as a route."""
    ind = np.zeros(len(p) + 1)
    ind[np.asarray(subset, dtype=int) + 1] = 1.0
    tour = solve_orienteering(dist_s, service, ind, budget_s)
    return route_from_stops(stops, [i - 1 for i in tour.stops], p, optimal=optimal, **common)


def _sampled_pool(stops, p, best, common, pool_size, noise, max_iter, seed, rng) -> np.ndarray:
    """Routes from the orienteering search with damped, noisy prizes (when not all are listed)."""
    rows = [best.stops]
    seen = {tuple(sorted(best.stops))}
    count = np.zeros(len(p))
    count[best.stops] += 1
    for k in range(pool_size * 3):
        if len(rows) >= pool_size:
            break
        # Damping what the pool already covers steers new routes elsewhere.
        weight = 0.6 ** (count / max(1.0, len(rows) / 3))
        prize = p * weight * np.exp(noise * 2 * rng.standard_normal(len(p)))
        route = budget_route(
            stops, None, None, None, prize, seed=seed + k + 1, max_iter=max_iter, **common
        )
        key = tuple(sorted(route.stops))
        if not route.stops or key in seen:
            continue
        seen.add(key)
        rows.append(route.stops)
        count[route.stops] += 1
    out = np.zeros((len(rows), len(p)), dtype=bool)
    for i, r in enumerate(rows):
        out[i, r] = True
    return out


def _ranges(target: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole visits allowed per hotspot: within ``tol`` of the target."""
    t = np.asarray(target, dtype=int)
    s = np.floor(tol * t + 1e-9).astype(int)
    return t - s, t + s


def _ssg_coverage(a: np.ndarray, prizes: np.ndarray, p: np.ndarray, floor: float) -> np.ndarray:
    """Security-game coverage per hotspot over the routes ``a`` (rows), mean prize ≥ ``floor``.

    Stage 1 minimises z ≥ p_t · (1 − c_t) over mixed strategies x (Σ x = 1,
    c = aᵀx); stage 2 keeps z and minimises Σ c_t² (tangent cuts), which
    spreads the coverage the first stage leaves free.
    """
    m, n_t = a.shape
    # Stage 1. Variables x (m), z.
    a_ub = [sparse.hstack([sparse.csr_matrix(-(a.T * p[:, None])), -np.ones((n_t, 1))])]
    b_ub = [-p]
    a_ub.append(sparse.csr_matrix(np.r_[-prizes, 0.0][None, :]))
    b_ub.append(np.array([-floor + 1e-9]))
    a_eq = sparse.csr_matrix(np.r_[np.ones(m), 0.0][None, :])
    res = linprog(
        np.r_[np.zeros(m), 1.0],
        A_ub=sparse.vstack(a_ub).tocsr(),
        b_ub=np.concatenate(b_ub),
        A_eq=a_eq,
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
        method="highs",
    )
    if res.status != 0:
        return a[int(np.argmax(prizes))].copy()
    z = float(res.x[-1])
    # Stage 2. Variables x (m), w (n_t) with w_t ≥ 2 q c_t − q² at q = 0, 1/20, …, 1.
    qs = np.linspace(0, 1, 21)
    rows, rhs = [], []
    at = sparse.csr_matrix(a.T)
    for q in qs:
        rows.append(sparse.hstack([2 * q * at, -sparse.identity(n_t)]))
        rhs.append(np.full(n_t, q * q))
    rows.append(
        sparse.hstack([sparse.csr_matrix(-(a.T * p[:, None])), sparse.csr_matrix((n_t, n_t))])
    )
    rhs.append(z * (1 + 1e-7) + 1e-9 - p)
    rows.append(sparse.csr_matrix(np.r_[-prizes, np.zeros(n_t)][None, :]))
    rhs.append(np.array([-floor + 1e-9]))
    res2 = linprog(
        np.r_[np.zeros(m), np.ones(n_t)],
        A_ub=sparse.vstack(rows).tocsr(),
        b_ub=np.concatenate(rhs),
        A_eq=sparse.csr_matrix(np.r_[np.ones(m), np.zeros(n_t)][None, :]),
        b_eq=[1.0],
        bounds=[(0, None)] * (m + n_t),
        method="highs",
    )
    x = res2.x[:m] if res2.status == 0 else res.x[:m]
    return np.clip(a.T @ x, 0.0, 1.0)


def _select(a, prizes, n, floor, low, ambiguous, frac, tol, cap):
    """Routes for the week by an integer programme; returns (counts, targets, status).

    Variables: x (uses per route), b (round the target up), w (≥ v(v − 1)),
    y (repeats). Hard: n routes, prize floor, visits within tolerance of the
    target (b picks ⌊14c⌋ or ⌈14c⌉). Cost: shared stops between patrols,
    repeats, the farther rounding. ``status`` is ``"ok"``, ``"infeasible"``
    (proved: no selection meets the targets and the floor; the counts then
    come from the soft stage, visits off the targets at a cost) or
    ``"relaxed"`` (no proof either way in the time).
    """
    m, n_t = a.shape
    at = sparse.csr_matrix(a.T)
    s0 = np.floor(tol * low + 1e-9)
    s1 = np.floor(tol * (low + 1) + 1e-9)
    amb = ambiguous.astype(float)
    kmax = float(a.sum(axis=1).max())
    pairs = n * (n - 1)
    proved = False
    for hard in (True, False):
        # x | b | w | y | e (visits outside the range, soft stage only)
        nvar = m + n_t + n_t + m + n_t
        ob, ow, oy, oe = m, m + n_t, m + 2 * n_t, 2 * m + 2 * n_t
        cost = np.zeros(nvar)
        cost[:m] = -0.02 * a.sum(axis=1) / n - 1e-6 * prizes / max(prizes.max(), 1e-9)
        cost[ob:ow] = 0.01 * (1 - 2 * frac) * amb
        cost[ow:oy] = 1.0 / pairs
        cost[oy:oe] = 2 * kmax / pairs
        cost[oe:] = 0.0 if hard else 1000.0
        rows, lo, hi = [], [], []

        def row(parts, lb, ub, rows=rows, lo=lo, hi=hi):
            block = sparse.hstack(parts).tocsr()
            rows.append(block)
            lo.append(np.broadcast_to(np.asarray(lb, dtype=float), block.shape[:1]))
            hi.append(np.broadcast_to(np.asarray(ub, dtype=float), block.shape[:1]))

        z = sparse.csr_matrix
        row([z(np.ones((1, m))), z((1, nvar - m))], n, n)
        row([z(prizes[None, :]), z((1, nvar - m))], floor - 1e-6, np.inf)
        # v − b (1 + s1 − s0) − e ≤ low + s0 ; v − b (1 − s1 + s0) + e ≥ low − s0
        row([at, sparse.diags(-(1 + s1 - s0) * amb), z((n_t, n_t + m)), -sparse.identity(n_t)],
            -np.inf, low + s0)  # fmt: skip
        row([at, sparse.diags(-(1 - s1 + s0) * amb), z((n_t, n_t + m)), sparse.identity(n_t)],
            low - s0, np.inf)  # fmt: skip
        for c in range(1, n):
            row([-2.0 * c * at, z((n_t, n_t)), sparse.identity(n_t), z((n_t, m + n_t))],
                -(c * c + c), np.inf)  # fmt: skip
        row([-sparse.identity(m), z((m, 2 * n_t)), sparse.identity(m), z((m, n_t))], -1, np.inf)
        ub = np.r_[np.full(m, cap), amb, np.full(n_t, np.inf), np.full(m, np.inf),
                   np.zeros(n_t) if hard else np.full(n_t, np.inf)]  # fmt: skip
        res = milp(
            cost,
            constraints=LinearConstraint(
                sparse.vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)
            ),
            integrality=np.r_[np.ones(m), np.ones(n_t), np.zeros(n_t + m + n_t)],
            bounds=Bounds(np.zeros(nvar), ub),
            options={"time_limit": 1.5, "mip_rel_gap": 0.02},
        )
        if res.x is not None:
            counts = np.rint(res.x[:m]).astype(int)
            target = low + np.rint(res.x[ob:ow]).astype(int) * ambiguous
            return counts, target, "ok" if hard else ("infeasible" if proved else "relaxed")
        if hard:
            proved = res.status == 2  # HiGHS proved infeasibility (not a time-out)
    out = np.zeros(m, dtype=int)
    out[int(np.argmax(prizes))] = n
    target = low + (frac >= 0.5) * ambiguous
    return out, target, "infeasible" if proved else "relaxed"


def _overlap_bound(a, prizes, n, per_day, floor, low, ambiguous, tol) -> float:
    """Lower bound on the mean day-to-day overlap of any plan meeting floor and targets.

    A linear relaxation over all routes gives the least Σ_t v_t(v_t − 1)
    (ordered pairs of patrols sharing a stop; secant cuts are exact at whole
    visits). Same-day pairs share at most K stops each and hotspot t at most
    min(days, ⌊v_t/2⌋) times; the rest are pairs on different days. Each pair
    has J ≥ I/(2K − I), convex in I, so the mean is at least that at the mean I.
    """
    m, n_t = a.shape
    hi_t = low + ambiguous + np.floor(tol * (low + ambiguous) + 1e-9)
    lo_t = low - np.floor(tol * low + 1e-9)
    at = sparse.csr_matrix(a.T)
    z = sparse.csr_matrix
    rows = [z(np.r_[-prizes, np.zeros(n_t)][None, :])]
    rhs = [np.array([-floor + 1e-6])]
    rows += [sparse.hstack([at, z((n_t, n_t))]), sparse.hstack([-at, z((n_t, n_t))])]
    rhs += [hi_t.astype(float), -lo_t.astype(float)]
    for c in range(1, n):
        rows.append(sparse.hstack([2.0 * c * at, -sparse.identity(n_t)]))
        rhs.append(np.full(n_t, float(c * c + c)))
    res = linprog(
        np.r_[np.zeros(m), np.ones(n_t)],
        A_ub=sparse.vstack(rows).tocsr(),
        b_ub=np.concatenate(rhs),
        A_eq=z(np.r_[np.ones(m), np.zeros(n_t)][None, :]),
        b_eq=[float(n)],
        bounds=[(0, None)] * (m + n_t),
        method="highs",
    )
    if res.status == 2:
        return np.inf  # not even the relaxation meets floor and targets
    if res.status != 0:
        return float("nan")
    days = n // per_day
    kmax = float(a.sum(axis=1).max())
    same = days * kmax * per_day * (per_day - 1)
    if per_day == 2:
        same = min(same, 2 * float(np.minimum(days, np.floor(hi_t / 2)).sum()))
    shared = max(float(res.fun) - same, 0.0) / (n * (n - per_day))
    # Rounded down a hair so solver tolerance never overstates the bound.
    return max(shared / (2 * kmax - shared) - 1e-6, 0.0) if shared < 2 * kmax else 1.0


def _qp_bound(a, prizes, n, per_day, floor, low, ambiguous, tol, x0, time_s) -> float:
    """Lower bound on the mean day-to-day overlap from the exact pairwise model, relaxed.

    Over all routes, Σ over ordered pairs of distinct patrols of J = xᵀJx − Σx
    for the counts x. The Jaccard matrix J is positive semidefinite (the
    Tanimoto kernel; Bouchard et al. 2013), so with x relaxed to reals this is
    a convex programme, and every Frank–Wolfe step gives a valid lower bound
    f(x) + ∇f(x)ᵀ(s − x), s the linear minimiser over the constraints (prize
    floor, visit ranges, n patrols). The same-day pairs (at most one each)
    are then taken off. Runs for ``time_s`` CPU seconds.
    """
    m = len(a)
    hi_t = low + ambiguous + np.floor(tol * (low + ambiguous) + 1e-9)
    lo_t = low - np.floor(tol * low + 1e-9)
    big = np.where(a > 0, hi_t[None, :], np.inf).min(axis=1)
    at = sparse.csr_matrix(a.T)
    a_ub = sparse.vstack([sparse.csr_matrix(-prizes[None, :]), at, -at]).tocsr()
    b_ub = np.r_[-floor + 1e-6, hi_t, -lo_t].astype(float)
    sizes = a.sum(axis=1)
    cols: dict[int, np.ndarray] = {}

    def jcol(idx: np.ndarray) -> np.ndarray:
        miss = [int(i) for i in idx if int(i) not in cols]
        if miss:
            inter = a @ a[miss].T
            union = sizes[:, None] + sizes[miss][None, :] - inter
            block = inter / np.maximum(union, 1e-9)
            for k, i in enumerate(miss):
                cols[i] = block[:, k]
        return np.column_stack([cols[int(i)] for i in idx])

    x = np.asarray(x0, dtype=float)
    supp = np.flatnonzero(x)
    jx = jcol(supp) @ x[supp]
    best = -np.inf
    start = time.thread_time()
    while time.thread_time() - start < time_s:
        g = 2 * jx - 1
        res = linprog(g, A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, m)), b_eq=[float(n)],
                      bounds=np.column_stack([np.zeros(m), big]), method="highs")  # fmt: skip
        if res.status != 0:
            break
        fx = float(x @ jx - x.sum())
        best = max(best, fx + float(g @ (res.x - x)))
        d = res.x - x
        ds = np.flatnonzero(np.abs(d) > 1e-12)
        if not len(ds):
            break
        jd = jcol(ds) @ d[ds]
        curv = float(d @ jd)
        slope = float(g @ d)
        if slope > -1e-9 or curv <= 0:
            break
        step = min(1.0, -slope / (2 * curv))
        x += step * d
        jx += step * jd
    if not np.isfinite(best):
        return float("nan")
    days = n // per_day
    same = days * per_day * (per_day - 1) / 2
    cross = n * (n - per_day) / 2
    return max((best / 2 - same) / cross - 1e-6, 0.0)


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


def _arrange(routes: list[BudgetRoute], per_day: int, rng: np.random.Generator) -> list[int]:
    """An order of the routes (day by day, window by window) for a varied week.

    Day-to-day overlap counts pairs of patrols on different days, so the
    routes are paired into days to keep it low (the two patrols of a day may
    share stops, never all of them); then neighbouring days share few stops.
    """
    n = len(routes)
    sets = [frozenset(r.stops) for r in routes]
    jac = np.ones((n, n))
    for i, j in combinations(range(n), 2):
        u = sets[i] | sets[j]
        jac[i, j] = jac[j, i] = len(sets[i] & sets[j]) / len(u) if u else 1.0
    same = np.array([[sets[i] == sets[j] and i != j for j in range(n)] for i in range(n)])

    def cost(o: list[int]) -> float:
        days = [o[d : d + per_day] for d in range(0, n, per_day)]
        within = sum(jac[i, j] for day in days for i, j in combinations(day, 2))
        twins = sum(same[i, j] for day in days for i, j in combinations(day, 2))
        nxt = sum(jac[i, j] for d1, d2 in pairwise(days) for i in d1 for j in d2)
        return -within + 100.0 * twins + 0.05 * nxt

    order = [int(k) for k in rng.permutation(n)]
    cur = cost(order)
    for _ in range(40 * n if n > 1 else 0):
        i, j = rng.choice(n, size=2, replace=False)
        order[i], order[j] = order[j], order[i]
        c = cost(order)
        if c <= cur:
            cur = c
        else:
            order[i], order[j] = order[j], order[i]
    return order
