"""The week plan's assembly: routes, targets, selection, search, bounds, order and times.

:func:`week_plan` runs the steps described in :mod:`layers.patrol.weekplan`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from layers.patrol.budget import (
    DEFAULT_SPEED_MPS,
    BudgetRoute,
    StopNetwork,
    budget_route,
    route_from_stops,
)
from layers.patrol.errors import PatrolInputError
from layers.patrol.orienteering import enumerate_tours
from layers.patrol.weekplan.bounds import _overlap_bound, _qp_bound
from layers.patrol.weekplan.columns import _price
from layers.patrol.weekplan.exchange import _exchange
from layers.patrol.weekplan.plan import WeekPlan
from layers.patrol.weekplan.routes import _local_pool, _route_of, _sampled_pool
from layers.patrol.weekplan.schedule import _arrange, _finish
from layers.patrol.weekplan.search import _improve
from layers.patrol.weekplan.selection import _select
from layers.patrol.weekplan.shortfalls import _notes
from layers.patrol.weekplan.targets import _ranges, _ssg_coverage

#: Default patrol windows (minutes after midnight): morning and evening rounds.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((6 * 60, 10 * 60), (15 * 60, 20 * 60))
#: Routes (those of most prize) the selection's integer programme chooses from.
MILP_ROUTES = 1000
#: Routes of most prize through each hotspot added to the integer programme's.
MILP_PER_STOP = 10
#: Sets of at least this share of the best route's prize are expanded by the local pool.
POOL_HIGH = 0.9


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
    pool_size: int = 3,
    noise: float = 0.25,
    pool_sets: int = 3000,
    pool_cpu_s: float = 2.0,
    price_rounds: int = 20,
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
        coverage under the prize floor, in whole visits (:mod:`layers.patrol.weekplan`).
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
        routes planned by the orienteering search (the best one and noisy
        re-solves), log-normal prize noise, search rounds per route.
    pool_sets, pool_cpu_s
        The sampled routes are grown by local moves on their stop order
        (:func:`~layers.patrol.weekplan.routes._local_pool`) into at most
        ``pool_sets`` stop sets within the budget; ``pool_cpu_s`` CPU seconds
        is a safety stop (a few thousand sets take a fraction of it, and the
        pool, hence the plan, is the same for a seed while it is not reached).
    price_rounds : int
        Rounds of column generation on the sampled pool
        (:func:`~layers.patrol.weekplan.columns._price`).
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
    known: dict[tuple[int, ...], list[int]] = {}
    if listed is not None and len(listed.time_s):
        members = listed.members
        exhaustive = True
        prizes = members @ p
        top = int(np.lexsort((listed.time_s, -prizes))[0])
        best = _route_of(stops, np.flatnonzero(members[top]), p, dist_s, service, budget_s,
                         common, optimal=True)  # fmt: skip
    else:
        best = budget_route(stops, None, None, None, p, seed=seed, **common)
        noisy = _sampled_pool(stops, p, best, common, pool_size, noise, max_iter, seed, rng)
        # Noisy re-solves alone give a few similar routes; local moves on their
        # orders grow them into thousands of sets, each within the budget.
        # Kept: the useful band below; expanded: sets near the best.
        keep = best.prize * (1 - n_routes * (1 - min_prize_share))
        high = POOL_HIGH * best.prize
        members, orders = _local_pool(dist_s, service, budget_s, p, noisy, keep, high, rng,
                                      pool_sets, pool_cpu_s)  # fmt: skip
        exhaustive = False
        prizes = members @ p
        known = {tuple(sorted(order)): order for order in orders}
        if len(prizes) and prizes.max() > best.prize + 1e-9:
            # A local move beat the search: the deterministic plan walks that set.
            top = int(np.argmax(prizes))
            best = _route_of(stops, np.flatnonzero(members[top]), p, dist_s, service, budget_s,
                             common, order=orders[top])  # fmt: skip
    best_prize = max(best.prize, float(prizes.max()) if len(prizes) else 0.0)
    floor = min_prize_share * n_routes * best_prize
    if best_prize <= 0 or not len(members):
        empty = WeekPlan([], np.zeros(k, dtype=int), np.zeros(k), best, freq_tol=freq_tol)
        return _finish(empty, [best] * n_routes, windows, days, rng)
    # A route far below the best can only be offset by routes above the best,
    # which do not exist: with the floor kept, every route has at least
    # best · (1 − n · (1 − share)) of prize.
    least = best_prize * (1 - n_routes * (1 - min_prize_share))
    useful = prizes >= least - 1e-9
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
    rank = np.argsort(-prizes, kind="stable")
    if exhaustive:
        # The integer programme gets the routes of most prize (HiGHS needs
        # seconds for 10,000 of them); its infeasibility proves something only over all.
        pick = rank[:MILP_ROUTES]
    else:
        # Column generation prices in the routes that spread the visits; the
        # integer programme chooses among those the relaxation uses and the new ones.
        lo_t = _ranges(low, freq_tol)[0]
        hi_t = _ranges(low + ambiguous, freq_tol)[1]
        m0 = len(members)
        members, prizes, new, support = _price(members, prizes, dist_s, service, budget_s, p,
                                               n_routes, len(windows), floor, lo_t, hi_t,
                                               max_overlap, price_rounds, seed)  # fmt: skip
        known.update({tuple(sorted(order)): order for order in new})
        a = members.astype(float)
        rank = np.argsort(-prizes, kind="stable")
        pick = np.r_[support, np.arange(m0, len(members))]
    # The targets come from all routes: the best few through each hotspot
    # with a target join in, or a hotspot the top routes miss cannot get its visits.
    extra = [rank[a[rank, t] > 0][:MILP_PER_STOP] for t in np.flatnonzero(low + ambiguous > 0)]
    pick = np.unique(np.concatenate([pick, *extra]).astype(int))
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
    copies: dict[tuple[int, ...], int] = {}
    for row in sets:
        key = tuple(np.flatnonzero(row).tolist())
        copies[key] = copies.get(key, 0) + 1
        if key not in first:
            first[key] = _route_of(stops, np.array(key), p, dist_s, service, budget_s, common,
                                   order=known.get(key))  # fmt: skip
            routes.append(first[key])
        elif copies[key] % 2 == 0:
            # The same stops again: every other copy walks them the other way round
            # (same length), so that two copies can make one day's varied pair.
            routes.append(route_from_stops(stops, first[key].stops[::-1], p, **common))
        else:
            routes.append(first[key])
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
    routes = [routes[i] for i in _arrange(routes, len(windows), rng)]
    # Stops moved between the routes now that the days are known (step 7).
    moved = _exchange([list(r.stops) for r in routes], len(windows), dist_s, service, budget_s,
                      p, least, search_s)  # fmt: skip
    routes = [r if list(r.stops) == o else route_from_stops(stops, o, p, **common)
              for r, o in zip(routes, moved, strict=True)]  # fmt: skip
    plan = _finish(plan, routes, windows, days, rng)
    return replace(plan, shortfalls=_notes(plan, p, min_prize_share, max_overlap, freq_tol))
