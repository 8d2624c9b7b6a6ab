"""The week plan: its patrols, targets and proofs, and the figures the requirements read."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from layers.patrol.budget import BudgetRoute


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
