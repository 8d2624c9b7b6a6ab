"""Solve the orienteering problem: the exact programme first, else the local search."""

from __future__ import annotations

import time

import numpy as np

from layers.patrol.orienteering.exact import _exact
from layers.patrol.orienteering.search import _Search, _two_opt
from layers.patrol.orienteering.tour import _EPS, Tour, tour_time


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
