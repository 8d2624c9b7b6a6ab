"""Time-budget patrol routes: visit the hotspots that matter most, with a stop at each.

The hotspots (e.g. the peaks of :func:`layers.hotspots.gistar.hotspot_clusters`)
are placed on the lane network, walking times between them come from the
network, and :func:`~layers.patrol.orienteering.solve_orienteering` picks the
stops and their order. Stops last 10–15 minutes (Koper 1995: deterrence peaks
there), 12 by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import shapely

from layers.patrol.errors import PatrolInputError
from layers.patrol.network import LaneNetwork
from layers.patrol.orienteering import solve_orienteering

#: Walking speed of the senior volunteers (m/s), from the research note.
DEFAULT_SPEED_MPS = 1.0


@dataclass(frozen=True)
class StopNetwork:
    """Candidate stops placed on the network, with network distances between them.

    ``dist_m[0]`` is the base; ``dist_m[i]`` (i ≥ 1) is candidate ``i − 1``.
    """

    network: LaneNetwork
    nodes: np.ndarray
    offset_m: np.ndarray
    dist_m: np.ndarray
    pred: np.ndarray

    def leg(self, a: int, b: int) -> list[tuple[int, bool]]:
        """(edge, forward) steps of the shortest walk between matrix indices a and b."""
        path = self.network.path_nodes(self.pred[a], int(self.nodes[a]), int(self.nodes[b]))
        return self.network.nodes_to_edges(path)


def place_stops(
    network: LaneNetwork, base: tuple[float, float], x: np.ndarray, y: np.ndarray
) -> StopNetwork:
    """Put the base and the candidate stops on the network and measure between them.

    Parameters
    ----------
    network : LaneNetwork
    base : (float, float)
        Base point in the network's CRS.
    x, y : ndarray
        Candidate stops.

    Returns
    -------
    StopNetwork
    """
    px = np.r_[base[0], np.asarray(x, dtype=float)]
    py = np.r_[base[1], np.asarray(y, dtype=float)]
    net, nodes, offset = network.insert_points(px, py)
    dist, pred = net.shortest_paths(nodes, predecessors=True)
    return StopNetwork(net, nodes, offset, dist[:, nodes], pred)


@dataclass(frozen=True)
class BudgetRoute:
    """A time-budget route: base → stops → base.

    Attributes
    ----------
    stops : list of int
        Candidate indices (0-based, as given) in visiting order.
    arrive_s, leave_s : ndarray
        Seconds after the start at which each stop is reached and left.
    total_s : float
        Walking plus stopping time.
    walk_m : float
        Distance walked.
    prize : float
        Sum of the visited stops' prizes.
    budget_s : float
    steps : list of (int, bool)
        Edges walked (in ``network``), with direction.
    network : LaneNetwork
        The network with the base and stops inserted.
    unreachable : list of int
        Candidates not connected to the base's part of the network.
    optimal : bool
        True when no route within the budget collects more prize (proved by the
        exact programme of :func:`~layers.patrol.orienteering.solve_orienteering`).
    """

    stops: list[int]
    arrive_s: np.ndarray
    leave_s: np.ndarray
    total_s: float
    walk_m: float
    prize: float
    budget_s: float
    steps: list[tuple[int, bool]]
    network: LaneNetwork
    unreachable: list[int]
    optimal: bool = False

    @property
    def geometry(self) -> shapely.LineString:
        """The walked line."""
        return self.network.walk_geometry(self.steps)

    @property
    def message(self) -> str | None:
        """Bilingual note when some hotspots cannot be reached from the base."""
        if not self.unreachable:
            return None
        n = len(self.unreachable)
        return (
            f"有 {n} 个热点与起点不在同一街巷网络上，无法到达 / "
            f"{n} hotspot(s) are not connected to the base by lanes and cannot be reached"
        )


def budget_route(
    network: LaneNetwork | StopNetwork,
    base: tuple[float, float] | None,
    x: np.ndarray | None,
    y: np.ndarray | None,
    prize: np.ndarray,
    *,
    budget_min: float = 60.0,
    stop_min: float | np.ndarray = 12.0,
    speed_mps: float = DEFAULT_SPEED_MPS,
    seed: int = 0,
    max_iter: int = 400,
    time_limit_s: float = 0.8,
    exact_states: int = 20_000,
) -> BudgetRoute:
    """The route with the most prize within the time budget, stops included.

    Parameters
    ----------
    network : LaneNetwork or StopNetwork
        The lanes, or stops already placed by :func:`place_stops` (then ``base``,
        ``x`` and ``y`` are ignored; reuse it to plan many routes cheaply).
    base : (float, float)
        Start and end point in the network's CRS.
    x, y : ndarray
        Candidate stops (hotspot peaks) in the network's CRS.
    prize : ndarray
        Priority of each candidate (e.g. hotspot ``priority`` or Gi* z).
    budget_min : float
        Time budget in minutes, walking and stops.
    stop_min : float or ndarray
        Minutes spent at each stop (10–15 for a hotspot).
    speed_mps : float
        Walking speed.
    seed, max_iter, time_limit_s, exact_states
        Search controls (see :func:`~layers.patrol.orienteering.solve_orienteering`).

    Returns
    -------
    BudgetRoute

    Raises
    ------
    PatrolInputError
        On a non-positive budget or speed, or mismatched inputs.
    """
    if not budget_min > 0 or not speed_mps > 0:
        raise PatrolInputError("时间预算和步行速度须为正数", "budget and speed must be positive")
    sn = network if isinstance(network, StopNetwork) else place_stops(network, base, x, y)
    k = len(sn.nodes) - 1
    prize = np.asarray(prize, dtype=float)
    if len(prize) != k:
        raise PatrolInputError("热点数与权重数不一致", "hotspots and prizes differ in number")
    stop_s = np.broadcast_to(np.asarray(stop_min, dtype=float) * 60.0, (k,))
    dist_s = sn.dist_m / speed_mps
    finite = np.where(np.isfinite(dist_s), dist_s, 1e12)
    p = np.r_[0.0, np.where(np.isfinite(sn.dist_m[0, 1:]), prize, 0.0)]
    tour = solve_orienteering(
        finite,
        np.r_[0.0, stop_s],
        p,
        budget_min * 60.0,
        seed=seed,
        max_iter=max_iter,
        time_limit_s=time_limit_s,
        exact_states=exact_states,
    )
    return route_from_stops(
        sn, [i - 1 for i in tour.stops], prize, budget_min=budget_min, stop_min=stop_min,
        speed_mps=speed_mps, optimal=tour.optimal,
    )  # fmt: skip


def route_from_stops(
    sn: StopNetwork,
    stops: list[int],
    prize: np.ndarray,
    *,
    budget_min: float = 60.0,
    stop_min: float | np.ndarray = 12.0,
    speed_mps: float = DEFAULT_SPEED_MPS,
    optimal: bool = False,
) -> BudgetRoute:
    """The :class:`BudgetRoute` that visits ``stops`` (0-based candidates) in the given order.

    Parameters
    ----------
    sn : StopNetwork
    stops : list of int
        Candidates in visiting order.
    prize : ndarray
        Priority of each candidate.
    budget_min, stop_min, speed_mps
        As for :func:`budget_route` (the budget is recorded, not checked).
    optimal : bool
        Whether the stops are a proved optimum.

    Returns
    -------
    BudgetRoute
    """
    k = len(sn.nodes) - 1
    prize = np.asarray(prize, dtype=float)
    stop_s = np.broadcast_to(np.asarray(stop_min, dtype=float) * 60.0, (k,))
    dist_s = sn.dist_m / speed_mps
    unreachable = np.flatnonzero(~np.isfinite(sn.dist_m[0, 1:]))
    seq = [0, *(int(s) + 1 for s in stops), 0]
    steps: list[tuple[int, bool]] = []
    arrive, leave = [], []
    t = 0.0
    for a, b in pairwise(seq):
        steps.extend(sn.leg(a, b))
        t += dist_s[a, b]
        if b:
            arrive.append(t)
            t += stop_s[b - 1]
            leave.append(t)
    walk = float(sum(sn.dist_m[a, b] for a, b in pairwise(seq)))
    return BudgetRoute(
        stops=[int(s) for s in stops],
        arrive_s=np.asarray(arrive),
        leave_s=np.asarray(leave),
        total_s=float(t),
        walk_m=walk,
        prize=float(prize[list(stops)].sum()) if len(stops) else 0.0,
        budget_s=budget_min * 60.0,
        steps=steps,
        network=sn.network,
        unreachable=unreachable.tolist(),
        optimal=optimal,
    )
